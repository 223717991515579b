// application/x-www-form-urlencoded decoding that never throws: a client may send any
// bytes, and a broken %-escape or invalid UTF-8 must still produce a value we can echo.

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Decodes one component: '+' is a space, %XX a byte, a broken escape stays literal. */
function decodeComponent(bytes: Uint8Array, start: number, end: number): string {
  const out = new Uint8Array(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b === 0x2b) {
      out[n++] = 0x20;
    } else if (b === 0x25 && i + 2 < end) {
      const hi = hexValue(bytes[i + 1]);
      const lo = hexValue(bytes[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out[n++] = hi * 16 + lo;
        i += 2;
      } else {
        out[n++] = b;
      }
    } else {
      out[n++] = b;
    }
  }
  return utf8.decode(out.subarray(0, n));
}

/** Splits a query string or form body into [name, value] pairs in order. */
export function parseForm(input: string | Uint8Array): Array<[string, string]> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const pairs: Array<[string, string]> = [];
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x26, start);
    if (end < 0) end = bytes.length;
    if (end > start) {
      let eq = bytes.indexOf(0x3d, start);
      if (eq < 0 || eq > end) eq = end;
      pairs.push([decodeComponent(bytes, start, eq), eq < end ? decodeComponent(bytes, eq + 1, end) : '']);
    }
    start = end + 1;
  }
  return pairs;
}
