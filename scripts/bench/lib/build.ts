// The benches measure dist/ (what production runs): rebuild it when it is stale.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, type Log } from './util.js';

/** dist/ is stale when a compiled file is missing or older than its source. */
export function distIsStale(): string | null {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const src = join(ROOT, 'src');
  for (const file of walk(src)) {
    const rel = relative(src, file);
    let out: string;
    if (file.endsWith('.lua')) out = join(ROOT, 'dist', rel);
    else if (file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.endsWith('.d.ts')) {
      out = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
    } else continue;
    let outTime: number;
    try {
      outTime = statSync(out).mtimeMs;
    } catch {
      return `${relative(ROOT, out)} is missing`;
    }
    if (statSync(file).mtimeMs > outTime) return `${relative(ROOT, file)} is newer than ${relative(ROOT, out)}`;
  }
  return null;
}

/** The benches measure dist/ (what production runs), so it must match src/. */
export function ensureBuilt(force: boolean, log: Log): void {
  const why = force ? '--build' : distIsStale();
  if (!why) {
    log('dist/ is up to date');
    return;
  }
  log(`building dist/ (${why})`);
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status ?? r.signal})`);
}
