// The call detail record of a call_debit entry (R19): from the record the entry carries,
// and — for an entry written before entries carried it (a rolling upgrade) — from the
// call's hash, the same record either way.
import { expect, it } from 'vitest';
import { archivedCall, archivedEntry } from './archive-records.js';

const money = { kind: 'call_debit', minutes: '-2', balanceAfter: '98', ref: 'CA1', at: '1700000100000',
  billedMinutes: '2', overageMinutes: '0', billableSeconds: '95', debitedMinutes: '2', cycleStart: '1699000000000', endedAt: '1700000099000' };
const leg = { q: 3, t: 1, s: 'completed', d: 95, m: 2, a: 1, ai: 1700000004000, e: 1700000099000 };
const expected = {
  callSid: 'CA1', direction: 'outbound', from: 'client:a', to: '+14155550100', staffId: 'alice', emergency: false,
  placedAt: 1700000000000, answeredAt: 1700000004500, endedAt: 1700000099000, settledAt: 1700000100000, reservedMinutes: 5,
  billableSeconds: 95, billedMinutes: 2, debitedMinutes: 2, overageMinutes: 0, cycleStart: 1699000000000,
  legs: [{ sid: 'CL1', ...leg }], ledgerEntryId: '1700000100000-0',
};

it('takes the record from the entry, and the same record from the hash of an entry without one', () => {
  const cdr = JSON.stringify({ direction: 'outbound', from: 'client:a', to: '+14155550100', staffId: 'alice',
    placedAt: 1700000000000, answeredAt: 1700000004500, reservedMinutes: 5, legs: [{ ...leg, sid: 'CL1' }] });
  expect(archivedCall({ id: '1700000100000-0', fields: { ...money, cdr } })).toEqual(expected);

  const hash = { state: 'ended', callSid: 'CA1', direction: 'outbound', from: 'client:a', to: '+14155550100', staffId: 'alice',
    createdAt: '1700000000000', answeredAt: '1700000004500', endedAt: '1700000100000', callEndedAt: '1700000099000',
    reservedMinutes: '5', legList: 'CL1,', 'leg:CL1': JSON.stringify(leg) };
  expect(archivedCall({ id: '1700000100000-0', fields: money }, hash)).toEqual(expected);
  expect(archivedCall({ id: '1700000100000-0', fields: money })).toBeNull();
  expect(archivedCall({ id: '1700000100000-0', fields: money }, { ...hash, state: 'active' })).toBeNull();
});

it("reads a call without legs (Lua writes an empty list as {}) and an unanswered one; keeps the record out of the entry's extra", () => {
  const cdr = JSON.stringify({ direction: 'inbound', from: '+1', to: '+2', staffId: '', placedAt: 1, reservedMinutes: 1, legs: {} });
  const fields = { ...money, cdr, emergency: 'true' };
  expect(archivedCall({ id: '1700000100000-0', fields })).toMatchObject({ legs: [], staffId: null, answeredAt: null, emergency: true });
  expect(archivedEntry({ id: '1700000100000-0', fields }).extra).not.toHaveProperty('cdr');
  expect(archivedEntry({ id: '1700000100000-0', fields }).extra).toMatchObject({ billedMinutes: '2', emergency: 'true' });
});
