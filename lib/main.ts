// Which life this run lives: FastCGI when fd 0 is a listening socket, CGI when a web
// server set GATEWAY_INTERFACE (argv then holds ISINDEX words, never options) or when no
// arguments were given, the command line otherwise. Only the chosen path is loaded.
import { readFileSync, readlinkSync } from 'node:fs';

/**
 * True when fd 0 is a listening socket (mod_fcgid, mod_fastcgi). A connected socket on
 * fd 0 is CGI under mod_cgid. Linux lists each socket's state in /proc/net.
 */
export function stdinIsListening(): boolean {
  let target: string;
  try {
    target = readlinkSync('/proc/self/fd/0');
  } catch {
    return false;
  }
  const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
  if (!inode) return false;
  const table = (name: string) => {
    try {
      return readFileSync(`/proc/self/net/${name}`, 'latin1').split('\n').slice(1);
    } catch {
      return [];
    }
  };
  // unix: Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 is __SO_ACCEPTCON.
  for (const line of table('unix')) {
    const f = line.trim().split(/\s+/);
    if (f[6] === inode) return (parseInt(f[3], 16) & 0x10000) !== 0;
  }
  // tcp, tcp6: sl local remote st ... inode (field 9); st 0A is LISTEN.
  for (const line of [...table('tcp'), ...table('tcp6')]) {
    const f = line.trim().split(/\s+/);
    if (f[9] === inode) return f[3] === '0A';
  }
  return false;
}

export async function main(argv: string[]): Promise<void> {
  const started = performance.now();
  const env = process.env;
  const asWebServerChild = env.GATEWAY_INTERFACE !== undefined || argv.length === 0;
  if (asWebServerChild && !stdinIsListening()) {
    const [{ runCgi }, { loadSettings, SettingsError }, { log }] = await Promise.all([
      import('./cgi.js'),
      import('./config.js'),
      import('./log.js'),
    ]);
    let settings;
    try {
      settings = loadSettings({}, env, log);
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err;
      log(`configuration error: ${err.message}`);
      const { cgiFailure } = await import('./cgi.js');
      await cgiFailure(env);
      return;
    }
    await import(settings.db.startsWith('sqlite:') ? './store-sqlite.js' : './store-mysql.js');
    const timing: Array<[string, number]> = [
      ['startup', started],
      ['load', performance.now() - started],
    ];
    await runCgi(env, settings, timing);
    return;
  }
  const { runCli } = await import('./cli.js');
  await runCli(asWebServerChild ? ['fcgi'] : argv);
}
