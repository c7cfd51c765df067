import { describe, expect, it } from 'vitest';
import { signStaffToken, verifyStaffToken } from './staff-token.js';

const secret = 'x'.repeat(40);

describe('staff tokens', () => {
  it('round-trips the claims until expiry', () => {
    const now = 1_800_000_000_000;
    const { token, expiresAt } = signStaffToken(secret, { accountId: 'acme', staffId: 's1' }, now, 60);
    expect(expiresAt).toBe(now + 60_000);
    expect(verifyStaffToken(secret, token, now)).toMatchObject({ accountId: 'acme', staffId: 's1' });
    expect(verifyStaffToken(secret, token, now + 60_000)).toBeNull();
  });

  it('rejects another secret, tampering, alg none and garbage', () => {
    const now = 1_800_000_000_000;
    const { token } = signStaffToken(secret, { accountId: 'acme', staffId: 's1' }, now, 60);
    expect(verifyStaffToken('y'.repeat(40), token, now)).toBeNull();
    const [h, p, s] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ sub: 's1', acc: 'other', exp: 9e9, typ: 'staff' })).toString('base64url');
    expect(verifyStaffToken(secret, `${h}.${forged}.${s}`, now)).toBeNull();
    const none = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    expect(verifyStaffToken(secret, `${none}.${p}.`, now)).toBeNull();
    for (const junk of ['', 'a.b', 'a.b.c', '...', 'x'.repeat(5000)]) expect(verifyStaffToken(secret, junk, now)).toBeNull();
  });
});

describe('staff tokens: one spelling (issue #8)', () => {
  const now = 1_800_000_000_000;
  it('refuses padding, the standard alphabet, extra characters and non-canonical trailing bits', () => {
    const { token } = signStaffToken(secret, { accountId: 'acme', staffId: 's1' }, now, 60);
    const [h, p, s] = token.split('.') as [string, string, string];
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = s.slice(0, -1) + B64[B64.indexOf(s[s.length - 1]!) ^ 1];
    // The respelled signature decodes to the same bytes: only the spelling differs.
    expect(Buffer.from(respelled, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    for (const v of [`${h}.${p}.${respelled}`, `${h}.${p}.${s}=`, `${h}==.${p}.${s}`, ` ${token}`, `${token} `, `${h}.${p}.${s}.`]) {
      expect(verifyStaffToken(secret, v, now)).toBeNull();
    }
    expect(verifyStaffToken(secret, token, now)).toMatchObject({ gen: 0 });
  });

  it('carries the generation it was issued with', () => {
    const { token } = signStaffToken(secret, { accountId: 'acme', staffId: 's1', gen: 7 }, now, 60);
    expect(verifyStaffToken(secret, token, now)).toMatchObject({ accountId: 'acme', staffId: 's1', gen: 7 });
  });
});

describe('rotation: a list of secrets, the current first', () => {
  const now = 1_800_000_000_000;
  const [current, previous, other] = ['c'.repeat(40), 'p'.repeat(40), 'o'.repeat(40)];

  it('verifies a token signed with any secret of the list, and with no other', () => {
    const old = signStaffToken(previous, { accountId: 'acme', staffId: 's1', gen: 3 }, now, 60).token;
    expect(verifyStaffToken([current, previous], old, now)).toMatchObject({ accountId: 'acme', staffId: 's1', gen: 3 });
    expect(verifyStaffToken([current, other, previous], old, now)).toMatchObject({ staffId: 's1' });
    // The previous secret dropped: its tokens are refused.
    expect(verifyStaffToken([current], old, now)).toBeNull();
    expect(verifyStaffToken([current, other], old, now)).toBeNull();
    expect(verifyStaffToken([], old, now)).toBeNull();
  });

  it('still checks expiry and shape whatever secret matched', () => {
    const old = signStaffToken(previous, { accountId: 'acme', staffId: 's1' }, now, 60).token;
    expect(verifyStaffToken([current, previous], old, now + 60_000)).toBeNull();
    const [h, p] = old.split('.') as [string, string, string];
    expect(verifyStaffToken([current, previous], `${h}.${p}.`, now)).toBeNull();
  });
});
