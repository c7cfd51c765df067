// npm run simulate -- --url <base> --twilio-auth-token <t> --admin-key <k> [...]
// A progress bar and a summary table on stderr; one JSON line on stdout; exit 0 only when
// the gateway's ledger matches what the calls imply.
import { parseArgs } from './args.js';
import { runSimulation } from './simulate.js';

function bar(done: number, total: number, placed: number, denied: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} calls · ${placed} placed · ${denied} denied`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line}`);
  else if (done === total || done % Math.max(1, Math.floor(total / 10)) === 0) process.stderr.write(`${line}\n`);
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const started = Date.now();
  const r = await runSimulation(args, bar);
  if (process.stderr.isTTY) process.stderr.write('\n');
  const rows: [string, string | number][] = [
    ['account', r.accountId],
    ['calls', r.calls],
    ['placed (allowed)', r.placed],
    ['denied', r.denied],
    ['expected minutes', r.expectedMinutes],
    ['debited minutes', r.debitedMinutes],
    ['of which overage', r.overageMinutes],
    ['seconds', ((Date.now() - started) / 1000).toFixed(1)],
    ['books match', r.ok ? 'yes' : 'NO'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  process.stderr.write(`${rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n')}\n`);
  for (const p of r.problems.slice(0, 20)) process.stderr.write(`  ! ${p}\n`);
  const { calls, placed, denied, expectedMinutes, debitedMinutes, overageMinutes, ok } = r;
  process.stdout.write(`${JSON.stringify({ calls, placed, denied, expectedMinutes, debitedMinutes, overageMinutes, ok })}\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`simulate: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
