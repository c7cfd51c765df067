#!/usr/bin/env node
// Copies every src/redis/lua/*.lua (and lib/*.lua, the libraries scripts include) to
// dist/redis/lua/, and the PostgreSQL migrations (src/postgres/migrations/*.sql) to
// dist/postgres/migrations/ (run after `tsc` by `npm run build`). An argument names another
// output folder instead of dist/: the test suite's global setup builds its own copy
// (test/support/global-build.ts) without touching dist/.
// Plain Node ESM, no dependencies. Paths are resolved from the repo root, not the cwd.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const distDir = process.argv[2] ? resolve(process.argv[2]) : join(root, 'dist');
const srcDir = join(root, 'src', 'redis', 'lua');
const outDir = join(distDir, 'redis', 'lua');

if (!existsSync(srcDir)) {
  console.error(`copy-lua: ${srcDir} does not exist`);
  process.exit(1);
}

const files = readdirSync(srcDir, { withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.lua'))
  .map((e) => e.name)
  .sort();

if (files.length === 0) {
  console.error(`copy-lua: no .lua files in ${srcDir}`);
  process.exit(1);
}

mkdirSync(outDir, { recursive: true });
// Drop stale scripts (e.g. a renamed `name-<numberOfKeys>.lua`) left by an earlier build:
// the loader picks scripts by file name, so a leftover would shadow the new one.
for (const e of readdirSync(outDir, { withFileTypes: true })) {
  if (e.isFile() && e.name.endsWith('.lua') && !files.includes(e.name)) rmSync(join(outDir, e.name));
}
for (const name of files) {
  copyFileSync(join(srcDir, name), join(outDir, name));
}
const libSrc = join(srcDir, 'lib');
const libOut = join(outDir, 'lib');
rmSync(libOut, { recursive: true, force: true });
mkdirSync(libOut, { recursive: true });
const libs = existsSync(libSrc) ? readdirSync(libSrc).filter((n) => n.endsWith('.lua')) : [];
for (const name of libs) copyFileSync(join(libSrc, name), join(libOut, name));
console.log(`copy-lua: copied ${files.length} Lua file(s) and ${libs.length} librar${libs.length === 1 ? 'y' : 'ies'} to ${outDir}`);

const sqlSrc = join(root, 'src', 'postgres', 'migrations');
const sqlOut = join(distDir, 'postgres', 'migrations');
rmSync(sqlOut, { recursive: true, force: true });
mkdirSync(sqlOut, { recursive: true });
const migrations = readdirSync(sqlSrc).filter((n) => n.endsWith('.sql'));
for (const name of migrations) copyFileSync(join(sqlSrc, name), join(sqlOut, name));
console.log(`copy-lua: copied ${migrations.length} migration(s) to ${sqlOut}`);
