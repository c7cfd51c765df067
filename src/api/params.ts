// Path parameters every account route shares, validated the same way everywhere.
import type { Context } from 'hono';
import { accountIdSchema } from '../domain/ids.js';
import { parseWith } from '../http/json.js';

/** The route's `:id`: an account id, or 400 VALIDATION_FAILED naming it. */
export const accountParam = (c: Context): string => parseWith(accountIdSchema, c.req.param('id'));
