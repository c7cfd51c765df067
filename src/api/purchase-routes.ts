// REST routes for plans and purchases: plan changes (admin), cards on file, quotes and purchases of
// 100-minute bundles, recurring add-ons (list, end), the bill's charge lines. Parse, authorize, delegate to Purchases.
//
// Every body here is screened for raw card numbers before it is parsed or validated, so a
// card number is refused (400 RAW_CARD_NUMBER) before it can reach Redis, a log line or an
// error message.
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import { containsCardNumber, jsonContainsCardNumber } from '../purchases/card-number.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Purchases } from '../purchases/purchases.js';
import { AppError } from '../domain/errors.js';
import { staffIdSchema } from '../domain/ids.js';
import { authenticate, requireAccount, requireAdmin, type AuthEnv, type Authenticator } from '../http/auth.js';
import { parseWith } from '../http/json.js';
import { accountParam } from './params.js';
import type { Logger } from '../log.js';

const MAX_MINUTES = 10_000_000;

/** Ids this API hands out: a prefix, "_" and base64url. */
const objectIdSchema = z.string().regex(/^[a-z]{2,4}_[A-Za-z0-9_-]{8,64}$/, 'not an id this API returned');

const minutesSchema = z.number().int().min(0).max(MAX_MINUTES);

/** The plan's minutes (R9); monthlyMinutes is accepted as an older name for the same figure
 *  (the plan, never plan + add-ons). */
export const planSchema = z
  .strictObject({ planMinutes: minutesSchema.optional(), monthlyMinutes: minutesSchema.optional() })
  .superRefine((b, ctx) => {
    if (b.planMinutes === undefined && b.monthlyMinutes === undefined) {
      ctx.addIssue({ code: 'custom', path: ['planMinutes'], message: "required: the plan's minutes per month, add-ons not included (monthlyMinutes is accepted as its alias)" });
    } else if (b.planMinutes !== undefined && b.monthlyMinutes !== undefined && b.planMinutes !== b.monthlyMinutes) {
      ctx.addIssue({ code: 'custom', path: ['planMinutes'], message: 'differs from monthlyMinutes, which is its alias; send one of them' });
    }
  })
  .transform((b) => (b.planMinutes ?? b.monthlyMinutes)!);

const BRANDS = ['visa', 'mastercard', 'amex', 'discover', 'diners', 'jcb', 'unionpay', 'other'] as const;

export const paymentMethodSchema = z.strictObject({
  processorToken: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{4,255}$/, "must be the payment processor's token (4-255 letters, digits, '_', '.', ':' or '-')"),
  brand: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(BRANDS, { message: `must be one of ${BRANDS.join(', ')}` })),
  last4: z.string().regex(/^\d{4}$/, 'must be the last 4 digits of the card'),
  expMonth: z.number().int().min(1).max(12),
  expYear: z.number().int().min(2000).max(2100),
});

export const quoteSchema = z.strictObject({
  bundles: z.number().int().min(1).max(100),
  kind: z.enum(['addon', 'one_time']),
});

export const purchaseSchema = z.strictObject({
  quoteId: objectIdSchema,
  paymentMethodId: objectIdSchema,
  /** Who orders (and gets the receipt): required from the admin, implied by a staff token. */
  staffId: staffIdSchema.optional(),
});

export const chargesQuery = z.object({ cycle: z.enum(['current', 'previous']).default('current') });

/** Idempotency keys are the client's: UUIDs usually; any visible ASCII is accepted. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function purchaseRoutes(deps: { purchases: Purchases; auth: Authenticator; log: Logger; metrics: GatewayMetrics }) {
  const { purchases, log, metrics } = deps;
  const app = new Hono<AuthEnv>();
  app.use('*', authenticate(deps.auth));

  /** readJson, with the card-number screen before parsing and validation. */
  async function readBody<S extends z.ZodType>(c: Context<AuthEnv>, schema: S): Promise<z.infer<S>> {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\b/i.test(type)) {
      throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the body must be JSON (Content-Type: application/json)');
    }
    const text = await c.req.text();
    let raw: unknown;
    let parsed = true;
    try {
      raw = JSON.parse(text);
    } catch {
      parsed = false;
    }
    if (containsCardNumber(text) || (parsed && jsonContainsCardNumber(raw))) {
      // Facts only: the body is never logged, here or anywhere.
      log.warn('refused a request carrying a raw card number', { path: c.req.path });
      throw new AppError(
        400,
        'RAW_CARD_NUMBER',
        "the body carries what looks like a card number; send only the payment processor's token with brand, last4 and expiry",
      );
    }
    if (!parsed) throw new AppError(400, 'INVALID_JSON', 'the body is not valid JSON');
    return parseWith(schema, raw);
  }

  app.patch('/:id/plan', async (c) => {
    requireAdmin(c);
    const id = accountParam(c);
    const planMinutes = await readBody(c, planSchema);
    return c.json(await purchases.changePlan(id, planMinutes));
  });

  app.get('/:id/addons', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    return c.json(await purchases.listAddons(id));
  });

  // 200 with the add-on record (endedAt, endsAt), also when it had been ended before.
  app.delete('/:id/addons/:purchaseId', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const purchaseId = parseWith(objectIdSchema, c.req.param('purchaseId'));
    return c.json(await purchases.endAddon(id, purchaseId));
  });

  app.post('/:id/payment-methods', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const body = await readBody(c, paymentMethodSchema);
    // Optional here: with a key, a retried request (a lost answer) adds the card once.
    const key = c.req.header('idempotency-key');
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw new AppError(400, 'VALIDATION_FAILED', 'Idempotency-Key: 1-255 visible ASCII characters');
    }
    const r = await purchases.addCard(id, body, key);
    if (r.replay) c.header('Idempotent-Replayed', 'true');
    return c.json(r.card, 201);
  });

  app.get('/:id/payment-methods', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    return c.json({ paymentMethods: await purchases.listCards(id) });
  });

  app.delete('/:id/payment-methods/:pmId', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const pmId = parseWith(objectIdSchema, c.req.param('pmId'));
    await purchases.removeCard(id, pmId);
    return c.body(null, 204);
  });

  app.post('/:id/purchases/quote', async (c) => {
    const id = accountParam(c);
    const p = requireAccount(c, id);
    const body = await readBody(c, quoteSchema);
    return c.json(await purchases.quote(id, { ...body, createdBy: p.kind === 'staff' ? p.staffId : 'admin' }), 201);
  });

  app.post('/:id/purchases', async (c) => {
    const id = accountParam(c);
    const p = requireAccount(c, id);
    const key = c.req.header('idempotency-key');
    if (key === undefined || key === '') {
      throw new AppError(400, 'IDEMPOTENCY_KEY_REQUIRED', 'send an Idempotency-Key header (a new UUID per order) so a retried order is not bought twice');
    }
    if (!IDEMPOTENCY_KEY.test(key)) {
      throw new AppError(400, 'VALIDATION_FAILED', 'Idempotency-Key: must be 1-255 visible ASCII characters');
    }
    const body = await readBody(c, purchaseSchema);
    let staffId: string;
    if (p.kind === 'staff') {
      if (body.staffId !== undefined && body.staffId !== p.staffId) {
        throw new AppError(403, 'FORBIDDEN', 'a staff member orders for themselves; leave staffId out');
      }
      staffId = p.staffId;
    } else {
      if (body.staffId === undefined) {
        throw new AppError(400, 'VALIDATION_FAILED', 'staffId: required when the admin orders on behalf of a staff member (the receipt goes to them)');
      }
      staffId = body.staffId;
    }
    const r = await purchases.purchase(id, { quoteId: body.quoteId, paymentMethodId: body.paymentMethodId, staffId, idempotencyKey: key });
    if (r.replay) c.header('Idempotent-Replayed', 'true');
    else metrics.purchases.inc({ kind: r.purchase.kind });
    return c.json(r.purchase, 201);
  });

  app.get('/:id/purchases/:purchaseId', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const purchaseId = parseWith(objectIdSchema, c.req.param('purchaseId'));
    return c.json(await purchases.purchaseById(id, purchaseId));
  });

  app.get('/:id/charges', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const q = parseWith(chargesQuery, c.req.query());
    return c.json(await purchases.charges(id, q.cycle));
  });

  return app;
}
