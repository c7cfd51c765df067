// The documentation holds together: the README stays a front door (short, with the test
// command CI runs), every relative link in README.md, BENCHMARKS.md and docs/*.md reaches a
// file of the repository (and a `#anchor` a heading of it), the alert rules' runbook links
// too, every source path the documents name exists, and no tracked file points outside the
// repository.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { anchors, links, proseLines, readText } from './support/markdown.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = join(ROOT, 'docs');
const documents = [
  'README.md',
  'BENCHMARKS.md',
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const text = (file: string): string => readText(new URL(file, `file://${ROOT}/`));

/** Why a link from `from` (a path relative to the root) to `target` does not resolve, or null. */
function brokenLink(from: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto: — not ours to check
  const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = pathPart === '' ? join(ROOT, from) : resolve(dirname(join(ROOT, from)), decodeURIComponent(pathPart));
  const rel = relative(ROOT, file);
  if (rel.startsWith('..')) return `${target} leaves the repository`;
  if (!existsSync(file)) return `${target}: no such file`;
  if (anchor !== undefined) {
    if (!file.endsWith('.md') || statSync(file).isDirectory()) return `${target}: an anchor into a file that is not Markdown`;
    if (!anchors(readText(new URL(`file://${file}`))).has(anchor)) return `${target}: no heading with that anchor in ${rel}`;
  }
  return null;
}

describe('README.md', () => {
  const readme = text('README.md');

  it('is a front door of at most 300 lines', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
  });

  it('keeps the test command CI runs, and the commands a newcomer needs', () => {
    expect(readme).toMatch(/^npm test\b/m);
    for (const c of ['npm ci && npm start', 'npm run demo', 'npm run simulate']) expect(readme).toContain(c);
  });

  it('maps every file of docs/', () => {
    const mapped = new Set(links(readme).map((l) => l.target.split('#')[0]));
    const missing = documents.filter((d) => d.startsWith('docs/') && !mapped.has(d));
    expect(missing).toEqual([]);
    expect(mapped.has('BENCHMARKS.md')).toBe(true);
  });
});

describe('links', () => {
  it('every relative link of README.md, BENCHMARKS.md and docs/*.md resolves, anchors included', () => {
    const broken: string[] = [];
    for (const doc of documents) {
      for (const { target, n } of links(text(doc))) {
        const why = brokenLink(doc, target);
        if (why) broken.push(`${doc}:${n}: ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every runbook of the alert rules names a section of the documentation', () => {
    const rules = parse(text('deploy/prometheus/alerts.yml')) as {
      groups: { rules: { alert: string; annotations: { runbook: string } }[] }[];
    };
    const broken = rules.groups
      .flatMap((g) => g.rules)
      .map((r) => [r.alert, brokenLink('README.md', r.annotations.runbook)] as const)
      .filter(([, why]) => why !== null);
    expect(broken).toEqual([]);
    for (const g of rules.groups) for (const r of g.rules) expect(r.annotations.runbook, r.alert).toMatch(/^docs\/[\w-]+\.md#./);
  });
});

describe('the documents name real files', () => {
  it('every src/, test/, scripts/, web/ and deploy/ path in backquotes exists', () => {
    const missing: string[] = [];
    for (const doc of documents) {
      for (const { line, n } of proseLines(text(doc))) {
        for (const m of line.matchAll(/`((?:src|test|scripts|web|deploy)\/[^`\s]*)`/g)) {
          const path = m[1]!.replace(/[),.:;]+$/, '');
          if (/[*{<…]/.test(path)) continue; // a pattern, not a path
          if (!existsSync(join(ROOT, path))) missing.push(`${doc}:${n}: ${path}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('the repository stands on its own', () => {
  /** Every text file of the checkout, minus installed, built and ignored scratch folders. */
  function files(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const path = join(dir, e.name);
      if (e.isSymbolicLink()) return [];
      if (e.isDirectory()) return ['node_modules', '.git', 'dist', 'scratch', 'coverage'].includes(e.name) ? [] : files(path);
      // Binary files, the lock file, and what a run leaves behind (logs, CI's test report) are not the repository's text.
      const skip = /\.(png|jpe?g|gif|ico|woff2?|gz|br|log)$/.test(e.name) || ['package-lock.json', 'vitest-report.json'].includes(e.name);
      return skip ? [] : [path];
    });
  }

  it('no file points at documents outside it', () => {
    // Spelled in pieces so that this file does not match itself.
    const outside = ['../' + 'shared', '/work/' + 'shared', 'DESIGN' + '.md', 'DESIGN' + ' §', 'PERF' + '.md', 'PROTOCOL' + '.md', 'STYLE' + '.md'];
    const hits: string[] = [];
    for (const file of files(ROOT)) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const o of outside) if (line.includes(o)) hits.push(`${relative(ROOT, file)}:${i + 1}: ${o}`);
      });
    }
    expect(hits).toEqual([]);
  });
});
