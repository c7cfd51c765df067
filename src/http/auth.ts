// Who is calling the REST API: the operator (Bearer ADMIN_API_KEY) or a staff member
// (Bearer <staff JWT>). A staff token only ever reaches its own account.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { verifyStaffToken } from '../auth/staff-token.js';
import { AppError } from '../domain/errors.js';

export type Principal = { kind: 'admin' } | { kind: 'staff'; accountId: string; staffId: string };

export type AuthEnv = { Variables: { principal: Principal } };

const digest = (s: string) => createHash('sha256').update(s).digest();

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

export function makeAuthenticator(opts: { adminApiKey: string; staffTokenSecret: string; clock: () => number }) {
  const adminDigest = digest(opts.adminApiKey);
  return (token: string | null): Principal | null => {
    if (!token) return null;
    // Compare digests so the comparison is constant-time whatever the lengths.
    if (timingSafeEqual(digest(token), adminDigest)) return { kind: 'admin' };
    const claims = verifyStaffToken(opts.staffTokenSecret, token, opts.clock());
    return claims ? { kind: 'staff', accountId: claims.accountId, staffId: claims.staffId } : null;
  };
}

export type Authenticator = ReturnType<typeof makeAuthenticator>;

export function authenticate(auth: Authenticator): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const principal = auth(bearerToken(c.req.header('authorization')));
    if (!principal) {
      throw new AppError(401, 'UNAUTHORIZED', 'send Authorization: Bearer <admin key or staff token>');
    }
    c.set('principal', principal);
    await next();
  };
}

export function requireAdmin(c: Context<AuthEnv>): void {
  if (c.get('principal').kind !== 'admin') throw new AppError(403, 'FORBIDDEN', 'this needs the admin key');
}

/** The admin, or a staff member of this very account. */
export function requireAccount(c: Context<AuthEnv>, accountId: string): Principal {
  const p = c.get('principal');
  if (p.kind === 'staff' && p.accountId !== accountId) {
    throw new AppError(403, 'FORBIDDEN', 'this token belongs to another account');
  }
  return p;
}
