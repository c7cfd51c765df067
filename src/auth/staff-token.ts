// Staff tokens: compact HS256 JWTs naming the staff member and the account, signed with
// STAFF_TOKEN_SECRET. Hand-rolled on node:crypto because the whole format is three
// base64url parts and one HMAC; verification is constant-time and strict about `alg`.
// Rotation: verification takes the current secret and the previous ones
// (STAFF_TOKEN_PREVIOUS_SECRETS), current first; signing only ever uses the current one.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface StaffClaims {
  accountId: string;
  staffId: string;
  /** Expiry, seconds since epoch. */
  exp: number;
  /** The staff member's token generation when it was issued (issue #8): revoking their
   *  tokens, or removing them, moves the generation on and every older token stops working. */
  gen: number;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

function mac(secret: string, data: string): Buffer {
  return createHmac('sha256', secret).update(data).digest();
}

export function signStaffToken(
  secret: string,
  claims: { accountId: string; staffId: string; gen?: number },
  nowMs: number,
  ttlSeconds: number,
): { token: string; expiresAt: number } {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + ttlSeconds;
  const payload = Buffer.from(
    // `sub`/`acc` are what verification reads; the long names are for humans decoding it.
    JSON.stringify({ sub: claims.staffId, acc: claims.accountId, staffId: claims.staffId, accountId: claims.accountId, iat, exp, typ: 'staff', gen: claims.gen ?? 0 }),
  ).toString('base64url');
  const body = `${HEADER}.${payload}`;
  return { token: `${body}.${mac(secret, body).toString('base64url')}`, expiresAt: exp * 1000 };
}

/** Whether `given` is the MAC of `data` under one of `secrets` (each compared in constant time). */
function signedWithAny(secrets: readonly string[], data: string, given: Buffer): boolean {
  for (const secret of secrets) {
    const expected = mac(secret, data);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
  }
  return false;
}

function canonical(part: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part;
}

/** Returns the claims of a valid, unexpired staff token signed with `secret` (or any one of
 *  `secret`'s list), or null for anything else. */
export function verifyStaffToken(secret: string | readonly string[], token: string, nowMs: number): StaffClaims | null {
  if (typeof token !== 'string' || token.length > 4096) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, sig] = parts as [string, string, string];
  // One token, one spelling: base64url decoding forgives padding, the other alphabet and
  // stray trailing bits, so several strings would carry the same signature. Only the
  // canonical encoding (what signStaffToken writes) is accepted.
  if (!canonical(h) || !canonical(p) || !canonical(sig)) return null;
  const given = Buffer.from(sig, 'base64url');
  if (!signedWithAny(typeof secret === 'string' ? [secret] : secret, `${h}.${p}`, given)) return null;
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown };
    if (header.alg !== 'HS256') return null;
    const c = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (c.typ !== 'staff' || typeof c.sub !== 'string' || typeof c.acc !== 'string' || typeof c.exp !== 'number') {
      return null;
    }
    if (c.exp * 1000 <= nowMs) return null;
    // Tokens issued before generations existed count as generation 0.
    const gen = c.gen === undefined ? 0 : c.gen;
    if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 0) return null;
    return { accountId: c.acc, staffId: c.sub, exp: c.exp, gen };
  } catch {
    return null;
  }
}
