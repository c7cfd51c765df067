// What the gateway sends on /v1/ws (DESIGN §2), as zod schemas: the client library
// (src/client) parses every frame with them, so a change of the wire shape breaks its
// tests, not its users. Unknown fields are kept (passthrough): newer gateways may add some.
import { z } from 'zod';

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
  version: z.number().optional(),
});

export const alertMessageSchema = z.looseObject({
  type: z.literal('alert'),
  level: z.enum(['low', 'exhausted']),
  available: z.number(),
  threshold: z.number(),
  cycleStart: z.string().optional(),
});

export const serverMessageSchema = z.discriminatedUnion('type', [
  balanceMessageSchema,
  callMessageSchema,
  alertMessageSchema,
  z.looseObject({ type: z.literal('authorized'), requestId, authorizationId: z.string(), expiresAt: z.string() }),
  z.looseObject({ type: z.literal('denied'), requestId, reason: z.string() }),
  z.looseObject({ type: z.literal('canceled'), authorizationId: z.string(), requestId: requestId.optional() }),
  z.looseObject({ type: z.literal('pong'), requestId: requestId.optional() }),
  z.looseObject({ type: z.literal('error'), code: z.string(), message: z.string(), requestId: requestId.optional() }),
]);

export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type BalanceMessage = z.infer<typeof balanceMessageSchema>;
export type CallMessage = z.infer<typeof callMessageSchema>;
export type AlertMessage = z.infer<typeof alertMessageSchema>;
