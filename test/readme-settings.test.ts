// Every variable the gateway reads is documented in the README (settings tables).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../src/config.js';

it('the README names every configuration variable', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const rows = readme.split('\n').filter((l) => l.startsWith('| `'));
  const missing = CONFIG_VARIABLES.filter((v) => !rows.some((r) => r.includes(`\`${v}\``)));
  expect(missing).toEqual([]);
});
