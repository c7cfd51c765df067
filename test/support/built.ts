// The entry points as this run compiled them (support/global-build.ts): a child process
// starts `node <dist>/main.js`, as production does, instead of transforming src/main.ts
// through tsx again. Tests about `npm run dev` (tsx) or the scripts keep starting tsx.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { sourceDigest } from './source-digest.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** 'src/main.ts' → the run's compiled main.js (any entry under src/). */
export function builtEntry(entry: string): string {
  const m = /^src\/(.+)\.ts$/.exec(entry);
  if (!m) throw new Error(`builtEntry: ${entry} is not a source file under src/`);
  const dist = inject('builtDist');
  if (!dist) throw new Error('no compiled build: test/support/global-setup.ts is not in vitest.config.ts globalSetup');
  // Never a build older than the sources (src/ edited while vitest runs).
  if (sourceDigest(root) !== inject('builtDigest')) {
    throw new Error('src/ changed since this run compiled it (test/support/global-build.ts): run the tests again');
  }
  return join(dist, `${m[1]}.js`);
}
