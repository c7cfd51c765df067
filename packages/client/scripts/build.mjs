// npm run build (and prepack): dist/ for the published package.
// - src/openapi-types.ts regenerated from the gateway's OpenAPI document (generate-types.ts),
//   or with --check (prepack) only compared with it: a tarball never carries stale types;
// - dist/node.js (ESM), dist/node.cjs (CommonJS) and dist/browser.js (ESM, no Node
//   built-ins), each one file with the wire contract (src/wire/contract.ts) inlined, and
//   ws and openapi-fetch left to the consumer's install (the package's dependencies);
// - dist/types/…: declarations, by tsc (the wire contract's come along under src/wire/),
//   and a copy in dist/types-cjs/ for CommonJS consumers.
// Then the browser build is bundled once more with its dependencies, unminified, and held
// to bundle-limits.json.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
// Declarations by the repository's TypeScript 7 (native tsc, ~5× faster than the
// typescript@5 this package keeps for openapi-typescript alone).
const rootRequire = createRequire(join(pkg, '..', '..', 'package.json'));
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: pkg, stdio: ['ignore', process.stderr, process.stderr] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
};

rmSync(join(pkg, 'dist'), { recursive: true, force: true });
// `build` writes src/openapi-types.ts afresh; prepack (--check) only refuses to pack stale ones.
run(process.execPath, ['--import', 'tsx', 'scripts/generate-types.ts', ...(process.argv.includes('--check') ? ['--check'] : [])]);

const common = { absWorkingDir: pkg, bundle: true, target: 'es2022', external: ['ws', 'openapi-fetch'], logLevel: 'warning', legalComments: 'none' };
await esbuild.build({ ...common, entryPoints: ['src/node.ts'], outfile: 'dist/node.js', platform: 'node', format: 'esm' });
await esbuild.build({ ...common, entryPoints: ['src/node.ts'], outfile: 'dist/node.cjs', platform: 'node', format: 'cjs' });
await esbuild.build({ ...common, entryPoints: ['src/browser.ts'], outfile: 'dist/browser.js', platform: 'browser', format: 'esm' });
run(process.execPath, [join(dirname(rootRequire.resolve('typescript/package.json')), 'bin', 'tsc'), '-p', 'tsconfig.json']);
// The same declarations for `require`: in a folder whose package.json says CommonJS, so a
// CommonJS consumer's TypeScript reads them as CommonJS (the package itself is ESM).
cpSync(join(pkg, 'dist/types'), join(pkg, 'dist/types-cjs'), { recursive: true });
writeFileSync(join(pkg, 'dist/types-cjs/package.json'), '{ "type": "commonjs" }\n');

const limit = JSON.parse(readFileSync(join(pkg, 'bundle-limits.json'), 'utf8')).browserBundleBytes;
const whole = await esbuild.build({ absWorkingDir: pkg, entryPoints: ['dist/browser.js'], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'warning' });
const bytes = whole.outputFiles[0].contents.length;
if (bytes > limit) throw new Error(`the browser bundle is ${bytes} bytes, over the limit of ${limit} (bundle-limits.json)`);
process.stderr.write(`@minutegate/client built: browser bundle ${bytes} bytes with its dependencies (limit ${limit})\n`);
