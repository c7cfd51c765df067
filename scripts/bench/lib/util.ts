// Small helpers every bench file uses: where things are, progress logging, clocks, rounding.
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is scripts/bench/lib/util.ts). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The URL Twilio would call; signatures are computed over it, the requests go to 127.0.0.1. */
export const PUBLIC_BASE_URL = 'https://gw.bench.minutegate.test';

export type Log = (msg: string) => void;

/** Progress goes to stderr so that stdout holds only the results (table + JSON line). */
export const createLog =
  (tag: string): Log =>
  (msg) =>
    process.stderr.write(`[${tag}] ${msg}\n`);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Milliseconds on CLOCK_MONOTONIC: comparable between processes on this machine. */
export const hrMs = () => Number(process.hrtime.bigint()) / 1e6;
export const hex = (bytes: number) => randomBytes(bytes).toString('hex');
export const r1 = (x: number) => Math.round(x * 10) / 10;
export const r2 = (x: number) => Math.round(x * 100) / 100;
export const fmtInt = (x: number) => Math.round(x).toLocaleString('en-US');
/** The median of `xs`; null when there are none. */
export const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs `fn` over `items` with at most `n` at a time. */
export async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
