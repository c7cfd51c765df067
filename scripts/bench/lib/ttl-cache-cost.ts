/**
 * What a TtlCache costs per webhook once it is full (session 23):
 *
 *   npx tsx scripts/bench/lib/ttl-cache-cost.ts [--limit 200000] [--ops 200000] [--rounds 3]
 *
 * The call cache (metering/directory.ts until session 25 removed it, BENCHMARKS.md) is
 * filled to its limit, as a gateway's was after --limit calls within the call map's 14
 * days, then each operation does what a voice webhook and its final status callback did to
 * it: one `set` of a new CallSid and one `get` of a recent one. Prints ns per operation
 * (set + get), per round; the first round also pays for the filling's garbage.
 */
import { TtlCache } from '../../../src/metering/ttl-cache.js';
import { parseArgsOrExit, wholeNumber } from './options.js';

const USAGE = 'usage: npx tsx scripts/bench/lib/ttl-cache-cost.ts [--limit 200000] [--ops 200000] [--rounds 3]';
const values = parseArgsOrExit(USAGE, {
  limit: { type: 'string', default: '200000' },
  ops: { type: 'string', default: '200000' },
  rounds: { type: 'string', default: '3' },
  help: { type: 'boolean', short: 'h', default: false },
});
const limit = wholeNumber(USAGE, 'limit', values.limit, 1, 100_000_000);
const ops = wholeNumber(USAGE, 'ops', values.ops, 1, 100_000_000);
const rounds = wholeNumber(USAGE, 'rounds', values.rounds, 1, 100);

const sid = (i: number) => `CA${i.toString(16).padStart(32, '0')}`;
const cache = new TtlCache<string>(14 * 86_400_000, limit);
const now = Date.now();
let n = 0;
for (; n < limit; n++) cache.set(sid(n), 'acct', now);
process.stdout.write(`TtlCache at its limit of ${limit.toLocaleString('en-US')} entries, ${ops.toLocaleString('en-US')} set + get per round\n`);
let misses = 0;
for (let r = 1; r <= rounds; r++) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < ops; i++, n++) {
    cache.set(sid(n), 'acct', now);
    if (cache.get(sid(n - 100), now) === undefined) misses++;
  }
  const ns = Number(process.hrtime.bigint() - started) / ops;
  process.stdout.write(`round ${r}: ${ns.toFixed(0)} ns per set + get\n`);
}
// A CallSid set 100 operations ago must still be there, whatever the eviction does.
process.stdout.write(`recent entries missed: ${misses}\n`);
process.exitCode = misses === 0 ? 0 : 1;
