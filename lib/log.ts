// One line per event on stderr, which is the web server's error log under CGI and FastCGI.
// Callers never pass SQL text, passwords or connection URLs.
export function log(line: string): void {
  process.stderr.write(`adrater[${process.pid}]: ${line.replace(/[\r\n]+/g, ' | ')}\n`);
}
