// The wire contract's frame check (src/wire/contract.ts), which the client package runs on
// every frame: each server message type as the gateway sends it is accepted with its extra
// fields kept; anything else is null, never an exception.
import { describe, expect, it } from 'vitest';
import { isDenialReason, parseServerMessage } from '../src/wire/contract.js';

const balance = {
  type: 'balance', accountId: 'acme', balance: 10, reserved: 1, available: 9, planMinutes: 10, addonMinutes: 0, monthlyMinutes: 10,
  usedThisCycle: 0, overageThisCycle: 0, activeCalls: 0, cycleStart: '2026-12-01T00:00:00.000Z', cycleEnd: '2027-01-01T00:00:00.000Z', version: 3,
};

describe('parseServerMessage', () => {
  it('accepts every message type the gateway sends, keeping fields it does not know', () => {
    const frames = [
      balance,
      { type: 'call', event: 'ended', callSid: 'CA1', version: 4, billedMinutes: 2 },
      { type: 'alert', level: 'low', available: 5, threshold: 5, cycleStart: '2026-12-01T00:00:00.000Z' },
      { type: 'authorized', requestId: 'r-1', authorizationId: 'az1', expiresAt: '2026-12-01T00:01:00.000Z' },
      { type: 'denied', requestId: 7, reason: 'no_minutes' },
      { type: 'canceled', authorizationId: 'az1' },
      { type: 'pong' },
      { type: 'error', code: 'VALIDATION_FAILED', message: 'to: required', requestId: 'r-2' },
    ];
    for (const f of frames) expect(parseServerMessage(JSON.stringify(f)), f.type).toEqual(f);
  });

  it('refuses what is not a message of the contract', () => {
    const { version: _v, ...noVersion } = balance;
    for (const text of [
      'not json',
      '[]',
      'null',
      '"balance"',
      JSON.stringify({ type: 'nope' }),
      JSON.stringify({ type: 'toString' }),
      JSON.stringify(noVersion),
      JSON.stringify({ ...balance, available: '9' }),
      JSON.stringify({ type: 'alert', level: 'high', available: 1, threshold: 1 }),
      JSON.stringify({ type: 'authorized', requestId: null, authorizationId: 'a', expiresAt: 'x' }),
      JSON.stringify({ type: 'error', code: 'X' }),
    ]) {
      expect(parseServerMessage(text), text).toBeNull();
    }
  });

  it('knows the denial reasons by name', () => {
    expect(['no_minutes', 'too_many_open_authorizations', 'destination_not_allowed'].every(isDenialReason)).toBe(true);
    expect(isDenialReason('because')).toBe(false);
  });
});
