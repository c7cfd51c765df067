/**
 * What an FCALL costs Redis before a script does anything (session 21, BENCHMARKS.md):
 * one-line functions of a throw-away library, called 1,000 times each on a private server
 * under callgrind, instructions per call.
 *
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=fcallCommand \
 *     redis-server --port 6396 --save '' &
 *   npx tsx scripts/bench/lib/fcall-floor.ts --url redis://127.0.0.1:6396 --callgrind <its pid>
 *
 * The keys and arguments are shaped like record-call-event's (8 keys, 16 arguments, the
 * first a 13-digit instant). Never the shared server: it loads a library (FUNCTION LOAD
 * REPLACE, library "mg_fcall_floor") and writes one hash, deleted at the end.
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';

const argOf = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const URL_ARG = argOf('url');
const PID = Number(argOf('callgrind'));
if (!URL_ARG || /:6379\b/.test(URL_ARG) || !PID) {
  process.stderr.write('usage: fcall-floor.ts --url redis://127.0.0.1:<private port> --callgrind <redis-server pid under callgrind>\n');
  process.exit(2);
}

function instructions(pid: number): number {
  const out = execFileSync('callgrind_control', ['-e', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const totals = out.slice(out.indexOf('Totals:'));
  return [...totals.matchAll(/^\s*Th \d+\s+([\d,]+)/gm)].reduce((sum, m) => sum + Number(m[1]!.replace(/,/g, '')), 0);
}

const LIBRARY = `#!lua name=mg_fcall_floor
redis.register_function('floor_empty', function(keys, args) return 1 end)
redis.register_function('floor_table', function(keys, args) local now = args[1] + 0 return { 2 } end)
redis.register_function('floor_numbers', function(keys, args)
  local s, n = args[1], 0
  for _ = 1, 10 do n = n + (s + 0) end
  return { 2 }
end)
redis.register_function('floor_digits', function(keys, args)
  local s, n = args[1], 0
  for i = 1, #s do n = n * 10 + string.byte(s, i) - 48 end
  return { 2 }
end)
redis.register_function('floor_hmget', function(keys, args)
  redis.call('HMGET', keys[1], 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r')
  return { 2 }
end)`;

const SID = 'CA0123456789abcdef0123456789abcdef';
const KEYS = Array.from({ length: 8 }, (_, i) => `mgbench-floor:{acc_floor}:key${i}:${SID}`);
const NOW = '1795780800123';
const ARGS = [NOW, 'mgbench-floor:{acc_floor}:events', '12:1795780800000:1798459200000', SID, 'child', SID, '1', 'ringing',
  '12345678', '', '', '', NOW, '3600000', SID, ''];
const N = 1000;

const redis = new Redis(URL_ARG, { maxRetriesPerRequest: 1 });
await redis.function('LOAD', 'REPLACE', LIBRARY);
await redis.hset(KEYS[0]!, Object.fromEntries('abcdefghijklmnopqr'.split('').map((c) => [c, NOW])));
const runs: [string, string, number][] = [
  ['an empty function, no keys or arguments', 'floor_empty', 0],
  ['the same, 8 keys and 16 arguments', 'floor_empty', 8],
  ['+ a table reply and one string made a number', 'floor_table', 8],
  ['+ ten more such numbers', 'floor_numbers', 8],
  ['a 13-digit number digit by digit in Lua, table reply', 'floor_digits', 8],
  ['an HMGET of 18 fields holding 13-digit numbers, table reply', 'floor_hmget', 8],
];
for (const [label, fn, nk] of runs) {
  const before = instructions(PID);
  for (let i = 0; i < N; i++) await redis.fcall(fn, nk, ...KEYS.slice(0, nk), ...(nk ? ARGS : []));
  const per = (instructions(PID) - before) / N;
  console.log(`${label.padEnd(62)} ${(per / 1000).toFixed(1)}k instructions per call`);
}
await redis.del(KEYS[0]!);
await redis.function('DELETE', 'mg_fcall_floor');
redis.disconnect();
