// Builds the HTTP application from its dependencies; never listens (main.ts does), so
// tests run the real app on a port of their own.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Cluster, Redis } from 'ioredis';
import { accountRoutes } from './api/account-routes.js';
import { alertRoutes } from './api/alert-routes.js';
import { billingRoutes } from './api/billing-routes.js';
import { AlertStore } from './alerts/alert-store.js';
import { buildBilling } from './billing/wiring.js';
import { makeAuthenticator } from './http/auth.js';
import { StaffAccess } from './auth/staff-access.js';
import { limitBody } from './http/body-limit.js';
import { apiCors } from './http/cors.js';
import { metricsAccess } from './http/metrics-auth.js';
import { Readiness } from './http/readiness.js';
import { staticRoutes } from './http/static.js';
import { securityHeaders } from './http/security-headers.js';
import { errorBody } from './http/json.js';
import { requestContext, type LogEnv } from './http/access-log.js';
import { docsRoutes } from './http/docs-routes.js';
import { AppError } from './domain/errors.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { Accounts } from './metering/accounts.js';
import { CallMetering } from './metering/calls.js';
import { Directory } from './metering/directory.js';
import { VideoMetering } from './metering/video.js';
import { gatewayMetrics, Metrics } from './metrics.js';
import { PoolStore } from './redis/pool-store.js';
import { ReconcileQueue } from './redis/reconcile-queue.js';
import { isRedisUnavailable } from './domain/storage-failure.js';
import { registerScripts } from './redis/scripts.js';
import { mediaTokenKey } from './twilio/media-token.js';
import { VoiceTokens } from './twilio/voice-token.js';
import { twilioRoutes } from './twilio/webhook-routes.js';

export const MAX_BODY_BYTES = 64 * 1024;
/** A refused CallSid stays refused this long (issue #8): a replayed, correctly signed
 *  webhook must not get a different answer because the pool changed meanwhile. */
export const DENIED_MEMORY_MS = 24 * 3600_000;

export interface AppDeps {
  config: Config;
  redis: Redis | Cluster;
  log: Logger;
  clock?: () => number;
}

export function buildApp(deps: AppDeps) {
  const { config, redis, log } = deps;
  const clock = deps.clock ?? Date.now;
  const registry = new Metrics();
  const metrics = gatewayMetrics(registry);
  const scripts = registerScripts(redis, (name, seconds) => metrics.scriptDuration.observe({ script: name }, seconds));
  const store = new PoolStore(redis, scripts, {
    prefix: config.redis.prefix,
    endedRetentionMs: 90 * 86400_000,
    deniedMemoryMs: DENIED_MEMORY_MS,
    finalGraceMs: config.metering.finalGraceSeconds * 1000,
  });
  const directory = new Directory(redis, config.redis.prefix);
  const staffAccess = new StaffAccess(redis, config.redis.prefix);
  const accounts = new Accounts(redis, store, directory, clock, staffAccess);
  const billingRules = {
    minBillableSeconds: config.metering.minBillableSeconds,
    billingIncrementSeconds: config.metering.billingIncrementSeconds,
  };
  const reconcileQueue = new ReconcileQueue(redis, config.redis.prefix);
  const calls = new CallMetering(
    store,
    accounts,
    directory,
    reconcileQueue,
    {
      billing: billingRules,
      reserveMinutes: config.metering.reserveMinutes,
      finalGraceMs: config.metering.finalGraceSeconds * 1000,
      reconcileAfterMs: config.metering.reconcileAfterSeconds * 1000,
      maxHoldMs: config.metering.maxCallHoldSeconds * 1000,
      dialPolicy: config.dialling,
    },
    clock,
  );
  const auth = makeAuthenticator({ adminApiKey: config.adminApiKey, staffTokenSecret: config.staffTokenSecret, clock, staffAccess });

  const app = new Hono<LogEnv>();
  app.use('*', ...requestContext({ log, metrics }));
  app.use('*', securityHeaders());
  app.use('*', limitBody(MAX_BODY_BYTES));
  // Browsers on CORS_ORIGINS may call the REST API; without the setting no CORS header at all.
  if (config.corsOrigins.length > 0) app.use('/v1/*', apiCors(config.corsOrigins));
  // startGateway adds the bus subscriber's check and starts the drain on close().
  const readiness = new Readiness();
  readiness.check('redis', async () => redis.status === 'ready' && (await redis.ping()) === 'PONG');

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', readiness.route());
  app.route('/', docsRoutes());
  app.get('/metrics', metricsAccess(config.metricsToken), async (c) => c.text(await registry.render(), 200, { 'content-type': registry.contentType }));

  app.route(
    '/twilio',
    twilioRoutes({
      calls,
      video: new VideoMetering(
        store,
        directory,
        reconcileQueue,
        {
          billing: billingRules,
          reserveMinutes: config.metering.reserveMinutes,
          firstCheckMs: Math.min(config.metering.reconcileAfterSeconds, config.metering.maxCallHoldSeconds) * 1000,
          finalGraceMs: config.metering.finalGraceSeconds * 1000,
        },
        clock,
      ),
      authToken: config.twilio.authToken,
      publicBaseUrl: config.publicBaseUrl,
      metrics,
      log,
      mediaStreams: config.ws.mediaStreams,
      mediaTokenKey: mediaTokenKey(config.staffTokenSecret),
    }),
  );
  app.route(
    '/v1/accounts',
    accountRoutes({
      accounts,
      auth,
      staffTokenSecret: config.staffTokenSecret,
      staffTokenTtlSeconds: config.staffTokenTtlSeconds,
      voiceTokens: new VoiceTokens(config.twilio),
      clock,
    }),
  );

  const billing = buildBilling({ config, redis, scripts, store, accounts, log, clock });
  app.route('/v1/accounts', billingRoutes({ billing: billing.billing, auth, log }));
  const alerts = new AlertStore(redis, scripts, store, config.redis.prefix);
  app.route('/v1/accounts', alertRoutes({ alerts, auth, clock }));

  // The web app (dist/web/, built by `npm run build`) at /app.
  app.route('/', staticRoutes({ devMode: config.devMode }));

  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => {
    if (err instanceof AppError) return c.json(errorBody(err.code, err.message), err.status);
    if (err instanceof HTTPException) return c.json(errorBody('BAD_REQUEST', err.message), err.status);
    if (isRedisUnavailable(err)) {
      metrics.redisErrors.inc({ route: 'api' });
      return c.json(errorBody('UNAVAILABLE', 'storage is unreachable; retry'), 503);
    }
    (c.get('log') ?? log).error('unhandled error', { err, path: c.req.path });
    return c.json(errorBody('INTERNAL', 'internal error'), 500);
  });
  // Background work of this instance (reset scheduler, receipt mailer): startGateway
  // calls start() once listening and stop() on shutdown; both are idempotent.
  const { start, stop } = billing;
  return { app, store, accounts, calls, directory, metrics, registry, billing: billing.billing, billingRules, start, stop, auth, clock, alerts, reconcileQueue, readiness };
}

