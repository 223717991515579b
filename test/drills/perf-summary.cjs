// Reads `perf script` (cpu-clock samples with call graphs, from nginx-wrk.sh PERF=1) on stdin
// and prints where two processes spent their CPU: the responder (every thread, the kernel's
// part included, which --cpu-prof does not see) and MariaDB (by the server's own entry
// points, which its binary exports). Shares are of each process's samples.
// Usage: perf script -F comm,pid,tid,ip,sym,dso -i perf.data | node perf-summary.cjs RESPONDER_PID MARIADB_PID
'use strict';
const [responderPid, mariadbPid] = process.argv.slice(2);

// A process's share under each of these frames (a sample counts once in each it lies under).
const MARIADB_PARTS = [
  ['the look-ups (mysql_select)', ['mysql_select']],
  ['  their reads by key', ['handler::ha_index_read_map']],
  ['  JSON_TABLE turning the array into rows', ['ha_json_table::rnd_next', 'ha_json_table::fill_column_values']],
  ['  the plan (JOIN::optimize)', ['JOIN::optimize']],
  ['  rows sent (select_send::send_data)', ['select_send::send_data']],
  ['the queue writes (mysql_insert)', ['mysql_insert']],
  ['commits (ha_commit_trans)', ['ha_commit_trans']],
  ['redo log writes and syncs (pwrite, fdatasync)', ['__libc_pwrite', 'fdatasync']],
  ['opening tables', ['open_and_lock_tables']],
  ['reading statements off the socket', ['my_net_read_packet']],
];

/** One sample of `perf script -F comm,pid,tid,ip,sym,dso`: its process, thread and stack, leaf first. */
function sample(block) {
  const lines = block.split('\n');
  const [, pid, tid] = lines[0].match(/^\s*\S+\s+(\d+)\/(\d+)/) ?? [];
  const stack = lines.slice(1).map((l) => l.trim()).filter(Boolean).map((l) => {
    const text = l.slice(l.indexOf(' ') + 1);
    return { sym: text.replace(/\+0x[0-9a-f]+ \(.*$/, '').replace(/ \(.*$/, ''), kernel: text.includes('[kernel'), jit: /perf-\d+\.map/.test(text) };
  });
  return { pid, tid, stack };
}

function category(stack) {
  if (stack.some((f) => f.sym.includes('Scavenge') || f.sym.includes('Heap::CollectGarbage') || f.sym.includes('MarkCompact'))) return 'garbage collection';
  const leaf = stack[0];
  if (!leaf) return 'unknown';
  if (leaf.kernel) return 'kernel';
  if (leaf.jit || leaf.sym.startsWith('JS:') || leaf.sym.startsWith('RegExp:')) return 'compiled JavaScript';
  if (leaf.sym.startsWith('Builtins_')) return "V8's builtins (ICs, promises, strings)";
  if (leaf.sym.startsWith('v8::')) return "V8's runtime (C++)";
  if (leaf.sym.startsWith('node::') || leaf.sym.startsWith('uv_') || leaf.sym.startsWith('uv__')) return 'Node and libuv';
  return 'libc and other';
}

const pct = (n, of) => `${((100 * n) / of).toFixed(1).padStart(5)} %`;
function table(title, counts, of, limit = 12) {
  console.log(title);
  for (const [name, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, limit)) console.log(`  ${pct(n, of)}  ${name}`);
}
const bump = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const responder = { n: 0, main: 0, categories: new Map(), functions: new Map(), leaves: new Map() };
  const mariadb = { n: 0, parts: new Map() };
  for (const block of input.split(/\n\s*\n/)) {
    if (!block.trim()) continue;
    const { pid, tid, stack } = sample(block);
    if (pid === responderPid) {
      responder.n++;
      if (tid === responderPid) responder.main++;
      const kind = category(stack);
      bump(responder.categories, kind);
      if (kind === "V8's runtime (C++)" || kind === 'libc and other') bump(responder.leaves, stack[0].sym.slice(0, 100));
      const js = stack.find((f) => f.sym.startsWith('JS:'));
      bump(responder.functions, js ? js.sym.slice(3).replace(/^[*^~]/, '').replace(/\/[^ ]*\/dist\/lib\//, 'dist/lib/') : `(no JavaScript above: ${category(stack)})`);
    } else if (pid === mariadbPid) {
      mariadb.n++;
      const syms = new Set(stack.map((f) => f.sym));
      for (const [name, marks] of MARIADB_PARTS) if (marks.some((m) => syms.has(m))) bump(mariadb.parts, name);
    }
  }
  if (responder.n > 0) {
    console.log(`responder: ${responder.n} samples, ${pct(responder.main, responder.n).trim()} on its main thread`);
    table('  by kind of code:', responder.categories, responder.n);
    table('  by the first JavaScript function on the stack (the builtins and runtime it called included):', responder.functions, responder.n, 15);
    table("  V8's runtime and libc, by function:", responder.leaves, responder.n, 8);
  }
  if (mariadb.n > 0) {
    console.log(`MariaDB: ${mariadb.n} samples`);
    console.log('  under:');
    for (const [name] of MARIADB_PARTS) console.log(`  ${pct(mariadb.parts.get(name) ?? 0, mariadb.n)}  ${name}`);
  }
});
