// The client socket's JSON protocol (docs/sockets.md): what a softphone or dashboard may send,
// parsed with zod; a bad frame gets an error frame naming the problem and the socket stays
// open. The shapes themselves, both ways, and the close codes are the wire contract's
// (wire/contract.ts); the parser adds the bounds and is checked against it below.
import { z } from 'zod';
import { accountIdSchema } from '../domain/ids.js';
import type { ClientMessage as WireClientMessage, ErrorMessage, RequestId } from '../wire/contract.js';

export { CLOSE } from '../wire/contract.js';
export type { RequestId } from '../wire/contract.js';

/** Echoed back as sent; clients use strings or numbers alike. */
const requestId = z.union([z.string().min(1).max(128), z.number().finite()]);

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

// The parser takes exactly the contract's messages: either side drifting is a type error.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const parsesTheContract: Same<ClientMessage, WireClientMessage> = true;
void parsesTheContract;

export const CLIENT_TYPES = ['authorize', 'cancel', 'ping', 'subscribe', 'unsubscribe'];

export function errorFrame(code: string, message: string, requestId?: RequestId): string {
  const frame: ErrorMessage = requestId === undefined ? { type: 'error', code, message } : { type: 'error', code, message, requestId };
  return JSON.stringify(frame);
}

/** A client's value as an error message quotes it: at most 64 characters, so a 16 KiB
 *  frame cannot be echoed back (or logged) whole. */
export function quote(value: string, max = 64): string {
  return value.length > max ? `${JSON.stringify(value.slice(0, max))}…` : JSON.stringify(value);
}
