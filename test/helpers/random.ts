// The tests' one random generator: seeded, so a run's cases are the same in every run and a
// failure can be replayed. (A linear congruential generator: plenty for generating input.)
export function seeded(seed: number) {
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const int = (n: number) => Math.floor(next() * n);
  return {
    /** A number in [0, 1]. */
    next,
    /** A whole number in [0, n). */
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)],
    /** Up to `max` characters drawn from `alphabet`. */
    text: (alphabet: string, max: number) => Array.from({ length: int(max) }, () => alphabet[int(alphabet.length)]).join(''),
  };
}
