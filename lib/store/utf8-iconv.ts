// iconv-lite as a MySQL connection in utf8mb4 needs it, without its 480 KB of code pages.
// mysql2 decodes with iconv-lite only what Buffer cannot: in the handshake, the server's
// version string as CESU-8, which for anything a MySQL server sends there (and for every
// utf8mb3 value) is the same bytes as UTF-8. Any other encoding (a latin1 column, say) is
// handed to the real iconv-lite, loaded from node_modules the first time it is needed.
import { StringDecoder } from 'node:string_decoder';
import { createRequire } from 'node:module';

interface Codec {
  write(input: Buffer | string): string | Buffer;
  end(): string | Buffer | undefined;
}
type Iconv = { getDecoder(encoding: string, options?: object): Codec; getEncoder(encoding: string, options?: object): Codec };

let real: Iconv | undefined;
const iconv = (): Iconv => (real ??= createRequire(import.meta.filename)('iconv-lite') as Iconv);
const isUtf8 = (encoding: string) => /^(cesu-?8|utf-?8)$/i.test(encoding);

export function getDecoder(encoding: string, options?: object): Codec {
  if (!isUtf8(encoding)) return iconv().getDecoder(encoding, options);
  const decoder = new StringDecoder('utf8');
  return { write: (input) => decoder.write(input as Buffer), end: () => decoder.end() || undefined };
}

export function getEncoder(encoding: string, options?: object): Codec {
  if (!isUtf8(encoding)) return iconv().getEncoder(encoding, options);
  return { write: (input) => Buffer.from(input as string, 'utf8'), end: () => undefined };
}
