// The reports' shared parts: what ran on what (header, JSON fields) and table formatting.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { ROOT, r2 } from './util.js';

export function gitRevision(): string | null {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (rev.status !== 0) return null;
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
  return rev.stdout.trim() + (dirty.stdout.trim() ? '+dirty-src' : '');
}

/** Taken before anything runs: the load average then says how busy the shared machine was. */
export function benchStart() {
  return { started: new Date(), loadBefore: os.loadavg().map(r2) };
}

/** What the figures depend on, for the header line and the JSON line. */
export function benchEnv(start: ReturnType<typeof benchStart>, redisVersion: string) {
  const cpus = os.cpus();
  return {
    date: start.started.toISOString(),
    node: process.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? '?',
    loadAvgBefore: start.loadBefore,
    redis: redisVersion,
    git: gitRevision(),
  };
}

/** The report's first lines: what ran, on what, and with which settings. */
export function reportHeader(title: string, env: ReturnType<typeof benchEnv>, settings: string): string[] {
  return [
    '',
    `minutegate ${title} — ${env.date}`,
    `node ${env.node}, ${env.cpus} CPU(s) (${env.cpuModel}), redis ${env.redis}, load avg before ${env.loadAvgBefore.join(' ')}${env.git ? `, git ${env.git}` : ''}`,
    settings,
    '',
  ];
}

/** A CPU share cell: '-' where /proc (or Redis INFO) gave nothing. */
export const pctCell = (x: number | null) => (x === null ? '-' : String(x));

/** Header, dashes and rows, columns two spaces apart and padded to their widest cell;
 *  `rightAligned(i)` says which columns are numbers. */
export function formatTable(head: string[], rows: string[][], rightAligned: (col: number) => boolean, trimEnd = false): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((t) => t[i]!.length)));
  const line = (cells: string[]) => {
    const s = cells.map((c, i) => (rightAligned(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
    return trimEnd ? s.trimEnd() : s;
  };
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}
