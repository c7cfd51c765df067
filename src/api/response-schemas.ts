// What the REST API answers, as zod schemas: the source of the OpenAPI document's
// response bodies (src/api/openapi.ts), checked against live answers by
// test/openapi.test.ts. Objects are open (looseObject): an answer may carry more than is
// listed, never less. The shapes clients read most are named (NAMED): the document has
// them once under components.schemas, referenced by $ref, and the client package's
// generated types name them; the two the wire contract also states (Balance, Error) are
// checked against it below.
import { z } from 'zod';
import type { Balance, ErrorBody } from '../wire/contract.js';

/** The schemas that are named in the document (components.schemas.<id>). */
export const NAMED = z.registry<{ id: string }>();
const named = <T extends z.ZodType>(id: string, s: T): T => {
  NAMED.add(s as z.ZodType, { id });
  return s;
};

const iso = z.iso.datetime().describe('ISO 8601 instant (UTC)');
const int = z.number().int();

export const errorResponse = named('Error', z.object({ error: z.object({ code: z.string(), message: z.string() }) }).describe('An error'));

export const balanceResponse = named(
  'Balance',
  z.looseObject({
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
  }),
);

// The REST shapes the wire contract also states: either drifting is a type error.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** An open object's listed fields, without its index signature. */
type Known<O> = { [K in keyof O as string extends K ? never : K]: O[K] };
const sameBalance: Same<Known<z.output<typeof balanceResponse>>, Balance> = true;
const sameError: Same<z.output<typeof errorResponse>, ErrorBody> = true;
void sameBalance;
void sameError;

export const staffMemberResponse = named('StaffMember', z.looseObject({ id: z.string(), email: z.string(), identity: z.string(), name: z.string().optional() }));

export const accountResponse = named(
  'Account',
  z.looseObject({
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
  }),
);

export const ledgerEntry = named('LedgerEntry', z.looseObject({ id: z.string(), kind: z.string(), minutes: int, balanceAfter: int, ref: z.string(), at: iso }));
export const ledgerResponse = z.object({
  entries: z.array(ledgerEntry),
  nextCursor: z.string().nullable(),
});

export const callResponse = named(
  'Call',
  z.looseObject({
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
  }),
);

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

export const addonResponse = named(
  'Addon',
  z.looseObject({
  ...orderLine,
  purchaseId: z.string(),
  paymentMethod: cardRef,
  createdAt: iso,
  endedAt: iso.nullable(),
  endsAt: iso.nullable(),
  }),
);
export const addonListResponse = z.object({ addons: z.array(addonResponse), ending: z.array(addonResponse) });

export const paymentMethodResponse = named(
  'PaymentMethod',
  z.looseObject({
  id: z.string(),
  brand: z.string(),
  last4: z.string(),
  expMonth: int,
  expYear: int,
  expired: z.boolean(),
  }),
);
export const paymentMethodListResponse = z.object({ paymentMethods: z.array(paymentMethodResponse) });

export const quoteResponse = named('Quote', z.looseObject({ ...orderLine, quoteId: z.string(), billedOn: iso, expiresAt: iso }));

export const purchaseResponse = named(
  'Purchase',
  z.looseObject({
  ...orderLine,
  purchaseId: z.string(),
  paymentMethod: cardRef,
  orderedBy: z.string(),
  createdAt: iso,
  billedOn: iso,
  balance: balanceResponse,
  receipt: z.looseObject({ to: z.string(), status: z.enum(['queued', 'sent']), attempts: int }),
  }),
);

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

export const alertSettingsResponse = named(
  'AlertSettings',
  z.object({
  thresholdsMinutes: z.array(int),
  email: z.boolean(),
  webhook: z.boolean(),
  }),
);

export const healthResponse = z.object({ status: z.literal('ok') });
export const readyResponse = z.looseObject({
  status: z.enum(['ready', 'unavailable', 'draining']),
  // Each dependency of readiness (absent while draining).
  redis: z.enum(['ok', 'down']).optional(),
  subscriber: z.enum(['ok', 'down']).optional(),
});
