// REST routes for accounts: parse, authorize, delegate to the Accounts use cases.
import { Hono } from 'hono';
import { z } from 'zod';
import { signStaffToken } from '../auth/staff-token.js';
import { AppError, notFound } from '../domain/errors.js';
import { accountIdSchema, e164Schema, emailSchema, identitySchema, staffIdSchema } from '../domain/ids.js';
import { authenticate, requireAccount, requireAdmin, type AuthEnv, type Authenticator } from '../http/auth.js';
import { parseWith, readJson } from '../http/json.js';
import { accountParam } from './params.js';
import type { Accounts } from '../accounts/accounts.js';
import type { VoiceTokens } from '../twilio/voice-token.js';

const MAX_MINUTES = 10_000_000;

export const staffSchema = z.object({
  id: staffIdSchema,
  email: emailSchema,
  identity: identitySchema,
  /** How people are shown (the app's usage by staff); the id when absent. */
  name: z.string().trim().min(1, 'must not be empty').max(100, 'at most 100 characters').optional(),
});

// Unknown fields are ignored (a newer client may send more), known ones are strict.
const minutesSchema = z.number().int().min(0).max(MAX_MINUTES);

export const newAccountSchema = z.object({
  id: accountIdSchema,
  name: z.string().trim().min(1).max(200),
  // The plan's minutes; a new account has no add-ons, so both names mean the same figure.
  monthlyMinutes: minutesSchema.optional(),
  planMinutes: minutesSchema.optional(),
  billingAnchor: z
    .union([
      z.iso.datetime({ offset: true }),
      z.iso.date(),
      z.number().int().min(0).max(8.64e15),
    ])
    .optional(),
  inboundWhenExhausted: z.enum(['allow', 'reject']).optional(),
  staff: z.array(staffSchema).max(1000).optional(),
  phoneNumbers: z.array(e164Schema).max(1000).optional(),
}).superRefine((b, ctx) => {
  if (b.monthlyMinutes === undefined && b.planMinutes === undefined) {
    ctx.addIssue({ code: 'custom', path: ['monthlyMinutes'], message: "required: the plan's minutes per month (planMinutes is accepted too)" });
  } else if (b.monthlyMinutes !== undefined && b.planMinutes !== undefined && b.monthlyMinutes !== b.planMinutes) {
    ctx.addIssue({ code: 'custom', path: ['planMinutes'], message: 'differs from monthlyMinutes; a new account has no add-ons, so send one of them (or the same figure)' });
  }
});

export const numbersSchema = z.union([
  z.object({ phoneNumbers: z.array(e164Schema).min(1).max(1000) }),
  z.object({ phoneNumber: e164Schema }),
  z.object({ number: e164Schema }),
]);

export const adjustmentSchema = z.object({
  minutes: z
    .number()
    .int()
    .min(-MAX_MINUTES)
    .max(MAX_MINUTES)
    .refine((m) => m !== 0, 'must not be 0'),
  reason: z.string().trim().min(1).max(500),
});

export const tokenSchema = z.object({ ttlSeconds: z.number().int().min(60).max(30 * 86400).optional() });

export function accountRoutes(deps: {
  accounts: Accounts;
  auth: Authenticator;
  staffTokenSecret: string;
  staffTokenTtlSeconds: number;
  voiceTokens: VoiceTokens;
  clock: () => number;
}) {
  const { accounts } = deps;
  const app = new Hono<AuthEnv>();
  app.use('*', authenticate(deps.auth));

  app.post('/', async (c) => {
    requireAdmin(c);
    const { planMinutes, ...body } = await readJson(c, newAccountSchema);
    const account = await accounts.create({
      ...body,
      monthlyMinutes: (planMinutes ?? body.monthlyMinutes)!,
      billingAnchor: anchorMs(body.billingAnchor),
    });
    return c.json(account, 201);
  });

  app.get('/:id', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    return c.json(await accounts.get(id));
  });

  app.get('/:id/balance', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    return c.json(await accounts.balance(id));
  });

  app.post('/:id/staff', async (c) => {
    requireAdmin(c);
    const id = accountParam(c);
    const member = await readJson(c, staffSchema);
    return c.json(await accounts.addStaff(id, member), 201);
  });

  app.get('/:id/staff', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    if (!(await accounts.exists(id))) throw notFound(`account ${id}`);
    return c.json({ staff: await accounts.staffList(id) });
  });

  app.post('/:id/numbers', async (c) => {
    requireAdmin(c);
    const id = accountParam(c);
    const body = await readJson(c, numbersSchema);
    const numbers = 'phoneNumbers' in body ? body.phoneNumbers : 'phoneNumber' in body ? [body.phoneNumber] : [body.number];
    return c.json({ phoneNumbers: await accounts.addNumbers(id, numbers) }, 201);
  });

  app.post('/:id/adjustments', async (c) => {
    requireAdmin(c);
    const id = accountParam(c);
    const body = await readJson(c, adjustmentSchema);
    return c.json({ balance: await accounts.adjust(id, body.minutes, body.reason) }, 201);
  });

  app.post('/:id/staff/:staffId/token', async (c) => {
    requireAdmin(c);
    const id = accountParam(c);
    const staffId = parseWith(staffIdSchema, c.req.param('staffId'));
    // The body is optional here; an empty one means the default lifetime.
    const hasBody = (c.req.header('content-length') ?? '0') !== '0' || c.req.header('transfer-encoding');
    const body = hasBody ? await readJson(c, tokenSchema) : {};
    if (!(await accounts.exists(id))) throw notFound(`account ${id}`);
    if (!(await accounts.staffMember(id, staffId))) throw notFound(`staff member ${staffId} of account ${id}`);
    const t = signStaffToken(
      deps.staffTokenSecret,
      { accountId: id, staffId, gen: await accounts.tokenGeneration(id, staffId) },
      deps.clock(),
      body.ttlSeconds ?? deps.staffTokenTtlSeconds,
    );
    return c.json({ token: t.token, expiresAt: new Date(t.expiresAt).toISOString() }, 201);
  });

  // Issue #8: removal and revocation take effect at once (on other instances within the
  // staff-access cache time; sockets are closed with 4003 by each instance's re-check).
  app.delete('/:id/staff/:staffId', async (c) => {
    requireAdmin(c);
    const id = accountParam(c);
    const staffId = parseWith(staffIdSchema, c.req.param('staffId'));
    if (!(await accounts.removeStaff(id, staffId))) throw notFound(`staff member ${staffId} of account ${id}`);
    return c.body(null, 204);
  });

  app.post('/:id/staff/:staffId/revoke-tokens', async (c) => {
    requireAdmin(c);
    const id = accountParam(c);
    const staffId = parseWith(staffIdSchema, c.req.param('staffId'));
    if (!(await accounts.revokeTokens(id, staffId))) throw notFound(`staff member ${staffId} of account ${id}`);
    return c.body(null, 204);
  });

  app.post('/:id/voice-token', async (c) => {
    const id = accountParam(c);
    const p = requireAccount(c, id);
    if (p.kind !== 'staff') throw new AppError(403, 'FORBIDDEN', 'a voice token is minted for a staff member: use a staff token');
    const member = await accounts.staffMember(id, p.staffId);
    if (!member) throw notFound(`staff member ${p.staffId}`);
    return c.json(deps.voiceTokens.mint(member.identity), 201);
  });

  return app;
}

/** An ISO instant, a date (midnight UTC) or epoch milliseconds. */
function anchorMs(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  return Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
}
