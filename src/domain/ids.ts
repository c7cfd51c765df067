// Shapes of the identifiers the gateway accepts. Account ids go into Redis hash tags and
// key names, so braces, colons and spaces are never allowed in them.
import { z } from 'zod';

const ACCOUNT_ID = /^[A-Za-z0-9_.@:-]{1,64}$/;
export const accountIdSchema = z.string().regex(ACCOUNT_ID, 'must be 1-64 letters, digits or "_ . @ : -"');
/** The same shape, for the webhook hot path (no zod). */
export const isAccountId = (s: string): boolean => ACCOUNT_ID.test(s);
export const staffIdSchema = accountIdSchema;
/** Twilio documents Voice SDK identities as alphanumeric and "_", at most 121 characters;
 *  ".", "@" and "-" are tolerated too (they are safe in keys and escaped in TwiML). */
export const identitySchema = z.string().regex(/^[A-Za-z0-9_.@-]{1,121}$/, 'must be 1-121 letters, digits or "_ . @ -"');
export const e164Schema = z.string().regex(/^\+[1-9]\d{1,14}$/, 'must be an E.164 number such as +14155550100');
export const emailSchema = z.string().max(254).regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must be an e-mail address');

export const isE164 = (s: string): boolean => /^\+[1-9]\d{1,14}$/.test(s);
export const isIdentity = (s: string): boolean => /^[A-Za-z0-9_.@-]{1,121}$/.test(s);
/** Twilio CallSids are "CA" and 32 hex digits; shorter and other letters/digits are
 *  tolerated (test fixtures and simulators use them), anything else is refused. */
export const isCallSid = (s: string): boolean => /^CA[0-9A-Za-z_-]{1,64}$/.test(s);

/** Authorization ids are minted here and nowhere else: "az_" and 32 hex digits. Anything
 *  else a client sends as one (an internal index name such as "req:…" included) is not
 *  ours and never reaches a script. */
export const newAuthorizationId = (uuid: string): string => `az_${uuid.replaceAll('-', '').toLowerCase()}`;
export const isAuthorizationId = (s: unknown): s is string => typeof s === 'string' && /^az_[0-9a-f]{32}$/.test(s);

/** A client's requestId as stored in the authorization index "req:<staffId>:<requestId>".
 *  Staff ids may contain ":", so the requestId part must not: with "%" and ":" escaped the
 *  last ":" always splits the name, and no member's requestId can spell another's index. */
export const indexSafeRequestId = (requestId: string): string => requestId.replace(/[%:]/g, (ch) => (ch === '%' ? '%25' : '%3A'));
