// The entry points as this run compiled them (support/global-build.ts): a child process
// starts `node <dist>/main.js`, as production does, instead of transforming src/main.ts
// through tsx again. Tests about `npm run dev` (tsx) or the scripts keep starting tsx.
import { join } from 'node:path';
import { inject } from 'vitest';

/** 'src/main.ts' → the run's compiled main.js (any entry under src/). */
export function builtEntry(entry: string): string {
  const m = /^src\/(.+)\.ts$/.exec(entry);
  if (!m) throw new Error(`builtEntry: ${entry} is not a source file under src/`);
  const dist = inject('builtDist');
  if (!dist) throw new Error('no compiled build: test/support/global-setup.ts is not in vitest.config.ts globalSetup');
  return join(dist, `${m[1]}.js`);
}
