// A module that loads on first use. The MySQL bundle gets this way what mysql2 requires
// when it loads but a look-up over plain TCP in utf8mb4 rarely or never uses: Node's
// `tls` and `zlib` (TLS, the compressed protocol), `crypto` (password authentication),
// `long` (BIGINT columns) and mysql2's table of error names (an error from the server).
// Loading them costs a CGI run ~25 ms; most runs then never touch them.
export function lazyModule<T extends object>(load: () => T): T {
  let real: T | undefined;
  const target = () => (real ??= load());
  // A function as the proxy's target, so that a module that is a class (long) can be called with `new`.
  return new Proxy(function () {} as unknown as T, {
    get: (_, key) => Reflect.get(target(), key),
    has: (_, key) => key in target(),
    construct: (_, args) => Reflect.construct(target() as unknown as new (...a: unknown[]) => object, args),
    apply: (_, self, args) => Reflect.apply(target() as unknown as (...a: unknown[]) => unknown, self, args),
  });
}
