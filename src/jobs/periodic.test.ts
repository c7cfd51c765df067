// PeriodicJob.wakeIn: a pass sooner than the interval when asked, never later than it would
// have run anyway, and one asked for during a pass runs after it. (Real timers, short ones.)
import { afterEach, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { PeriodicJob } from './periodic.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let job: PeriodicJob | null = null;
afterEach(async () => {
  await job?.stop();
  job = null;
});

function counting(intervalMs: number, passMs = 0) {
  const passes: number[] = [];
  const t0 = performance.now();
  job = new PeriodicJob('test', intervalMs, async () => {
    passes.push(performance.now() - t0);
    if (passMs) await sleep(passMs);
  }, createLogger('silent'));
  job.start();
  return { job, passes };
}

it('runs a pass when asked, sooner than its interval; a later ask does not put off a sooner pass', async () => {
  const { job, passes } = counting(10_000);
  await sleep(20); // the first pass, at start
  expect(passes).toHaveLength(1);
  job.wakeIn(60);
  job.wakeIn(5_000); // later than the one asked for: changes nothing
  await sleep(150);
  expect(passes).toHaveLength(2);
  expect(passes[1]!).toBeGreaterThanOrEqual(60);
});

it('keeps an ask made during a pass for after it', async () => {
  const { job, passes } = counting(10_000, 50);
  await sleep(10); // the first pass is running
  job.wakeIn(80);
  await sleep(200);
  expect(passes).toHaveLength(2);
  expect(passes[1]!).toBeGreaterThanOrEqual(80);
});
