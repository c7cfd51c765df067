// The function library (function-library.ts): includes each once, dependencies first,
// cycles refused; each function sets KEYS/ARGV and begins the libraries its script includes.
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
