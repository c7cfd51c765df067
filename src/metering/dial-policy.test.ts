// The one dialling decision (issue #16): what a `To` names, and its normalized destination.
import { describe, expect, it } from 'vitest';
import { decideDestination, mayRing } from './dial-policy.js';

const policy = { emergencyNumbers: ['911', '112', '000'], denyPrefixes: ['+1900'] };
const decide = (to: string) => {
  const d = decideDestination(policy, to);
  return d.kind === 'invalid' ? 'invalid' : `${d.kind} ${d.destination}`;
};

describe('decideDestination', () => {
  it('recognises emergency numbers after removing separators, with or without +', () => {
    for (const to of ['911', '+911', '911 ', ' 911', '(911)', '9-1-1', '9.1.1', '+9 1 1']) expect(decide(to), to).toBe('emergency 911');
    expect(decide('+000')).toBe('emergency 000');
  });

  it('normalizes E.164 numbers and checks their prefix on the normalized form', () => {
    expect(decide('+1 (415) 555-0100')).toBe('number +14155550100');
    expect(decide('+1.900.555.0123')).toBe('denied +19005550123');
  });

  it('names softphones as client:<identity>, whether or not the prefix was written', () => {
    expect(decide('client:bob')).toBe('client client:bob');
    expect(decide('bob')).toBe('client client:bob');
    // Digits that are no number of ours are a bare identity, as before.
    expect(decide('4155550100')).toBe('client client:4155550100');
    // "client:" always names a softphone, even one spelled like an emergency number.
    expect(decide('client:911')).toBe('client client:911');
  });

  it('names nothing otherwise', () => {
    for (const to of ['', '+', '+0123', '(415) 555 0100!', 'client:', 'client:a b']) expect(decide(to), to).toBe('invalid');
  });

  it('rings only identities the caller’s own account holds', () => {
    expect(mayRing('A', { accountId: 'A' })).toBe(true);
    expect(mayRing('A', { accountId: 'B' })).toBe(false);
    expect(mayRing('A', null)).toBe(false);
  });
});
