// A preload for any bench's servers: V8's sampling heap profiler counts every allocation
// from start to exit, collected or not, and the tree is written at exit to
// <tmpdir>/minutegate-alloc/alloc-<pid>.heapprofile (the servers get an exact environment,
// so the folder is fixed). Read it with scripts/bench/ws/alloc-sites.mjs <file> <requests>.
//
//   BENCH_NODE_ARGS="--import=./scripts/bench/lib/alloc-sampling.mjs" npm run bench:webhooks -- --only quick
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = join(tmpdir(), 'minutegate-alloc');
mkdirSync(dir, { recursive: true });
const session = new Session();
session.connect();
session.post('HeapProfiler.enable');
// One sample per 16 KiB allocated: enough for per-request figures over ~100,000 requests.
session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
process.on('exit', () => {
  // A session on the main thread answers synchronously, so this runs before the process ends.
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (!err) writeFileSync(join(dir, `alloc-${process.pid}.heapprofile`), JSON.stringify({ head: r.profile.head }));
  });
});
