// Once per run (from global-setup.ts): compiles src/ as `npm run build` does (tsc with
// tsconfig.build.json, then scripts/copy-lua.mjs for the Lua scripts and migrations) into a
// fresh temporary folder, so that the entry points the tests start as child processes
// (support/gateway-process.ts, support/run-main.ts) run as compiled JavaScript, as in
// production. Through tsx each child spent about a second of CPU transforming the sources
// again, some forty times a run.
//
// A stale build can never be used: the folder is new every run (mkdtemp), is built before
// any test file starts, and is removed at the end; the digest of what it was built from
// (source-digest.ts) goes with it, and builtEntry() refuses it once src/ has changed. In
// watch mode a rerun after a change builds afresh. It is laid out as an installed copy:
//   <run>/package.json   the root one (version.ts reads it; "type": "module")
//   <run>/node_modules → <root>/node_modules (the dependencies resolve as in the checkout)
//   <run>/dist/          tsc's output, the Lua scripts and migrations
//   <run>/dist/web → <root>/dist/web (what static.ts serves, bundled by global-setup.ts)
// Type errors are not this build's business (--noCheck: `npm run typecheck` and CI's
// tsc have them), so it only emits.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { sourceDigest } from './source-digest.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's compiled src/ (its dist/ folder); see support/built.ts. */
    builtDist: string;
    /** sourceDigest() of what builtDist was built from. */
    builtDigest: string;
  }
}

const root = fileURLToPath(new URL('../../', import.meta.url));

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`node ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

/** Builds src/ into a new folder: its dist/, the digest it was built from, its removal. */
async function build(): Promise<{ dist: string; digest: string; remove: () => void }> {
  // Taken before the build: a change made while tsc runs makes the build count as stale.
  const digest = sourceDigest(root);
  const dir = mkdtempSync(join(tmpdir(), 'minutegate-test-build-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const dist = join(dir, 'dist');
    mkdirSync(dist);
    copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    symlinkSync(join(root, 'dist', 'web'), join(dist, 'web'), 'dir');
    await run([join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dist, '--noCheck', '--declaration', 'false', '--sourceMap', 'false']);
    await run([join(root, 'scripts/copy-lua.mjs'), dist]);
    return { dist, digest, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/** Builds src/ and provides its dist/ and digest (again on a watch-mode rerun after a
 *  change); resolves to the removal of the last build. */
export async function provideBuild(project: TestProject): Promise<() => Promise<void>> {
  let current = await build();
  const provide = () => {
    project.provide('builtDist', current.dist);
    project.provide('builtDigest', current.digest);
  };
  provide();
  project.onTestsRerun(async () => {
    if (sourceDigest(root) === current.digest) return;
    const next = await build();
    current.remove();
    current = next;
    provide();
  });
  return async () => current.remove();
}
