// The client socket's JSON protocol (docs/sockets.md): what a softphone or dashboard may send,
// and the shapes the gateway sends back. Parsed with zod; a bad frame gets an error frame
// naming the problem and the socket stays open.
import { z } from 'zod';
import { accountIdSchema } from '../domain/ids.js';

/** Echoed back as sent; clients use strings or numbers alike. */
const requestId = z.union([z.string().min(1).max(128), z.number().finite()]);
export type RequestId = string | number;

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('authorize'),
    requestId,
    // What it names is decided with /twilio/voice's own rule (metering/dialling.ts), so
    // the two paths cannot disagree; a `to` that names nothing is answered there.
    to: z.string().max(256),
  }),
  z.object({ type: z.literal('cancel'), authorizationId: z.string().min(1).max(128), requestId: requestId.optional() }),
  z.object({ type: z.literal('ping'), requestId: requestId.optional() }),
  z.object({ type: z.literal('subscribe'), accountId: accountIdSchema, requestId: requestId.optional() }),
  z.object({ type: z.literal('unsubscribe'), accountId: accountIdSchema, requestId: requestId.optional() }),
]);

export type ClientMessage = z.infer<typeof clientMessageSchema>;

export const CLIENT_TYPES = ['authorize', 'cancel', 'ping', 'subscribe', 'unsubscribe'];

/** Close codes the gateway uses (4xxx are ours; 1009 and 1012 are the standard ones). */
export const CLOSE = {
  TOO_BIG: 1009,
  RESTARTING: 1012,
  SLOW_CONSUMER: 4008,
  RATE_LIMITED: 4029,
  ACCOUNT_GONE: 4004,
  /** The staff member was removed or their tokens revoked (issue #8). */
  ACCESS_REVOKED: 4003,
  /** Issue #16: the staff member already holds WS_MAX_SOCKETS_PER_STAFF sockets here (an
   *  upgrade that raced past the route's 429). */
  TOO_MANY_SOCKETS: 4429,
} as const;

export function errorFrame(code: string, message: string, requestId?: RequestId): string {
  return JSON.stringify(requestId === undefined ? { type: 'error', code, message } : { type: 'error', code, message, requestId });
}

/** A client's value as an error message quotes it: at most 64 characters, so a 16 KiB
 *  frame cannot be echoed back (or logged) whole. */
export function quote(value: string, max = 64): string {
  return value.length > max ? `${JSON.stringify(value.slice(0, max))}…` : JSON.stringify(value);
}
