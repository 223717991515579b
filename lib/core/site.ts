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
  const domain = getDomain(host, TLD_OPTIONS);
  if (!domain) return { reason: 'no registrable domain' };
  return { domain };
}
