// Who is calling the REST API: the operator (Bearer ADMIN_API_KEY) or a staff member
// (Bearer <staff JWT>). A staff token only ever reaches its own account.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { StaffAccess } from '../auth/staff-access.js';
import { verifyStaffToken } from '../auth/staff-token.js';
import { AppError } from '../domain/errors.js';

export type Principal =
  | { kind: 'admin' }
  // gen: the token's generation (issue #8), checked against the member's current one.
  | { kind: 'staff'; accountId: string; staffId: string; gen?: number };

export type AuthEnv = { Variables: { principal: Principal } };

const digest = (s: string) => createHash('sha256').update(s).digest();

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/** Parses a bearer token (synchronously: signature, expiry); `admits` then asks whether
 *  a staff token is still good (not revoked, member not removed — issue #8). */
export type Authenticator = ((token: string | null) => Principal | null) & {
  admits(p: Principal): Promise<boolean>;
  access: StaffAccess | null;
};

export function makeAuthenticator(opts: {
  adminApiKey: string;
  staffTokenSecret: string;
  /** STAFF_TOKEN_PREVIOUS_SECRETS: tokens they signed still verify (rotation). */
  previousStaffTokenSecrets?: readonly string[];
  clock: () => number;
  staffAccess?: StaffAccess;
}): Authenticator {
  const adminDigest = digest(opts.adminApiKey);
  const secrets = [opts.staffTokenSecret, ...(opts.previousStaffTokenSecrets ?? [])];
  const parse = (token: string | null): Principal | null => {
    if (!token) return null;
    // Compare digests so the comparison is constant-time whatever the lengths.
    if (timingSafeEqual(digest(token), adminDigest)) return { kind: 'admin' };
    const claims = verifyStaffToken(secrets, token, opts.clock());
    return claims ? { kind: 'staff', accountId: claims.accountId, staffId: claims.staffId, gen: claims.gen } : null;
  };
  const access = opts.staffAccess ?? null;
  const admits = async (p: Principal): Promise<boolean> =>
    p.kind !== 'staff' || !access || access.admits(p.accountId, p.staffId, p.gen ?? 0);
  return Object.assign(parse, { admits, access });
}

/** How a route takes its token and words a refusal. The socket (/v1/ws) also reads
 *  ?token= (a browser cannot set headers on a WebSocket) and keeps its own wording. */
export interface AuthOptions {
  queryToken?: boolean;
  /** The 401 message for no token or a bad one. */
  missing?: string;
  /** The 401 message for a revoked token or a removed staff member (default: `missing`). */
  revoked?: string;
  /** When set, a revocation check that fails answers 503 UNAVAILABLE with this message;
   *  otherwise the error goes to the app's error handler like any other. */
  unchecked?: string;
}

export function authenticate(auth: Authenticator, opts: AuthOptions = {}): MiddlewareHandler<AuthEnv> {
  const missing = opts.missing ?? 'send Authorization: Bearer <admin key or staff token>';
  const revoked = opts.revoked ?? missing;
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization')) ?? (opts.queryToken ? (c.req.query('token') ?? null) : null);
    const principal = auth(token);
    if (!principal) throw new AppError(401, 'UNAUTHORIZED', missing);
    let admitted: boolean;
    try {
      admitted = await auth.admits(principal);
    } catch (err) {
      if (opts.unchecked === undefined) throw err;
      throw new AppError(503, 'UNAVAILABLE', opts.unchecked);
    }
    if (!admitted) throw new AppError(401, 'UNAUTHORIZED', revoked);
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
