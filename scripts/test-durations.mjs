// Writes test/support/durations.json from this checkout's vitest cache (the last full
// `npm test`): each test file's duration in whole seconds, longest first. The suite's
// sequencer (test/support/sequencer.ts) starts the longest files first from it when the
// cache is empty, as in CI's fresh clone; it only orders files, so a stale figure costs
// time, never a check. Run after a full `npm test`: node scripts/test-durations.mjs
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join('node_modules', '.vite', 'vitest');
const runs = readdirSync(root).map((d) => join(root, d, 'results.json'));
const results = new Map();
for (const file of runs) {
  try {
    for (const [key, r] of JSON.parse(readFileSync(file, 'utf8')).results) results.set(key, Math.max(1, Math.round(r.duration / 1000)));
  } catch {
    // Not a results file of this vitest: nothing to take from it.
  }
}
if (results.size === 0) throw new Error(`no vitest results under ${root}: run npm test first`);
const sorted = Object.fromEntries([...results].sort((a, b) => b[1] - a[1]));
writeFileSync(join('test', 'support', 'durations.json'), `${JSON.stringify(sorted, null, 1)}\n`);
console.log(`test/support/durations.json: ${results.size} files`);
