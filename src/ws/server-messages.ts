// What the gateway sends on /v1/ws (docs/sockets.md), as zod schemas: the client library
// (src/client) parses every frame with them, so a change of the wire shape breaks its
// tests, not its users. Unknown fields are kept (passthrough): newer gateways may add some.
// zod/mini (the same schemas, functional API): the web app bundles these, and the full
// zod would be most of its JavaScript on a phone.
import * as z from 'zod/mini';

const requestId = z.union([z.string(), z.number()]);

export const balanceMessageSchema = z.looseObject({
  type: z.literal('balance'),
  accountId: z.string(),
  balance: z.number(),
  reserved: z.number(),
  available: z.number(),
  monthlyMinutes: z.number(),
  usedThisCycle: z.number(),
  overageThisCycle: z.number(),
  activeCalls: z.number(),
  cycleStart: z.string(),
  cycleEnd: z.string(),
  version: z.number(),
});

export const callMessageSchema = z.looseObject({
  type: z.literal('call'),
  event: z.string(),
  callSid: z.string(),
  version: z.optional(z.number()),
});

export const alertMessageSchema = z.looseObject({
  type: z.literal('alert'),
  level: z.enum(['low', 'exhausted']),
  available: z.number(),
  threshold: z.number(),
  cycleStart: z.optional(z.string()),
});

export const serverMessageSchema = z.discriminatedUnion('type', [
  balanceMessageSchema,
  callMessageSchema,
  alertMessageSchema,
  z.looseObject({ type: z.literal('authorized'), requestId, authorizationId: z.string(), expiresAt: z.string() }),
  z.looseObject({ type: z.literal('denied'), requestId, reason: z.string() }),
  z.looseObject({ type: z.literal('canceled'), authorizationId: z.string(), requestId: z.optional(requestId) }),
  z.looseObject({ type: z.literal('pong'), requestId: z.optional(requestId) }),
  z.looseObject({ type: z.literal('error'), code: z.string(), message: z.string(), requestId: z.optional(requestId) }),
]);

export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type BalanceMessage = z.infer<typeof balanceMessageSchema>;
export type CallMessage = z.infer<typeof callMessageSchema>;
export type AlertMessage = z.infer<typeof alertMessageSchema>;
