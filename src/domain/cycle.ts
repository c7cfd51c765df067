/**
 * Billing cycles (design rule R8).
 *
 * Every account has a billing anchor: a UTC instant in ms since the epoch.
 * Cycle `n` starts at `anchor + n calendar months`, with the day of month
 * clamped to the last day of the target month, and the anchor's UTC time of
 * day kept. Every start is computed from the anchor itself (never from the
 * previous cycle), so a Jan-31 anchor gives Feb 28/29, Mar 31, Apr 30, ...
 * and never drifts to the 28th.
 *
 * Cycle `n` is the half-open interval [cycleStartAt(n), cycleStartAt(n + 1)).
 * Negative `n` follows the same arithmetic (cycle -1 is the month before the
 * anchor), so any instant — including one before the anchor — lies in exactly
 * one cycle.
 *
 * Pure: no clock access, all times are passed in. Inputs must be integers
 * (ms since epoch / cycle index) inside the ECMAScript Date range; anything
 * else throws a RangeError.
 */

export interface Cycle {
  /** Cycle number relative to the anchor (0 = the cycle starting at the anchor; negative before it). */
  index: number;
  /** Inclusive start, ms since epoch (UTC). */
  start: number;
  /** Exclusive end, ms since epoch (UTC) — equal to the next cycle's start. */
  end: number;
}

/** Largest absolute time value a JS Date can hold (±100,000,000 days). */
const MAX_TIME_MS = 8.64e15;
const MS_PER_DAY = 86_400_000;

function assertInstant(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number of ms since epoch, got ${String(value)}`);
  }
  if (!Number.isInteger(value)) {
    throw new RangeError(`${name} must be an integer number of ms since epoch, got ${value}`);
  }
  if (Math.abs(value) > MAX_TIME_MS) {
    throw new RangeError(`${name} is outside the representable date range: ${value}`);
  }
}

function assertIndex(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isInteger(value)) {
    throw new RangeError(`${name} must be a finite integer, got ${String(value)}`);
  }
}

interface Parts {
  /** year * 12 + month (month 0-based) */
  monthIndex: number;
  /** 1..31 */
  day: number;
  /** ms since UTC midnight, 0..86_399_999 */
  timeOfDay: number;
}

function parts(ms: number): Parts {
  const d = new Date(ms);
  const timeOfDay = ((ms % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
  return {
    monthIndex: d.getUTCFullYear() * 12 + d.getUTCMonth(),
    day: d.getUTCDate(),
    timeOfDay,
  };
}

/** ms at UTC midnight of (year, month0, day). Avoids Date.UTC's 0..99 → 1900+ year mapping. */
function utcMidnight(year: number, month0: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month0, day);
  return d.getTime();
}

function daysInMonth(year: number, month0: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month0 + 1, 0); // day 0 of next month = last day of this month
  return d.getUTCDate();
}

function startFromParts(anchor: Parts, n: number): number {
  const total = anchor.monthIndex + n;
  const year = Math.floor(total / 12);
  const month0 = total - year * 12;
  const day = Math.min(anchor.day, daysInMonth(year, month0));
  const ms = utcMidnight(year, month0, day) + anchor.timeOfDay;
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME_MS) {
    throw new RangeError(`cycle ${n} of anchor lies outside the representable date range`);
  }
  return ms;
}

/** Start (inclusive, ms since epoch) of cycle `n` for the given anchor. `n` may be negative. */
export function cycleStartAt(anchorMs: number, n: number): number {
  assertInstant('anchorMs', anchorMs);
  assertIndex('n', n);
  return startFromParts(parts(anchorMs), n);
}

/** Cycle `n` as a half-open interval [start, end). */
export function cycleAt(anchorMs: number, n: number): Cycle {
  assertInstant('anchorMs', anchorMs);
  assertIndex('n', n);
  const a = parts(anchorMs);
  return { index: n, start: startFromParts(a, n), end: startFromParts(a, n + 1) };
}

/**
 * The cycle whose [start, end) contains `nowMs`. Before the anchor this is a
 * negative-index cycle (e.g. index -1 = [anchor − 1 month (clamped), anchor)).
 * O(1): the index is estimated from the calendar-month difference and
 * corrected by at most one step.
 */
export function cycleContaining(anchorMs: number, nowMs: number): Cycle {
  assertInstant('anchorMs', anchorMs);
  assertInstant('nowMs', nowMs);
  const a = parts(anchorMs);
  const now = parts(nowMs);

  // Cycle k starts inside now's calendar month, so start(k - 1) < now < start(k + 1);
  // the answer is k or k - 1. The loops are defensive and run at most once.
  let n = now.monthIndex - a.monthIndex;
  let start = startFromParts(a, n);
  while (start > nowMs) {
    n -= 1;
    start = startFromParts(a, n);
  }
  let end = startFromParts(a, n + 1);
  while (end <= nowMs) {
    n += 1;
    start = end;
    end = startFromParts(a, n + 1);
  }
  return { index: n, start, end };
}

/** Convenience: the exclusive end of the cycle containing `nowMs` (= start of the next cycle). */
export function nextCycleStart(anchorMs: number, nowMs: number): number {
  return cycleContaining(anchorMs, nowMs).end;
}

// What every pool script is told about the cycle that contains "now" ("index:start:end",
// ms), so a due reset is applied in the same script without a second round trip. Billing
// anchors never change, so an instance remembers them (a script answers CYCLE_DUE with the
// anchor the first time); the hint of each account is cached until its cycle ends. In
// memory only, bounded.
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
