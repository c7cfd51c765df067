import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cycleAt, cycleContaining, cycleStartAt, nextCycleStart } from './cycle.js';
import { CycleHints } from './cycle.js';

const TIME = 'T13:45:10.123Z';
const ms = (iso: string): number => {
  const v = Date.parse(iso);
  if (Number.isNaN(v)) throw new Error(`bad fixture ${iso}`);
  return v;
};
const iso = (v: number): string => new Date(v).toISOString();
const at = (date: string): string => `${date}${TIME}`;

/** Cycles 0..23: 2027-01 through 2028-12 (Feb 2028 is a leap February). */
const EXPECTED_31: string[] = [
  '2027-01-31', '2027-02-28', '2027-03-31', '2027-04-30', '2027-05-31', '2027-06-30',
  '2027-07-31', '2027-08-31', '2027-09-30', '2027-10-31', '2027-11-30', '2027-12-31',
  '2028-01-31', '2028-02-29', '2028-03-31', '2028-04-30', '2028-05-31', '2028-06-30',
  '2028-07-31', '2028-08-31', '2028-09-30', '2028-10-31', '2028-11-30', '2028-12-31',
].map(at);

const EXPECTED_29: string[] = [
  '2027-01-29', '2027-02-28', '2027-03-29', '2027-04-29', '2027-05-29', '2027-06-29',
  '2027-07-29', '2027-08-29', '2027-09-29', '2027-10-29', '2027-11-29', '2027-12-29',
  '2028-01-29', '2028-02-29', '2028-03-29', '2028-04-29', '2028-05-29', '2028-06-29',
  '2028-07-29', '2028-08-29', '2028-09-29', '2028-10-29', '2028-11-29', '2028-12-29',
].map(at);

const EXPECTED_30: string[] = [
  '2027-01-30', '2027-02-28', '2027-03-30', '2027-04-30', '2027-05-30', '2027-06-30',
  '2027-07-30', '2027-08-30', '2027-09-30', '2027-10-30', '2027-11-30', '2027-12-30',
  '2028-01-30', '2028-02-29', '2028-03-30', '2028-04-30', '2028-05-30', '2028-06-30',
  '2028-07-30', '2028-08-30', '2028-09-30', '2028-10-30', '2028-11-30', '2028-12-30',
].map(at);

/** Explicit month lengths for 2027 and 2028 (independent of the implementation). */
const MONTH_LENGTHS: Array<[year: number, lengths: number[]]> = [
  [2027, [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]],
  [2028, [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]],
];

function expectedForDay(day: number): string[] {
  const out: string[] = [];
  for (const [year, lengths] of MONTH_LENGTHS) {
    lengths.forEach((len, m) => {
      const d = Math.min(day, len);
      out.push(at(`${year}-${String(m + 1).padStart(2, '0')}-${String(d).padStart(2, '0')}`));
    });
  }
  return out;
}

const ANCHOR_DAYS = [1, 15, 28, 29, 30, 31] as const;
const anchorFor = (day: number): number => ms(at(`2027-01-${String(day).padStart(2, '0')}`));

describe('cycleStartAt', () => {
  it('clamps a Jan-31 anchor to month ends across 2027–2028 incl. leap Feb', () => {
    const anchor = anchorFor(31);
    const got = Array.from({ length: 24 }, (_, n) => iso(cycleStartAt(anchor, n)));
    expect(got).toEqual(EXPECTED_31);
  });

  it('clamps a Jan-29 anchor only in non-leap February', () => {
    const anchor = anchorFor(29);
    const got = Array.from({ length: 24 }, (_, n) => iso(cycleStartAt(anchor, n)));
    expect(got).toEqual(EXPECTED_29);
  });

  it('handles a Jan-30 anchor', () => {
    const anchor = anchorFor(30);
    const got = Array.from({ length: 24 }, (_, n) => iso(cycleStartAt(anchor, n)));
    expect(got).toEqual(EXPECTED_30);
  });

  it('sanity: the generated expectations agree with the explicit lists', () => {
    expect(expectedForDay(31)).toEqual(EXPECTED_31);
    expect(expectedForDay(30)).toEqual(EXPECTED_30);
    expect(expectedForDay(29)).toEqual(EXPECTED_29);
  });

  it.each(ANCHOR_DAYS)('anchor on day %i walks 24 cycles exactly (keeps time of day)', (day) => {
    const anchor = anchorFor(day);
    const got = Array.from({ length: 24 }, (_, n) => iso(cycleStartAt(anchor, n)));
    expect(got).toEqual(expectedForDay(day));
    for (const s of got) expect(s.endsWith(TIME)).toBe(true);
  });

  it('crosses December → January', () => {
    const anchor = ms(at('2027-10-31'));
    expect(iso(cycleStartAt(anchor, 1))).toBe(at('2027-11-30'));
    expect(iso(cycleStartAt(anchor, 2))).toBe(at('2027-12-31'));
    expect(iso(cycleStartAt(anchor, 3))).toBe(at('2028-01-31'));
    expect(iso(cycleStartAt(anchor, 4))).toBe(at('2028-02-29'));
    expect(iso(cycleStartAt(anchor, 15))).toBe(at('2029-01-31'));
  });

  it('does not drift: cycle 24 of a Jan-31 anchor is Jan 31 two years later', () => {
    const anchor = anchorFor(31);
    expect(iso(cycleStartAt(anchor, 24))).toBe(at('2029-01-31'));
    expect(iso(cycleStartAt(anchor, 25))).toBe(at('2029-02-28'));
    expect(iso(cycleStartAt(anchor, 12 * 100))).toBe(at('2127-01-31'));
  });

  it('cycle 0 is the anchor itself', () => {
    for (const day of ANCHOR_DAYS) expect(cycleStartAt(anchorFor(day), 0)).toBe(anchorFor(day));
  });

  it('supports negative n with the same clamped arithmetic', () => {
    const anchor = ms(at('2027-03-31'));
    expect(iso(cycleStartAt(anchor, -1))).toBe(at('2027-02-28'));
    expect(iso(cycleStartAt(anchor, -2))).toBe(at('2027-01-31'));
    expect(iso(cycleStartAt(anchor, -3))).toBe(at('2026-12-31'));
    expect(iso(cycleStartAt(anchor, -4))).toBe(at('2026-11-30'));
    expect(iso(cycleStartAt(anchor, -13))).toBe(at('2026-02-28'));
    expect(iso(cycleStartAt(anchor, -37))).toBe(at('2024-02-29'));
  });

  it('handles pre-1970 and early-year anchors', () => {
    const anchor = ms('1969-12-31T23:59:59.999Z');
    expect(iso(cycleStartAt(anchor, 2))).toBe('1970-02-28T23:59:59.999Z');
    const early = ms('0050-01-31T00:00:00.000Z');
    expect(iso(cycleStartAt(early, 1))).toBe('0050-02-28T00:00:00.000Z');
  });
});

describe('cycleContaining', () => {
  const anchor = anchorFor(31);

  it('start is inclusive, end is exclusive', () => {
    const c1 = cycleAt(anchor, 1);
    expect(iso(c1.start)).toBe(at('2027-02-28'));
    expect(iso(c1.end)).toBe(at('2027-03-31'));

    expect(cycleContaining(anchor, c1.start)).toEqual(c1);
    expect(cycleContaining(anchor, c1.end)).toEqual(cycleAt(anchor, 2));
    expect(cycleContaining(anchor, c1.end - 1)).toEqual(c1);
    expect(cycleContaining(anchor, c1.start - 1)).toEqual(cycleAt(anchor, 0));
  });

  it('at the anchor is cycle 0, a millisecond before is cycle -1', () => {
    expect(cycleContaining(anchor, anchor)).toEqual({
      index: 0,
      start: anchor,
      end: ms(at('2027-02-28')),
    });
    expect(cycleContaining(anchor, anchor - 1)).toEqual({
      index: -1,
      start: ms(at('2026-12-31')),
      end: anchor,
    });
  });

  it('same calendar day, earlier time of day falls in the previous cycle', () => {
    const c = cycleContaining(anchor, ms('2027-03-31T00:00:00.000Z'));
    expect(c.index).toBe(1);
    expect(iso(c.start)).toBe(at('2027-02-28'));
    const d = cycleContaining(anchor, ms('2027-03-31T23:00:00.000Z'));
    expect(d.index).toBe(2);
  });

  it('exact boundaries across all 24 cycles and all anchor days', () => {
    for (const day of ANCHOR_DAYS) {
      const a = anchorFor(day);
      for (let n = 0; n < 24; n++) {
        const s = cycleStartAt(a, n);
        expect(cycleContaining(a, s).index).toBe(n);
        expect(cycleContaining(a, s - 1).index).toBe(n - 1);
        expect(cycleContaining(a, s + 1).index).toBe(n);
      }
    }
  });

  it('far in the future (100 years)', () => {
    const now = ms('2127-01-31T13:45:10.122Z');
    const c = cycleContaining(anchor, now);
    expect(c.index).toBe(12 * 100 - 1);
    expect(iso(c.start)).toBe(at('2126-12-31'));
    expect(iso(c.end)).toBe(at('2127-01-31'));
    expect(cycleContaining(anchor, now + 1).index).toBe(12 * 100);
  });

  it('well before the anchor', () => {
    const c = cycleContaining(anchor, ms('2026-06-15T00:00:00.000Z'));
    expect(c.index).toBe(-8);
    expect(iso(c.start)).toBe(at('2026-05-31'));
    expect(iso(c.end)).toBe(at('2026-06-30'));
  });

  it('always contains now (property)', () => {
    const lo = ms('1900-01-01T00:00:00.000Z');
    const hi = ms('2300-01-01T00:00:00.000Z');
    fc.assert(
      fc.property(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }), (a, now) => {
        const c = cycleContaining(a, now);
        expect(c.start).toBeLessThanOrEqual(now);
        expect(now).toBeLessThan(c.end);
        expect(c.start).toBe(cycleStartAt(a, c.index));
        expect(c.end).toBe(cycleStartAt(a, c.index + 1));
        expect(nextCycleStart(a, now)).toBe(c.end);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('nextCycleStart', () => {
  it('is the end of the containing cycle', () => {
    const anchor = anchorFor(31);
    expect(iso(nextCycleStart(anchor, ms('2028-02-10T00:00:00.000Z')))).toBe(at('2028-02-29'));
    expect(iso(nextCycleStart(anchor, ms(at('2028-02-29'))))).toBe(at('2028-03-31'));
    expect(iso(nextCycleStart(anchor, anchor - 1))).toBe(iso(anchor));
  });
});

describe('tiling', () => {
  it.each(ANCHOR_DAYS)('day-%i anchor: 300 consecutive cycles tile without gaps', (day) => {
    const a = anchorFor(day);
    let prev = cycleAt(a, -5);
    for (let n = -4; n < 300; n++) {
      const c = cycleAt(a, n);
      expect(c.start).toBe(prev.end);
      expect(c.end).toBeGreaterThan(c.start);
      // 28..31 days long
      const days = (c.end - c.start) / 86_400_000;
      expect(days).toBeGreaterThanOrEqual(28);
      expect(days).toBeLessThanOrEqual(31);
      expect(iso(c.start).endsWith(TIME)).toBe(true);
      prev = c;
    }
    // no drift after 300 cycles (25 years)
    expect(iso(cycleStartAt(a, 300))).toBe(at(`2052-01-${String(day).padStart(2, '0')}`));
  });
});

describe('input validation', () => {
  const a = anchorFor(15);
  const bad = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

  it.each(bad)('cycleStartAt rejects anchor %s', (v) => {
    expect(() => cycleStartAt(v, 0)).toThrow(RangeError);
    expect(() => cycleStartAt(v, 0)).toThrow(/anchorMs must be a finite/);
  });

  it.each(bad)('cycleStartAt rejects n %s', (v) => {
    expect(() => cycleStartAt(a, v)).toThrow(RangeError);
    expect(() => cycleStartAt(a, v)).toThrow(/n must be a finite integer/);
  });

  it.each(bad)('cycleContaining / nextCycleStart reject %s', (v) => {
    expect(() => cycleContaining(v, a)).toThrow(/anchorMs/);
    expect(() => cycleContaining(a, v)).toThrow(/nowMs/);
    expect(() => nextCycleStart(v, a)).toThrow(RangeError);
    expect(() => nextCycleStart(a, v)).toThrow(RangeError);
  });

  it('rejects non-integer values and out-of-range dates', () => {
    expect(() => cycleStartAt(a, 1.5)).toThrow(RangeError);
    expect(() => cycleStartAt(a + 0.5, 0)).toThrow(RangeError);
    expect(() => cycleContaining(a, a + 0.5)).toThrow(RangeError);
    expect(() => cycleStartAt(9e15, 0)).toThrow(/outside the representable/);
    expect(() => cycleStartAt(a, 12 * 400_000)).toThrow(/outside the representable/);
    // @ts-expect-error runtime guard against non-number input
    expect(() => cycleStartAt('2027-01-01', 0)).toThrow(RangeError);
  });
});

describe('CycleHints', () => {
  it('names the cycle containing now once the anchor is known, and moves on when it ends', () => {
    const h = new CycleHints();
    const anchor = Date.UTC(2030, 0, 31, 9);
    expect(h.hint('a', Date.UTC(2030, 1, 10))).toBe('');
    h.remember('a', anchor);
    const feb = cycleContaining(anchor, Date.UTC(2030, 1, 10));
    expect(h.hint('a', Date.UTC(2030, 1, 10))).toBe(`${feb.index}:${feb.start}:${feb.end}`);
    const mar = cycleContaining(anchor, feb.end);
    expect(h.hint('a', feb.end)).toBe(`${mar.index}:${mar.start}:${mar.end}`);
  });
});
