// The order test files start in. With vitest's cache (a checkout that has run the suite),
// vitest's own order: failed first, then longest first. Without it — CI's fresh clone —
// vitest falls back to the largest files first, which starts some slow small files last
// and leaves workers idle while they finish; the durations recorded in durations.json
// (scripts/test-durations.mjs) stand in for the cache then. Order only: every file runs.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const durations: Record<string, number> = JSON.parse(readFileSync(new URL('./durations.json', import.meta.url), 'utf8'));

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const key = (f: TestSpecification) => `${f.project.name}:${relative(this.ctx.config.root, f.moduleId)}`;
    if (files.every((f) => this.ctx.cache.getFileTestResults(key(f)))) return super.sort(files);
    // A file the list does not know yet goes first, as vitest runs unknown files first.
    const weight = (f: TestSpecification) => durations[key(f)] ?? Number.MAX_SAFE_INTEGER;
    return [...files].sort((a, b) => weight(b) - weight(a));
  }
}
