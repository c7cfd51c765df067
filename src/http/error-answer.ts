// What an error no route answered becomes, for every door of the server: the app's
// onError (app.ts) and the webhooks' fast path (fast-webhooks.ts). Bad input (AppError,
// Hono's HTTPException) keeps its status; storage away is a 503 to retry (R14); anything
// else is logged and a 500 that says nothing more.
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError } from '../domain/errors.js';
import { isPostgresUnavailable, isStorageFailure } from '../domain/storage-failure.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import { errorBody } from './json.js';

export interface ErrorAnswer {
  status: ContentfulStatusCode;
  body: ReturnType<typeof errorBody>;
}

export function errorAnswer(err: unknown, d: { metrics: GatewayMetrics; log: Logger; path: string }): ErrorAnswer {
  if (err instanceof AppError) return { status: err.status, body: errorBody(err.code, err.message) };
  if (err instanceof HTTPException) return { status: err.status as ContentfulStatusCode, body: errorBody('BAD_REQUEST', err.message) };
  if (isStorageFailure(err)) {
    // R14: Redis away or refusing writes (full, issue #16): nothing was done; retry.
    d.metrics.redisErrors.inc({ route: 'api' });
    return { status: 503, body: errorBody('STORE_UNAVAILABLE', 'storage is unavailable (unreachable or full); retry') };
  }
  if (isPostgresUnavailable(err)) {
    // A read of the books (history) while PostgreSQL is away; writes refuse before this.
    return { status: 503, body: errorBody('STORE_UNAVAILABLE', 'the books (PostgreSQL) cannot be reached; retry') };
  }
  d.log.error('unhandled error', { err, path: d.path });
  return { status: 500, body: errorBody('INTERNAL', 'internal error') };
}
