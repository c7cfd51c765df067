// Every variable the gateway reads is documented in docs/operating.md's Settings tables, and
// every variable those tables name is one the gateway reads (a renamed or removed setting
// cannot linger in the documentation).
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../src/config.js';
import { readText, section } from './support/markdown.js';

const operating = readText(new URL('../docs/operating.md', import.meta.url));

/** The variables named in the first cell of each row of the Settings section's tables. */
function documentedSettings(): string[] {
  const rows = section(operating, 'Settings')
    .split('\n')
    .filter((l) => l.startsWith('| `'));
  return rows.flatMap((r) => [...r.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!));
}

describe('the Settings tables of docs/operating.md', () => {
  it('name every configuration variable', () => {
    const documented = new Set(documentedSettings());
    expect(CONFIG_VARIABLES.filter((v) => !documented.has(v))).toEqual([]);
  });

  it('name no variable the gateway does not read, and each once', () => {
    const documented = documentedSettings();
    expect(documented.filter((v) => !CONFIG_VARIABLES.includes(v))).toEqual([]);
    expect(documented.filter((v, i) => documented.indexOf(v) !== i)).toEqual([]);
  });
});
