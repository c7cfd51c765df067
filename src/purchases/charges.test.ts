import { describe, expect, it } from 'vitest';
import type { ChargeRecord } from '../domain/purchase-records.js';
import { chargeStatement } from './charges.js';

const DAY = 86_400_000;
const start = Date.UTC(2030, 0, 15);
const cycle = { start, end: start + 31 * DAY };

const rec = (over: Partial<ChargeRecord>): ChargeRecord => ({
  purchaseId: 'pur_x',
  kind: 'one_time',
  bundles: 1,
  minutes: 100,
  amountCents: 1500,
  currency: 'USD',
  at: start + DAY,
  brand: 'visa',
  last4: '4242',
  ...over,
});

describe('chargeStatement', () => {
  it('bills purchases of the cycle as they were made, and earlier add-ons as recurring lines at the cycle start', () => {
    const s = chargeStatement(
      [
        rec({ purchaseId: 'pur_old_addon', kind: 'addon', bundles: 2, minutes: 200, amountCents: 3000, at: start - 10 * DAY }),
        rec({ purchaseId: 'pur_old_once', kind: 'one_time', at: start - 5 * DAY }),
        rec({ purchaseId: 'pur_new_once', at: start + 2 * DAY }),
        rec({ purchaseId: 'pur_new_addon', kind: 'addon', at: start + 3 * DAY, amountCents: 1500 }),
        rec({ purchaseId: 'pur_next', at: cycle.end }),
      ],
      cycle,
      'USD',
    );
    expect(s.lines.map((l) => [l.purchaseId, l.kind, l.recurring, l.at])).toEqual([
      ['pur_old_addon', 'addon', true, new Date(start).toISOString()],
      ['pur_new_once', 'one_time', false, new Date(start + 2 * DAY).toISOString()],
      ['pur_new_addon', 'addon', false, new Date(start + 3 * DAY).toISOString()],
    ]);
    expect(s.totalCents).toBe(3000 + 1500 + 1500);
    expect(s).toMatchObject({ cycleStart: new Date(start).toISOString(), cycleEnd: new Date(cycle.end).toISOString(), billedOn: new Date(cycle.end).toISOString(), currency: 'USD' });
    expect(s.lines[0]!.description).toBe('Add-on: 200 more minutes every month (2 bundles of 100), recurring since 2030-01-05');
    expect(s.lines[1]!.description).toBe('One-time minutes: 100 for this cycle (1 bundle of 100), card visa ending 4242');
  });

  it('an ended add-on recurs in no cycle starting at or after its endsAt, and keeps the lines before', () => {
    const ended = rec({ purchaseId: 'pur_ended', kind: 'addon', at: start - 40 * DAY, endedAt: start + DAY, endsAt: cycle.end });
    const last = chargeStatement([ended], cycle, 'USD').lines;
    expect(last.map((l) => [l.purchaseId, l.recurring])).toEqual([['pur_ended', true]]);
    expect(last[0]!.description).toBe('Add-on: 100 more minutes every month (1 bundle of 100), recurring since 2029-12-06; ended 2030-01-16, last billed this cycle');
    const next = { start: cycle.end, end: cycle.end + 30 * DAY };
    expect(chargeStatement([ended], next, 'USD')).toMatchObject({ lines: [], totalCents: 0 });
    // Ended in the cycle it was bought in: that one line, then nothing.
    const short = rec({ purchaseId: 'pur_short', kind: 'addon', at: start + DAY, endedAt: start + 2 * DAY, endsAt: cycle.end });
    expect(chargeStatement([short], cycle, 'USD').lines.map((l) => [l.purchaseId, l.recurring])).toEqual([['pur_short', false]]);
    expect(chargeStatement([short], next, 'USD').lines).toEqual([]);
  });

  it('is empty for a cycle without purchases', () => {
    expect(chargeStatement([], cycle, 'EUR')).toMatchObject({ lines: [], totalCents: 0, currency: 'EUR' });
  });
});
