// Low-balance alert settings of an account (admin, or staff of it):
//   PUT /v1/accounts/:id/alerts {"thresholdsMinutes":[n,…],"email":bool,"webhook":bool}
//   GET /v1/accounts/:id/alerts
import { Hono } from 'hono';
import { z } from 'zod';
import type { AlertSettings } from '../domain/alert-records.js';
import { notFound } from '../domain/errors.js';
import { authenticate, requireAccount, type AuthEnv, type Authenticator } from '../http/auth.js';
import { readJson } from '../http/json.js';
import { accountParam } from './params.js';

export const settingsSchema = z.object({
  thresholdsMinutes: z
    .array(z.number().int().min(0).max(10_000_000))
    .min(1)
    .max(10)
    .refine((t) => new Set(t).size === t.length, 'must not repeat a threshold'),
  email: z.boolean().default(true),
  webhook: z.boolean().default(true),
});

/** What these routes need of the alert store: an account's settings (null: no such account). */
export interface AlertSettingsStore {
  settings(accountId: string, now: number): Promise<AlertSettings | null>;
  /** False: no such account (nothing written). */
  setSettings(accountId: string, s: AlertSettings, now: number): Promise<boolean>;
}

export function alertRoutes(deps: { alerts: AlertSettingsStore; auth: Authenticator; clock: () => number }) {
  const app = new Hono<AuthEnv>();
  app.use('*', authenticate(deps.auth));

  const read = async (id: string) => {
    const s = await deps.alerts.settings(id, deps.clock());
    if (!s) throw notFound(`account ${id}`);
    return s;
  };

  app.get('/:id/alerts', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    return c.json(await read(id));
  });

  app.put('/:id/alerts', async (c) => {
    const id = accountParam(c);
    requireAccount(c, id);
    const body = await readJson(c, settingsSchema);
    if (!(await deps.alerts.setSettings(id, body, deps.clock()))) throw notFound(`account ${id}`);
    return c.json(await read(id));
  });

  return app;
}
