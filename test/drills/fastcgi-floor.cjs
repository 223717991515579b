// The least a Node FastCGI responder can do per request: read records until a request's
// STDIN ends, answer a fixed 250-byte document in one write. Run by test/drills/floor.sh
// beside adrater to see how much of adrater's CPU per request is Node and the kernel.
// Usage: node test/drills/fastcgi-floor.cjs SOCKET_PATH
'use strict';
const net = require('node:net');

const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<ratings>${'x'.repeat(190)}</ratings>\n`;
const stdout = Buffer.from(`Status: 200 OK\r\nContent-Type: text/xml\r\nContent-Length: ${xml.length}\r\n\r\n${xml}`);

/** STDOUT with the document, the empty STDOUT, END_REQUEST: one buffer. */
function answer(id) {
  const padding = (8 - (stdout.length % 8)) % 8;
  const out = Buffer.alloc(8 + stdout.length + padding + 8 + 16);
  const header = (at, type, length, pad) => {
    out[at] = 1;
    out[at + 1] = type;
    out.writeUInt16BE(id, at + 2);
    out.writeUInt16BE(length, at + 4);
    out[at + 6] = pad;
  };
  header(0, 6, stdout.length, padding);
  stdout.copy(out, 8);
  let at = 8 + stdout.length + padding;
  header(at, 6, 0, 0);
  header(at + 8, 3, 8, 0);
  return out;
}

net
  .createServer((socket) => {
    let held = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      held = held.length > 0 ? Buffer.concat([held, chunk]) : chunk;
      let at = 0;
      while (held.length - at >= 8) {
        const length = 8 + held.readUInt16BE(at + 4) + held[at + 6];
        if (held.length - at < length) break;
        if (held[at + 1] === 5 && length === 8 + held[at + 6]) socket.write(answer(held.readUInt16BE(at + 2))); // empty STDIN
        at += length;
      }
      held = held.subarray(at);
    });
    socket.on('error', () => {});
  })
  .listen(process.argv[2]);
