// A MySQL server named by a host name that the system's resolver would find in /etc/hosts
// (`localhost`, as most MySQL URLs name it), found there directly. Asking the resolver
// through Node costs a CGI run ~20 ms: getaddrinfo runs on Node's thread pool (its threads
// started, the system's resolver libraries loaded), and then node:net connects, since
// Node's stream handles take only an address (lib/store/wire-socket.ts). Reading two small
// files costs a run ~0.3 ms (cgi-ab: `connect` 4.8 ms against 4.5 for 127.0.0.1). Only
// where the answer is the same: glibc consults the sources of nsswitch.conf's `hosts:` line
// in order and stops at the first that knows the name, so the file is read only when
// `files` comes first; a name it does not list, or a system that asks DNS first, goes to
// the resolver as before.
import { readFileSync } from 'node:fs';

export interface HostsFiles {
  nsswitch: string;
  hosts: string;
}

export const SYSTEM_HOSTS_FILES: HostsFiles = { nsswitch: '/etc/nsswitch.conf', hosts: '/etc/hosts' };

/** A dotted IPv4 address, as Node's TCP handle takes it (wire-socket.ts and mysql-servers.ts use it too). */
export const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-f:.]+$/i;

/**
 * The addresses the hosts file gives `name` (the canonical name or an alias, any case), in
 * the file's order, when the system reads that file first; else null: ask the resolver. An
 * unreadable file, a name it does not list and a zoned IPv6 address (fe80::1%eth0) all give null.
 */
export function hostsFileAddresses(name: string, files: HostsFiles = SYSTEM_HOSTS_FILES): string[] | null {
  const nsswitch = readText(files.nsswitch);
  // Without nsswitch.conf glibc asks DNS first.
  if (nsswitch === null || firstHostsSource(nsswitch) !== 'files') return null;
  const hosts = readText(files.hosts);
  if (hosts === null) return null;
  const wanted = name.toLowerCase();
  const addresses: string[] = [];
  for (const line of hosts.toLowerCase().split('\n')) {
    if (!line.includes(wanted)) continue;
    const hash = line.indexOf('#');
    const fields = (hash < 0 ? line : line.slice(0, hash)).trim().split(/\s+/);
    if (!fields.includes(wanted, 1)) continue;
    const address = fields[0];
    // A zone or anything else the handle cannot take: leave the whole name to the resolver.
    if (!IPV4.test(address) && !(address.includes(':') && IPV6.test(address))) return null;
    if (!addresses.includes(address)) addresses.push(address);
  }
  return addresses.length > 0 ? addresses : null;
}

/** The first source on nsswitch.conf's `hosts:` line (its [STATUS=action] items skipped). */
function firstHostsSource(nsswitch: string): string | null {
  const line = /^[ \t]*hosts[ \t]*:([^\n#]*)/m.exec(nsswitch);
  return line?.[1].split(/\s+/).find((word) => word !== '' && !word.startsWith('[')) ?? null;
}

// utf8, not latin1: a CGI run has read its bundles as utf8 already, and latin1's first use
// compiles a path of its own (~0.5M instructions). The files' names and addresses are ASCII.
function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
