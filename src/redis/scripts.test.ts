// Lua includes: each library once, its own includes first, cycles refused.
import { expect, it } from 'vitest';
import { resolveIncludes } from './scripts.js';

const libs: Record<string, string> = {
  a: 'local A = 1\n',
  b: '--!include a\nlocal B = A + 1\n',
  c: '--!include a\n--!include b\nlocal C = B + 1\n',
  x: '--!include y\n',
  y: '--!include x\n',
};
const read = (n: string) => {
  const v = libs[n];
  if (v === undefined) throw new Error(`no lib ${n}`);
  return v;
};

it('pulls each library in once, dependencies first, ahead of the script', () => {
  const out = resolveIncludes('--!include c\n--!include b\nreturn C\n', read);
  const order = [...out.matchAll(/-- ==== lib\/(\w)\.lua ====/g)].map((m) => m[1]);
  expect(order).toEqual(['a', 'b', 'c']);
  expect(out.endsWith('-- ==== script ====\n--!include c\n--!include b\nreturn C\n')).toBe(true);
});

it('leaves a script without includes as it is, and refuses a cycle or an unknown library', () => {
  expect(resolveIncludes('return 1\n', read)).toBe('return 1\n');
  expect(() => resolveIncludes('--!include x\n', read)).toThrow(/cycle: x -> y -> x/);
  expect(() => resolveIncludes('--!include nope\n', read)).toThrow(/no lib nope/);
});
