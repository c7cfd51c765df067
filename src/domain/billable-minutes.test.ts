import { describe, expect, it } from 'vitest';
import { billableMinutes, parseSeconds } from './billable-minutes.js';

describe('billableMinutes (R4)', () => {
  it.each([
    [0, 0],
    [1, 0],
    [30, 0],
    [31, 1],
    [59, 1],
    [60, 1],
    [61, 2],
    [120, 2],
    [121, 3],
    [3600, 60],
    [7200, 120],
  ])('%i s → %i min', (seconds, minutes) => {
    expect(billableMinutes(seconds)).toBe(minutes);
  });

  it('honours other rules', () => {
    expect(billableMinutes(6, { minBillableSeconds: 0, billingIncrementSeconds: 6 })).toBe(1);
    expect(billableMinutes(7, { minBillableSeconds: 0, billingIncrementSeconds: 6 })).toBe(2);
    expect(billableMinutes(45, { minBillableSeconds: 45, billingIncrementSeconds: 60 })).toBe(0);
  });

  it.each([-1, -0.5, 1.5, 30.0001, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 2])(
    'rejects %s',
    (bad) => {
      expect(() => billableMinutes(bad)).toThrow(RangeError);
    },
  );

  it('rejects non-numbers', () => {
    expect(() => billableMinutes('61' as unknown as number)).toThrow(RangeError);
    expect(() => billableMinutes(null as unknown as number)).toThrow(RangeError);
  });
});

describe('parseSeconds', () => {
  it('accepts decimal strings of whole seconds', () => {
    expect(parseSeconds('0')).toBe(0);
    expect(parseSeconds('49')).toBe(49);
  });
  it.each(['', '-1', '1.5', 'abc', '1e3', ' 5', '9999999999'])('rejects %j', (bad) => {
    expect(parseSeconds(bad)).toBeNull();
  });
  it('treats absent as null', () => {
    expect(parseSeconds(undefined)).toBeNull();
  });
});
