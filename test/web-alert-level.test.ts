// Which banner the web app shows: from the live balance (≤ 10 % of the plan, or nothing
// left) and from the gateway's alert frames, whichever is more severe, and only while the
// balance is still under the frame's threshold in the same cycle.
import { describe, expect, it } from 'vitest';
import { alertLevel } from '../web/alert-level.js';
import { claimsOf } from '../web/session.js';

const cycle = '2026-11-01T00:00:00.000Z';
const bal = (available: number, planMinutes = 100) => ({ available, planMinutes, monthlyMinutes: planMinutes, cycleStart: cycle });

describe('alertLevel', () => {
  it('from the balance alone: low at 10 % of the plan, exhausted at 0 or below', () => {
    expect(alertLevel(bal(11), null)).toBeNull();
    expect(alertLevel(bal(10), null)).toBe('low');
    expect(alertLevel(bal(1), null)).toBe('low');
    expect(alertLevel(bal(0), null)).toBe('exhausted');
    expect(alertLevel(bal(-3), null)).toBe('exhausted');
    // No plan (add-ons only): only "exhausted" comes from the balance.
    expect(alertLevel(bal(5, 0), null)).toBeNull();
  });

  it("an alert frame counts while the balance is at or under its threshold, in the frame's cycle", () => {
    const low = { level: 'low' as const, threshold: 50, cycleStart: cycle };
    expect(alertLevel(bal(50), low)).toBe('low');
    expect(alertLevel(bal(51), low)).toBeNull(); // raised again (a purchase): the frame no longer applies
    expect(alertLevel(bal(40), { ...low, cycleStart: '2026-10-01T00:00:00.000Z' })).toBeNull(); // last cycle's
    expect(alertLevel(null, low)).toBe('low'); // before the first balance
    // Thresholds are on the balance: minutes reserved for a call do not keep it up.
    expect(alertLevel({ ...bal(48), balance: 51 }, low)).toBeNull();
    expect(alertLevel({ ...bal(52), balance: 50 }, low)).toBe('low');
    // The more severe one wins.
    expect(alertLevel(bal(0), low)).toBe('exhausted');
    expect(alertLevel(bal(0, 0), { level: 'exhausted', threshold: 0, cycleStart: cycle })).toBe('exhausted');
  });
});

describe('claimsOf', () => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  it("reads a staff token's account, staff and expiry; anything else is null", () => {
    const t = `${b64({ alg: 'HS256' })}.${b64({ sub: 'alice', acc: 'acme', staffId: 'alice', accountId: 'acme', exp: 2e9 })}.sig`;
    expect(claimsOf(t)).toEqual({ accountId: 'acme', staffId: 'alice', exp: 2e9 });
    expect(claimsOf('not-a-token')).toBeNull();
    expect(claimsOf(`${b64({})}.${b64({ sub: 'alice' })}.x`)).toBeNull();
    expect(claimsOf('a.%%%.c')).toBeNull();
  });
});
