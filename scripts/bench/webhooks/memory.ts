/**
 * Phase `memory` (--only memory; issue #17 §4): what a settled call costs Redis once the
 * archive has it and the windows have passed, and what it costs PostgreSQL. A gateway of
 * its own on a private redis-server (so the memory counted is this run's alone) with
 * LEDGER_REDIS_WINDOW_SECONDS and CALL_REDIS_RETENTION_SECONDS of --memory-window seconds;
 * --lifecycle-calls full call lifecycles; then Redis is read three times: before the
 * calls, right after them (every record still in Redis, as before this issue), and once
 * the archive has every entry and the windows have passed. Bytes per call are the sum of
 * MEMORY USAGE over the keys (SCAN), and INFO's used_memory, each as a difference over
 * the number of calls.
 */
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { booksSize } from '../lib/books-db.js';
import { gatewayEnv } from '../lib/identity.js';
import { startPrivateRedis, startServer, stopChild } from '../lib/processes.js';
import { ROOT, fmtInt, pool, sleep } from '../lib/util.js';
import { ID, createBenchAccount, log, opts } from './context.js';
import { playCall } from './lifecycle.js';

interface Reading {
  keys: number;
  keyBytes: number;
  usedMemory: number;
}

async function reading(redis: Redis): Promise<Reading> {
  let cursor = '0';
  let keys = 0;
  let keyBytes = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys += batch.length;
    const sizes = await Promise.all(batch.map((k) => redis.memory('USAGE', k, 'SAMPLES', 0)));
    for (const b of sizes) keyBytes += Number(b ?? 0);
  } while (cursor !== '0');
  const info = await redis.info('memory');
  return { keys, keyBytes, usedMemory: Number(/used_memory:(\d+)/.exec(info)![1]) };
}

export interface MemoryOutcome {
  calls: number;
  windowSeconds: number;
  perCallRightAfter: { keyBytes: number; usedMemory: number };
  perCallPastWindows: { keyBytes: number; usedMemory: number };
  keysLeft: number;
  waitedMs: number;
  postgres: { ledgerRowsPerCall: number; callRowsPerCall: number; bytesPerCall: number };
  ok: boolean;
}

export async function memoryPhase(): Promise<MemoryOutcome> {
  const priv = await startPrivateRedis(log);
  if (!priv) throw new Error('the memory phase needs redis-server (a private one, so the memory counted is its own)');
  const url = `redis://127.0.0.1:${priv.port}`;
  const window = opts.memoryWindow;
  const gw = await startServer({
    name: 'gateway (memory)',
    script: join(ROOT, 'dist', 'main.js'),
    env: { ...gatewayEnv(ID), REDIS_URL: url, LEDGER_REDIS_WINDOW_SECONDS: String(window), CALL_REDIS_RETENTION_SECONDS: String(window) },
    readyPath: '/readyz',
    log,
  });
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  await redis.connect();
  try {
    await createBenchAccount(gw.port);
    await sleep(500);
    const before = await reading(redis);
    let wrong = 0;
    const n = opts.lifecycleCalls;
    log(`memory: ${fmtInt(n)} calls, windows of ${window} s`);
    await pool(Array.from({ length: n }), 20, () => playCall(gw.port, (_what, _r, ok) => void (ok || wrong++)));
    const rightAfter = await reading(redis);
    // Every entry archived, then the windows passed and the trims ran (the archiver comes
    // back to an account when its oldest entry leaves the window).
    const started = Date.now();
    let books = await booksSize(ID.database);
    let now = rightAfter;
    while (Date.now() - started < 120_000) {
      await sleep(1000);
      books = await booksSize(ID.database);
      now = await reading(redis);
      if (books.ledgerRows >= n + 1 && Date.now() - started > (window + 2) * 1000 && now.keyBytes <= before.keyBytes + n * 150) break;
    }
    const per = (r: Reading) => ({ keyBytes: Math.round((r.keyBytes - before.keyBytes) / n), usedMemory: Math.round((r.usedMemory - before.usedMemory) / n) });
    const out: MemoryOutcome = {
      calls: n,
      windowSeconds: window,
      perCallRightAfter: per(rightAfter),
      perCallPastWindows: per(now),
      keysLeft: now.keys,
      waitedMs: Date.now() - started,
      postgres: {
        ledgerRowsPerCall: Math.round((books.ledgerRows / n) * 100) / 100,
        callRowsPerCall: Math.round((books.callRows / n) * 100) / 100,
        bytesPerCall: Math.round(books.bytes / n),
      },
      ok: wrong === 0 && books.callRows === n,
    };
    return out;
  } finally {
    await stopChild(gw);
    redis.disconnect();
    await stopChild(priv);
  }
}

export function printMemoryReport(o: MemoryOutcome, env: Record<string, unknown>): boolean {
  const lines = [
    `memory bench (issue #17 §4): ${fmtInt(o.calls)} settled calls, LEDGER_REDIS_WINDOW_SECONDS = CALL_REDIS_RETENTION_SECONDS = ${o.windowSeconds}`,
    `Redis per call right after settling: ${o.perCallRightAfter.keyBytes} B (MEMORY USAGE of the keys), ${o.perCallRightAfter.usedMemory} B (used_memory)`,
    `Redis per call once archived and past the windows: ${o.perCallPastWindows.keyBytes} B (MEMORY USAGE), ${o.perCallPastWindows.usedMemory} B (used_memory); ${o.keysLeft} keys left; target ≤ 150 B: ${o.perCallPastWindows.keyBytes <= 150 ? 'ok' : 'MISSED'}`,
    `PostgreSQL per call: ${o.postgres.ledgerRowsPerCall} ledger rows, ${o.postgres.callRowsPerCall} call rows, ${fmtInt(o.postgres.bytesPerCall)} B (tables and indexes)`,
    `result: ${o.ok ? 'every call settled and archived' : 'CHECKS FAILED'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n${JSON.stringify({ bench: 'memory', ...env, ...o })}\n`);
  return o.ok;
}
