// What the REST API answers, as zod schemas: the source of the OpenAPI document's
// response bodies (src/api/openapi.ts), checked against live answers by
// test/openapi.test.ts. Objects are open (looseObject): an answer may carry more than is
// listed, never less.
import { z } from 'zod';

const iso = z.string().describe('ISO 8601 instant');
const int = z.number().int();

export const errorResponse = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).describe('An error');

export const balanceResponse = z.looseObject({
  accountId: z.string(),
  balance: int.min(0),
  reserved: int,
  available: int,
  planMinutes: int,
  addonMinutes: int,
  monthlyMinutes: int,
  pendingMonthlyMinutes: int.optional(),
  pendingPlanMinutes: int.optional(),
  pendingAddonMinutes: int.optional(),
  usedThisCycle: int,
  overageThisCycle: int,
  activeCalls: int,
  cycleStart: iso,
  cycleEnd: iso,
  version: int,
});

export const staffMemberResponse = z.looseObject({ id: z.string(), email: z.string(), identity: z.string(), name: z.string().optional() });

export const accountResponse = z.looseObject({
  id: z.string(),
  name: z.string(),
  planMinutes: int,
  addonMinutes: int,
  monthlyMinutes: int,
  billingAnchor: iso,
  inboundWhenExhausted: z.enum(['allow', 'reject']),
  staff: z.array(staffMemberResponse),
  phoneNumbers: z.array(z.string()),
  createdAt: iso,
  balance: balanceResponse,
});

export const ledgerResponse = z.object({
  entries: z.array(
    z.looseObject({ id: z.string(), kind: z.string(), minutes: int, balanceAfter: int, ref: z.string(), at: iso }),
  ),
  nextCursor: z.string().nullable(),
});

export const callResponse = z.looseObject({
  callSid: z.string(),
  state: z.enum(['active', 'ended', 'unsettled', 'refused']),
  direction: z.string(),
  from: z.string(),
  to: z.string(),
  staffId: z.string().nullable(),
  reservedMinutes: int,
  billableSeconds: int.nullable(),
  billedMinutes: int.nullable(),
  debitedMinutes: int.nullable(),
  overageMinutes: int.nullable(),
  startedAt: z.string(),
  answeredAt: iso.nullable(),
  endedAt: iso.nullable(),
  reason: z.string().optional(),
});

export const callsResponse = z.object({ calls: z.array(callResponse), nextCursor: z.string().nullable() });
const usageFigures = { calls: int.min(0), billableSeconds: int.min(0), billedMinutes: int.min(0) };
export const usageResponse = z.object({
  cycleStart: iso,
  cycleEnd: iso,
  groupBy: z.enum(['staff', 'day']),
  groups: z.array(z.object({ key: z.string().describe('a staff id, "unassigned", or a UTC day YYYY-MM-DD'), ...usageFigures })),
  totals: z.object(usageFigures),
});
export const staffListResponse = z.object({ staff: z.array(staffMemberResponse) });
export const numbersResponse = z.object({ phoneNumbers: z.array(z.string()) });
export const adjustmentResponse = z.object({ balance: balanceResponse });
export const staffTokenResponse = z.object({ token: z.string(), expiresAt: iso });
export const voiceTokenResponse = z.object({ token: z.string(), identity: z.string(), expiresAt: iso });

export const planChangeResponse = z.object({
  effect: z.enum(['raised', 'cut_next_cycle', 'unchanged']),
  creditedMinutes: int,
  balance: balanceResponse,
});

const orderLine = {
  kind: z.enum(['addon', 'one_time']),
  bundles: int,
  minutes: int,
  amountCents: int,
  currency: z.string(),
};
const cardRef = z.looseObject({ brand: z.string(), last4: z.string() });

export const addonResponse = z.looseObject({
  ...orderLine,
  purchaseId: z.string(),
  paymentMethod: cardRef,
  createdAt: iso,
  endedAt: iso.nullable(),
  endsAt: iso.nullable(),
});
export const addonListResponse = z.object({ addons: z.array(addonResponse), ending: z.array(addonResponse) });

export const paymentMethodResponse = z.looseObject({
  id: z.string(),
  brand: z.string(),
  last4: z.string(),
  expMonth: int,
  expYear: int,
  expired: z.boolean(),
});
export const paymentMethodListResponse = z.object({ paymentMethods: z.array(paymentMethodResponse) });

export const quoteResponse = z.looseObject({ ...orderLine, quoteId: z.string(), billedOn: iso, expiresAt: iso });

export const purchaseResponse = z.looseObject({
  ...orderLine,
  purchaseId: z.string(),
  paymentMethod: cardRef,
  orderedBy: z.string(),
  createdAt: iso,
  billedOn: iso,
  balance: balanceResponse,
  receipt: z.looseObject({ to: z.string(), status: z.enum(['queued', 'sent']), attempts: int }),
});

export const chargesResponse = z.object({
  cycleStart: iso,
  cycleEnd: iso,
  billedOn: iso,
  lines: z.array(
    z.looseObject({
      kind: z.enum(['addon', 'one_time', 'overage']),
      recurring: z.boolean(),
      description: z.string(),
      minutes: int,
      amountCents: int,
      at: iso,
    }),
  ),
  totalCents: int,
  currency: z.string(),
});

export const alertSettingsResponse = z.object({
  thresholdsMinutes: z.array(int),
  email: z.boolean(),
  webhook: z.boolean(),
});

export const healthResponse = z.object({ status: z.literal('ok') });
export const readyResponse = z.looseObject({
  status: z.enum(['ready', 'unavailable', 'draining']),
  // Each dependency of readiness (absent while draining).
  redis: z.enum(['ok', 'down']).optional(),
  subscriber: z.enum(['ok', 'down']).optional(),
});
