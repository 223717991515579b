// The one retry loop: run `work` again, up to `attempts` times in all, while the error it
// throws is one that `retryable` says a fresh attempt can cure (a deadlock victim).
export async function retry<T>(attempts: number, retryable: (err: unknown) => boolean, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= attempts || !retryable(err)) throw err;
    }
  }
}
