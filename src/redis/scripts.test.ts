// The function library (function-library.ts): includes each once, dependencies first,
// cycles refused; each function sets KEYS/ARGV and begins the libraries its script includes.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { buildLibrary, includeOrder } from './function-library.js';

const libs: Record<string, string> = {
  a: 'local A\nlocal function a_begin() A = 1 end\n',
  b: '--!include a\nlocal function b_plus() return A + 1 end\n',
  c: '--!include a\n--!include b\nlocal C\nlocal function c_begin() C = KEYS[1] end\n',
  x: '--!include y\n',
  y: '--!include x\n',
};
const read = (n: string) => {
  const v = libs[n];
  if (v === undefined) throw new Error(`no lib ${n}`);
  return v;
};

it('orders each library once, its own includes first', () => {
  expect(includeOrder('--!include c\n--!include b\nreturn C\n', read)).toEqual(['a', 'b', 'c']);
  expect(includeOrder('return 1\n', read)).toEqual([]);
  expect(() => includeOrder('--!include x\n', read)).toThrow(/cycle: x -> y -> x/);
  expect(() => includeOrder('--!include nope\n', read)).toThrow(/no lib nope/);
});

it('defines every library once and makes each script a function that begins its own libraries', () => {
  const lib = buildLibrary(
    [
      { name: 'read-c', source: '--!include c\nreturn C\n' },
      { name: 'plus', source: '--!include b\nreturn b_plus()' },
      { name: 'bare', source: 'return 1 -- a comment on the last line' },
    ],
    read,
  );
  expect(lib.name).toMatch(/^minutegate_[0-9a-f]{12}$/);
  const hash = lib.name.slice('minutegate_'.length);
  expect([...lib.functions]).toEqual([
    ['read-c', `mg_${hash}_read_c`],
    ['plus', `mg_${hash}_plus`],
    ['bare', `mg_${hash}_bare`],
  ]);
  expect(lib.code.startsWith(`#!lua name=${lib.name}\n`)).toBe(true);
  expect([...lib.code.matchAll(/-- ==== lib\/(\w)\.lua ====/g)].map((m) => m[1])).toEqual(['a', 'b', 'c']);
  // read-c begins a and c (b has no state); plus begins a; bare begins nothing.
  expect(lib.code).toContain(`redis.register_function('mg_${hash}_read_c', function(keys, args)\nKEYS, ARGV = keys, args a_begin() c_begin()\n`);
  expect(lib.code).toContain(`redis.register_function('mg_${hash}_plus', function(keys, args)\nKEYS, ARGV = keys, args a_begin()\n`);
  // A comment on a script's last line does not swallow the function's end.
  expect(lib.code).toContain('return 1 -- a comment on the last line\nend)');
  // Other code, other names: two versions can be loaded side by side.
  const other = buildLibrary([{ name: 'bare', source: 'return 2' }], read);
  expect(other.name).not.toBe(lib.name);
});

/** The top-level locals of a library that outlive a run without its begin() setting them:
 *  declared without a value, or assigned by one of its functions. */
function unsetState(lib: string, text: string): string[] {
  const lines = text.split('\n');
  const beginAt = lines.findIndex((l) => l.startsWith(`local function ${lib}_begin()`));
  const beginEnd = beginAt < 0 ? -1 : lines[beginAt]!.trimEnd().endsWith(' end') ? beginAt : lines.indexOf('end', beginAt);
  const begin = beginAt < 0 ? '' : lines.slice(beginAt, beginEnd + 1).join('\n');
  const declared = new Map<string, boolean>(); // name → declared with a value
  for (const l of lines) {
    const m = /^local (?!function)([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(=)?/.exec(l);
    if (m) for (const n of m[1]!.split(',')) declared.set(n.trim(), m[2] === '=');
  }
  // Assignment targets inside functions (an indented statement, or one after then/do/else):
  // `a = …`, `a, b = …`; `a.b = …` is a field.
  const assigned = new Set<string>();
  lines.forEach((l, i) => {
    if (i >= beginAt && i <= beginEnd) return;
    for (const m of l.matchAll(/(?:^\s+|\bthen\s+|\bdo\s+|\belse\s+|;\s*)((?:[\w.]+\s*,\s*)*[\w.]+)\s*=(?!=)/g)) {
      for (const t of m[1]!.split(',')) assigned.add(t.trim());
    }
  });
  return [...declared]
    .filter(([name, withValue]) => (!withValue || assigned.has(name)) && !new RegExp(`\\b${name}\\b`).test(begin))
    .map(([name]) => name);
}

it('lua/lib: every variable a library keeps from run to run is set afresh by its <lib>_begin()', () => {
  // A library outlives its runs (function-library.ts): without begin(), one run's value
  // would reach the next.
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'lua', 'lib');
  const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));
  expect(files.length).toBeGreaterThan(5);
  for (const file of files) {
    const lib = file.replace(/\.lua$/, '');
    expect(unsetState(lib, readFileSync(join(dir, file), 'utf8')), file).toEqual([]);
  }
  // What it finds: state a function changes, or one declared empty, that begin() misses.
  const leaky = [
    'local COUNT = 0',
    'local SEEN',
    'local LIMIT = 24',
    'local KEY',
    'local function x_begin() KEY = KEYS[1] end',
    'local FLAG = false',
    'local function bump()',
    '  COUNT = COUNT + 1',
    '  if COUNT == LIMIT then return end',
    '  if COUNT > 1 then FLAG = true end',
    'end',
  ].join('\n');
  expect(unsetState('x', leaky)).toEqual(['COUNT', 'SEEN', 'FLAG']);
});
