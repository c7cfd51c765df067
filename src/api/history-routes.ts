// REST routes for an account's history (issue #17 §5): the ledger, the calls (list, one,
// CSV export) and the usage of a cycle, for the admin and the account's own staff. Parse,
// authorize, delegate to the history use cases. An answer Redis alone had to give while
// PostgreSQL was away carries `History-Incomplete: postgres-unavailable`.
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import { ledgerCursorSchema } from '../domain/cursors.js';
import { notFound } from '../domain/errors.js';
import { authenticate, requireAccount, type AuthEnv, type Authenticator } from '../http/auth.js';
import { parseWith } from '../http/json.js';
import type { CallsExport } from '../history/calls-export.js';
import type { History } from '../history/history.js';
import type { Usage } from '../history/usage.js';
import { accountParam } from './params.js';

export const HISTORY_INCOMPLETE_HEADER = 'History-Incomplete';

export const ledgerQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: ledgerCursorSchema.optional(),
  order: z.enum(['asc', 'desc']).default('asc'),
});

export const callsQuery = z.object({
  /** refused: the calls not connected at placement, and why (not part of the default list). */
  state: z.enum(['active', 'ended', 'refused']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

export const usageQuery = z.object({
  cycle: z.enum(['current', 'previous']).default('current'),
  groupBy: z.enum(['staff', 'day']).default('staff'),
});

/** An ISO 8601 instant with its offset ("Z" or ±hh:mm), or a date (midnight UTC). */
const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()], { error: 'must be an ISO 8601 instant such as 2026-03-01T00:00:00Z, or a date' });
const instantMs = (v: string) => Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);

export const exportQuery = z
  .object({ from: instant, to: instant })
  .refine((q) => instantMs(q.to) > instantMs(q.from), { path: ['to'], message: 'must be after from' });

export function historyRoutes(deps: { history: History; usage: Usage; exports: CallsExport; auth: Authenticator }) {
  const { history } = deps;
  const app = new Hono<AuthEnv>();
  app.use('*', authenticate(deps.auth));

  const marked = (c: Context, complete: boolean) => {
    if (!complete) c.header(HISTORY_INCOMPLETE_HEADER, 'postgres-unavailable');
  };

  app.get('/:id/ledger', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const q = parseWith(ledgerQuery, c.req.query());
    const { complete, ...page } = await history.ledger(id, q);
    marked(c, complete);
    return c.json(page);
  });

  app.get('/:id/calls', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const q = parseWith(callsQuery, c.req.query());
    const { complete, ...page } = await history.calls(id, q);
    marked(c, complete);
    return c.json(page);
  });

  // Before /:id/calls/:callSid, which would take "export" for a CallSid.
  app.get('/:id/calls/export', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const q = parseWith(exportQuery, c.req.query());
    const body = await deps.exports.export(id, { from: instantMs(q.from), to: instantMs(q.to) });
    return c.body(body, 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': 'attachment; filename="calls.csv"',
      'cache-control': 'no-store',
    });
  });

  app.get('/:id/calls/:callSid', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const { complete, call } = await history.call(id, c.req.param('callSid'));
    marked(c, complete);
    if (!call) throw notFound(`call ${c.req.param('callSid')}`);
    return c.json(call);
  });

  app.get('/:id/usage', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const q = parseWith(usageQuery, c.req.query());
    return c.json(await deps.usage.usage(id, q.cycle, q.groupBy));
  });

  return app;
}
