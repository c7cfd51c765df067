// The web app's pure helpers: the test tokenizer's checks (a typo never becomes a token),
// the per-day usage series the chart draws, and what a finished call reads as.
import { describe, expect, it } from 'vitest';
import { outcome } from '../web/call-outcome.js';
import { brandOf, luhn, parseExpiry } from '../web/tokenizer.js';
import { dailySeries } from '../web/usage-series.js';

describe('the test tokenizer', () => {
  it('accepts card numbers that pass the Luhn check, and no typo', () => {
    expect(luhn('4242424242424242')).toBe(true);
    expect(luhn('5555555555554444')).toBe(true);
    expect(luhn('378282246310005')).toBe(true);
    expect(luhn('4242424242424241')).toBe(false);
    expect(luhn('0000')).toBe(false); // too short to be a card
  });

  it("names the brand the gateway knows from the number's first digits", () => {
    expect(brandOf('4242424242424242')).toBe('visa');
    expect(brandOf('5555555555554444')).toBe('mastercard');
    expect(brandOf('2223003122003222')).toBe('mastercard');
    expect(brandOf('378282246310005')).toBe('amex');
    expect(brandOf('6011111111111117')).toBe('discover');
    expect(brandOf('3056930009020004')).toBe('diners');
    expect(brandOf('3566002020360505')).toBe('jcb');
    expect(brandOf('6200000000000005')).toBe('unionpay');
    expect(brandOf('9999999999999995')).toBe('other');
  });

  it('reads an expiry as MM/YY or MM/YYYY, and nothing else', () => {
    expect(parseExpiry('12/34')).toEqual({ month: 12, year: 2034 });
    expect(parseExpiry(' 8 / 2029 ')).toEqual({ month: 8, year: 2029 });
    expect(parseExpiry('13/30')).toBeNull();
    expect(parseExpiry('0/30')).toBeNull();
    expect(parseExpiry('1230')).toBeNull();
  });
});

describe('the usage chart', () => {
  it('has one bar slot per UTC day of the cycle, days without calls at 0', () => {
    const s = dailySeries({
      cycleStart: '2026-12-01T00:00:00.000Z',
      cycleEnd: '2026-12-04T00:00:00.000Z',
      groupBy: 'day',
      groups: [{ key: '2026-12-02', calls: 2, billableSeconds: 200, billedMinutes: 5 }],
      totals: { calls: 2, billableSeconds: 200, billedMinutes: 5 },
    });
    expect(s).toEqual([
      { day: '2026-12-01', minutes: 0 },
      { day: '2026-12-02', minutes: 5 },
      { day: '2026-12-03', minutes: 0 },
    ]);
  });
});

describe('a finished call', () => {
  it('reads "No answer" when nobody answered, "free" at 30 s or less, else its minutes', () => {
    expect(outcome({ callSid: 'CA1', state: 'ended', answeredAt: null, billableSeconds: 0, billedMinutes: 0 }).text).toBe('No answer');
    expect(outcome({ callSid: 'CA2', state: 'ended', answeredAt: '2026-12-01T00:00:00Z', billableSeconds: 20, billedMinutes: 0 }).text).toBe('free');
    expect(outcome({ callSid: 'CA3', state: 'ended', answeredAt: '2026-12-01T00:00:00Z', billableSeconds: 125, billedMinutes: 3 }).text).toBe('3 min');
    // A live "ended" frame does not say whether the call was answered: it is not called unanswered.
    expect(outcome({ callSid: 'CA4', state: 'ended', billableSeconds: 0, billedMinutes: 0 }).text).toBe('free');
  });
});
