// One line per event on stderr. Under a web server that is its error log, and each line
// says which process wrote it; a command speaks to a person, as `adrater: …`. The mode,
// chosen once, sets the style. Callers never pass SQL text, passwords or connection URLs.

let prefix = `adrater[${process.pid}]: `;

// A log whose reader has gone (a piped logger such as rotatelogs that died or was restarted,
// a pipe's reading end closed) fails its writes with EPIPE, which an unheard 'error' event
// made an uncaught exception: the responder answered the request, then exited on its log
// line. Its lines are lost; the requests go on. (Taken on first use: a CGI run that logs
// nothing never makes process.stderr.)
let stderr: NodeJS.WriteStream | null = null;
function logStream(): NodeJS.WriteStream {
  if (stderr === null) {
    stderr = process.stderr;
    stderr.on('error', () => {});
  }
  return stderr;
}

/** 'server' (CGI, FastCGI: the web server's log) or 'command' (a person at a terminal). */
export function setLogStyle(style: 'server' | 'command'): void {
  prefix = style === 'server' ? `adrater[${process.pid}]: ` : 'adrater: ';
}

export function log(line: string): void {
  logStream().write(`${prefix}${line.replace(/[\r\n]+/g, ' | ')}\n`);
}

/** A progress line that rewrites itself on a terminal, at most five times a second; nothing elsewhere. */
export function progressLine(enabled = Boolean(process.stderr.isTTY)) {
  let last = 0;
  let shown = false;
  return {
    show(text: string, force = false): void {
      if (!enabled || (!force && Date.now() - last < 200)) return;
      last = Date.now();
      shown = true;
      logStream().write(`\r\x1b[K${prefix}${text}`);
    },
    /** Clears the line, if one was shown, so that the next log line starts clean. */
    clear(): void {
      if (shown) logStream().write('\r\x1b[K');
      shown = false;
    },
  };
}
