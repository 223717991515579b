// Preloaded into a responder (`node -r`) by nginx-wrk.sh with ALLOC=1: V8's sampling heap
// profiler, counting the objects the young and old collections have already freed too, from
// one SIGUSR2 to the next; at the second it writes, to ADRATER_ALLOC_OUT, the bytes sampled
// by function and by the first frame of a bundle of dist/lib above each (mysql2 is bundled in mysql.js). A byte count a request
// does not depend on the machine's speed or load as CPU time does, and each byte allocated is
// garbage the responder's scavenges must get through (README "Performance").
'use strict';
const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');

const out = process.env.ADRATER_ALLOC_OUT;
if (!out) throw new Error('alloc-sample.cjs: set ADRATER_ALLOC_OUT to the file to write');
const session = new inspector.Session();
session.connect();
let sampling = false;

process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return;
  }
  sampling = false;
  // An in-process session answers at once: the callback has run when post returns.
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err) throw err;
    writeFileSync(out, JSON.stringify(summary(result.profile)));
  });
});

function summary(profile) {
  const frames = new Map();
  (function walk(node, above) {
    frames.set(node.id, { node, above });
    for (const child of node.children) walk(child, above.concat(node));
  })(profile.head, []);
  const bySelf = new Map();
  const byOwn = new Map();
  let total = 0;
  const add = (map, key, size) => map.set(key, (map.get(key) ?? 0) + size);
  const name = (frame) => `${frame.callFrame.functionName || '(anonymous)'} ${frame.callFrame.url.split('/').pop() || '(V8)'}`;
  for (const { nodeId, size } of profile.samples) {
    const { node, above } = frames.get(nodeId);
    total += size;
    add(bySelf, name(node), size);
    // Nearest frame first; `above` is shared by every sample of this node, so not reversed in place.
    const own = [node, ...above.slice().reverse()].find((frame) => /\/dist\/lib\/[^/]+\.js$/.test(frame.callFrame.url));
    add(byOwn, own ? name(own) : '(no frame of dist/lib: Node alone)', size);
  }
  const top = (map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, 25);
  return { total, bySelf: top(bySelf), byOwn: top(byOwn) };
}
