// The per-call token of a Media Stream URL (R18). Twilio signs a stream's upgrade over its
// URL alone — no query string, no per-call data — so a signature over a shared URL would
// open streams for any call. Each allowed call's <Stream url> therefore ends in a token
// that names the account and the CallSid and is MACed with a server secret:
//
//   wss://<host>/twilio/media/<token>
//   token = base64url( "<accountId> <CallSid>" ‖ HMAC-SHA256(key, "<accountId> <CallSid>") )
//
// (neither id may contain a space, and the MAC is the last 32 bytes). The upgrade learns
// the call from the token without a look-up; a captured signature opens streams for that
// one call only. The key is derived from STAFF_TOKEN_SECRET under a label of its own, so
// no new secret is needed and a staff token can never pass for a stream token or back.
// It rotates with that secret: tokens are minted with the current secret's key and verified
// with it and the keys of STAFF_TOKEN_PREVIOUS_SECRETS (mediaTokenKeys), so a call answered
// by an instance still on the old secret streams to one already on the new.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { accountIdSchema, isCallSid } from '../domain/ids.js';

const LABEL = 'minutegate/media-stream-token/v1';
const MAC_BYTES = 32;
/** accountId (≤ 64) + space + CallSid (≤ 66) + MAC, in base64url: far below any URL limit. */
const MAX_TOKEN_CHARS = 256;

export interface StreamBinding {
  accountId: string;
  callSid: string;
}

/** The token key: an HMAC of the label under the server secret (domain separation). */
export function mediaTokenKey(serverSecret: string): Buffer {
  return createHmac('sha256', serverSecret).update(LABEL).digest();
}

/** The keys a token may verify with: the current secret's first (the one tokens are minted
 *  with), then each previous secret's. */
export function mediaTokenKeys(serverSecret: string, previousSecrets: readonly string[] = []): Buffer[] {
  return [serverSecret, ...previousSecrets].map(mediaTokenKey);
}

const mac = (key: Buffer, payload: Buffer) => createHmac('sha256', key).update(payload).digest();

export function mintMediaToken(key: Buffer, accountId: string, callSid: string): string {
  const payload = Buffer.from(`${accountId} ${callSid}`, 'utf8');
  return Buffer.concat([payload, mac(key, payload)]).toString('base64url');
}

/** The call a token was minted for (with `key`, or any one of `key`'s list), or null when it
 *  is not one of ours. */
export function verifyMediaToken(key: Buffer | readonly Buffer[], token: string): StreamBinding | null {
  if (token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) return null;
  const raw = Buffer.from(token, 'base64url');
  // One spelling per token: a re-encoding must give back the same text.
  if (raw.length <= MAC_BYTES || raw.toString('base64url') !== token) return null;
  const payload = raw.subarray(0, raw.length - MAC_BYTES);
  const given = raw.subarray(raw.length - MAC_BYTES);
  if (!(Buffer.isBuffer(key) ? [key] : (key as readonly Buffer[])).some((k) => timingSafeEqual(given, mac(k, payload)))) return null;
  const [accountId, callSid, ...rest] = payload.toString('utf8').split(' ');
  if (rest.length > 0 || !accountId || !callSid) return null;
  if (!accountIdSchema.safeParse(accountId).success || !isCallSid(callSid)) return null;
  return { accountId, callSid };
}
