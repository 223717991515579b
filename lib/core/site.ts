// Which site a URL names: the key ratings are stored under (CONTRACT §3).
// WHATWG URL does the hard parts (IDN to punycode, IPv4 forms like 0x7f.1, IPv6
// compression); tldts holds the public-suffix list, private suffixes included.
import { getDomain } from 'tldts';

export type SiteKey = { domain: string } | { reason: string };

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
// "example.com:8080/x" has the shape of a scheme but is a bare host with a port.
const HOST_WITH_PORT = /^[a-zA-Z0-9.-]+:\d+(?:[/?#]|$)/;
const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const MAX_HOST = 253;
const TLD_OPTIONS = { allowPrivateDomains: true, extractHostname: false, detectIp: false } as const;

/** The absolute URL a value names: a bare host gets http:// in front. */
function absolute(value: string): string {
  if (value.startsWith('//')) return 'http:' + value;
  if (SCHEME.test(value) && !HOST_WITH_PORT.test(value)) return value;
  return 'http://' + value;
}

function validHostName(host: string): boolean {
  if (host.length > MAX_HOST) return false;
  for (const label of host.split('.')) {
    if (!LABEL.test(label)) return false;
  }
  return true;
}

export function siteKey(value: string): SiteKey {
  const text = value.trim();
  if (text === '') return { reason: 'empty url' };
  const host = plainHost(text);
  return host === null ? siteKeyByUrl(text) : registrable(host);
}

/** The key of a trimmed, non-empty value by way of WHATWG URL: every value plainHost() leaves. */
export function siteKeyByUrl(text: string): SiteKey {
  const target = absolute(text);
  const scheme = SCHEME.exec(target)![1].toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return { reason: 'scheme not rated' };

  let host: string;
  try {
    host = new URL(target).hostname;
  } catch {
    return { reason: 'not a valid url' };
  }
  if (host.startsWith('[')) return { domain: host };
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') return { reason: 'no host' };
  if (IPV4.test(host)) return { domain: host };
  if (!validHostName(host)) return { reason: 'not a valid host name' };
  return registrable(host);
}

function registrable(host: string): SiteKey {
  const domain = getDomain(host, TLD_OPTIONS);
  if (!domain) return { reason: 'no registrable domain' };
  return { domain };
}

/**
 * The host name of a value whose host is plain (http:// or https:// or nothing before it;
 * labels of ASCII letters, digits and inner hyphens; the last one not a number; an optional
 * port; then the end, /, ? or #), lower-cased, its trailing dot dropped: what WHATWG URL and
 * validHostName() make of it, read in one pass (the way there costs ~3 µs a URL, and a
 * request carries several). Anything else is null and goes that way:
 * test/unit/site.ts holds the two to the same answer.
 */
function plainHost(text: string): string | null {
  const head = text.slice(0, 8).toLowerCase();
  const start = head.startsWith('http://') ? 7 : head === 'https://' ? 8 : 0;
  let label = start; // where the label being read starts
  let lastLabel = start; // where the last complete label started
  let i = start;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || (c >= 0x41 && c <= 0x5a)) continue;
    if (c !== 0x2e) break; // not a dot: the host ends here
    if (!plainLabel(text, label, i)) return null;
    lastLabel = label;
    label = i + 1;
  }
  const end = i;
  if (i < text.length && text.charCodeAt(i) === 0x3a) {
    let port = 0;
    for (i++; i < text.length && i - end <= 5; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      port = port * 10 + c - 0x30;
    }
    if (i === end + 1 || port > 65535) return null;
  }
  if (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x2f && c !== 0x3f && c !== 0x23) return null;
  }
  let hostEnd = end;
  if (label === end) {
    if (label === start) return null; // no host
    hostEnd = end - 1; // a trailing dot
    label = lastLabel;
  } else if (!plainLabel(text, label, end)) {
    return null;
  }
  if (hostEnd - start > MAX_HOST || endsInNumber(text, label, hostEnd)) return null;
  return text.slice(start, hostEnd).toLowerCase();
}

/** text[from, to) is a label validHostName() takes and WHATWG URL leaves as it is (no xn-- to decode). */
function plainLabel(text: string, from: number, to: number): boolean {
  return (
    to > from &&
    to - from <= 63 &&
    text.charCodeAt(from) !== 0x2d &&
    text.charCodeAt(to - 1) !== 0x2d &&
    !(to - from >= 4 && text.slice(from, from + 4).toLowerCase() === 'xn--')
  );
}

/** A last label WHATWG URL reads as an IPv4 number: decimal digits, or 0x and hex digits. */
function endsInNumber(text: string, from: number, to: number): boolean {
  const hex = to - from >= 2 && text.charCodeAt(from) === 0x30 && (text.charCodeAt(from + 1) | 0x20) === 0x78;
  for (let i = hex ? from + 2 : from; i < to; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 0x30 && c <= 0x39;
    if (!digit && !(hex && (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66)) return false;
  }
  return true;
}
