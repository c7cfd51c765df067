// Just enough Markdown for the documentation tests: the anchors GitHub gives a file's
// headings, the links a file makes, and the rows of a section's tables. Fenced code blocks
// are skipped (a `# comment` in a shell example is not a heading).
import { readFileSync } from 'node:fs';

/** The lines of a Markdown text outside fenced code blocks, with their 1-based line numbers. */
export function proseLines(text: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fence: string | null = null;
  text.split('\n').forEach((line, i) => {
    const m = /^\s*(```|~~~)/.exec(line);
    if (m) {
      if (fence === null) fence = m[1]!;
      else if (m[1] === fence) fence = null;
      return;
    }
    if (fence === null) out.push({ line, n: i + 1 });
  });
  return out;
}

/** GitHub's anchor for a heading: formatting dropped, lower case, punctuation dropped, spaces → '-'. */
export function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // [text](link) → text
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a file's headings define, with GitHub's -1, -2 … for repeated ones. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line } of proseLines(text)) {
    const m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[2]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

/** The targets of a file's Markdown links and images and of its HTML src/href attributes, outside code. */
export function links(text: string): { target: string; n: number }[] {
  const out: { target: string; n: number }[] = [];
  for (const { line, n } of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, ''); // inline code is not a link
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1]!, n });
    for (const m of prose.matchAll(/\b(?:src|href)="([^"]+)"/g)) out.push({ target: m[1]!, n });
  }
  return out;
}

/** The part of a Markdown text under the heading `heading` (any level), up to the next heading of that level or higher. */
export function section(text: string, heading: string): string {
  const lines = proseLines(text);
  const start = lines.findIndex(({ line }) => /^#{1,6}\s/.test(line) && line.replace(/^#+\s+/, '').trim() === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = /^(#+)/.exec(lines[start]!.line)![1]!.length;
  const rest = lines.slice(start + 1);
  const end = rest.findIndex(({ line }) => {
    const m = /^(#+)\s/.exec(line);
    return m !== null && m[1]!.length <= level;
  });
  return (end < 0 ? rest : rest.slice(0, end)).map(({ line }) => line).join('\n');
}

export function readText(url: URL): string {
  return readFileSync(url, 'utf8');
}
