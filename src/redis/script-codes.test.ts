// The code table and the scripts cannot drift: every code the table names appears in its
// script's header ("{code" in the Returns section), and every script has an entry.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { outcome, SCRIPT_CODES } from './script-codes.js';
import { SCRIPT_NAMES } from './scripts.js';

const LUA = join(import.meta.dirname, 'lua');

it('names every code of every script, as its header documents them', () => {
  const files = readdirSync(LUA).filter((f) => f.endsWith('.lua'));
  for (const name of SCRIPT_NAMES) {
    const file = files.find((f) => f.startsWith(`${name}-`) && /^\D*-(\d+|n)\.lua$/.test(f.slice(name.length)))!;
    const header = readFileSync(join(LUA, file), 'utf8').split(']]')[0]!;
    const returns = header.slice(header.indexOf('Returns'));
    for (const code of Object.keys(SCRIPT_CODES[name])) {
      expect(returns, `${file} documents {${code}`).toMatch(new RegExp(`\\{${code.replace('-', '\\-')}\\b`));
    }
  }
});

it('decodes by name and refuses a code it does not know', () => {
  expect(outcome('record-call-event', [1, 3, 125])).toBe('finalized');
  expect(outcome('purchase', [-23])).toBe('quote_expired');
  expect(() => outcome('release-hold', [42])).toThrow(/release-hold returned unknown code 42/);
});
