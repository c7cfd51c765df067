// R8 next to its calendar (cycle.ts): what every pool script is told about the cycle that
// contains "now" ("index:start:end", ms), so a due reset is applied in the same script
// without a second round trip. Billing anchors never change, so an instance remembers
// them (a script answers CYCLE_DUE with the anchor the first time); the hint of each
// account is cached until its cycle ends. In memory only, bounded.
import { cycleContaining } from './cycle.js';

const MAX_ACCOUNTS = 100_000;

export class CycleHints {
  private readonly anchors = new Map<string, number>();
  private readonly hints = new Map<string, { start: number; end: number; hint: string }>();

  remember(accountId: string, anchor: number): void {
    if (this.anchors.size > MAX_ACCOUNTS) this.anchors.clear();
    this.anchors.set(accountId, anchor);
  }

  /** The hint for `now`, or "" when the anchor is not known yet. */
  hint(accountId: string, now: number): string {
    const cached = this.hints.get(accountId);
    if (cached && cached.start <= now && now < cached.end) return cached.hint;
    const anchor = this.anchors.get(accountId);
    if (anchor === undefined) return '';
    const c = cycleContaining(anchor, now);
    const hint = `${c.index}:${c.start}:${c.end}`;
    if (this.hints.size > MAX_ACCOUNTS) this.hints.clear();
    this.hints.set(accountId, { start: c.start, end: c.end, hint });
    return hint;
  }
}
