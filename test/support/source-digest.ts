// What a build of src/ is made from, as one digest: every file under src/ (sources, Lua
// scripts, migrations) with its path, and the files that say how it is built. The run's
// build (global-build.ts) records it; builtEntry() (built.ts) refuses a build whose sources
// have changed since, so a stale build is never run.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const BUILD_FILES = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/copy-lua.mjs'];

export function sourceDigest(root: string): string {
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  walk('src');
  files.sort();
  const hash = createHash('sha256');
  for (const f of [...BUILD_FILES, ...files]) hash.update(`${f}\0`).update(readFileSync(join(root, f))).update('\0');
  return hash.digest('hex');
}
