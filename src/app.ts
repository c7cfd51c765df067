// The HTTP application: middleware, routes and error answers, mounted on use cases built
// by the composition root (gateway.ts). It builds nothing and never listens, so tests and
// gateway.ts alike hand it what it serves.
import { Hono } from 'hono';
import { accountRoutes } from './api/account-routes.js';
import { alertRoutes, type AlertSettingsStore } from './api/alert-routes.js';
import { historyRoutes } from './api/history-routes.js';
import { purchaseRoutes } from './api/purchase-routes.js';
import type { Config } from './config.js';
import { requestContext, type LogEnv } from './http/access-log.js';
import type { Authenticator } from './http/auth.js';
import { limitBody } from './http/body-limit.js';
import { errorAnswer } from './http/error-answer.js';
import { apiCors } from './http/cors.js';
import { docsRoutes } from './http/docs-routes.js';
import { errorBody } from './http/json.js';
import { metricsAccess } from './http/metrics-auth.js';
import type { Readiness } from './http/readiness.js';
import { securityHeaders } from './http/security-headers.js';
import { MINUTES_PER_BUNDLE } from './purchases/purchases.js';
import { staticRoutes } from './http/static.js';
import type { Logger } from './log.js';
import type { Accounts } from './accounts/accounts.js';
import type { CallsExport } from './history/calls-export.js';
import type { History } from './history/history.js';
import type { Usage } from './history/usage.js';
import type { Purchases } from './purchases/purchases.js';
import type { GatewayMetrics, Metrics } from './metrics.js';
import type { MediaStreams } from './twilio/media-streams.js';
import { VoiceTokens } from './twilio/voice-token.js';
import { twilioRoutes } from './twilio/webhook-routes.js';
import type { TwilioWebhooks } from './twilio/webhooks.js';
import type { ClientGateway } from './ws/client-gateway.js';
import { clientSocketRoute } from './ws/client-route.js';

export const MAX_BODY_BYTES = 64 * 1024;

export interface RouteDeps {
  config: Config;
  log: Logger;
  clock: () => number;
  registry: Metrics;
  metrics: GatewayMetrics;
  readiness: Readiness;
  auth: Authenticator;
  /** The Twilio webhooks' work (twilio/webhooks.ts), shared with the fast path. */
  webhooks: TwilioWebhooks;
  accounts: Accounts;
  /** The ledger and calls (PostgreSQL merged with Redis), usage and the CSV export. */
  history: { history: History; usage: Usage; exports: CallsExport };
  purchases: Purchases;
  alerts: AlertSettingsStore;
  /** The socket endpoints: GET /v1/ws, and /twilio/media/<token> (null without MEDIA_STREAMS). */
  clients: ClientGateway;
  media: MediaStreams | null;
  /** The demo's fake Twilio (GatewayDeps.demoTwilioUrl); undefined outside `npm run demo`. */
  demoTwilioUrl?: string;
}

export function mountRoutes(d: RouteDeps): Hono<LogEnv> {
  const { config, log, metrics, registry, auth, clock } = d;
  const app = new Hono<LogEnv>();
  app.use('*', ...requestContext({ log, metrics }));
  app.use('*', securityHeaders({ https: config.publicBaseUrl?.startsWith('https:') ?? false }));
  app.use('*', limitBody(MAX_BODY_BYTES));
  // Browsers on CORS_ORIGINS may call the REST API; without the setting no CORS header at all.
  if (config.corsOrigins.length > 0) app.use('/v1/*', apiCors(config.corsOrigins));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', d.readiness.route());
  app.route('/', docsRoutes());
  app.get('/metrics', metricsAccess(config.metricsToken), async (c) => c.text(await registry.render(), 200, { 'content-type': registry.contentType }));

  app.route(
    '/twilio',
    twilioRoutes({ hooks: d.webhooks, log, media: d.media }),
  );
  app.route('/v1/accounts', historyRoutes({ ...d.history, auth }));
  app.route(
    '/v1/accounts',
    accountRoutes({
      accounts: d.accounts,
      auth,
      staffTokenSecret: config.staffTokenSecret,
      staffTokenTtlSeconds: config.staffTokenTtlSeconds,
      voiceTokens: new VoiceTokens(config.twilio),
      clock,
    }),
  );
  app.route('/v1/accounts', purchaseRoutes({ purchases: d.purchases, auth, log, metrics }));
  app.route('/v1/accounts', alertRoutes({ alerts: d.alerts, auth, clock }));
  app.route('/', clientSocketRoute(d.clients, auth, config.corsOrigins));
  // The web app (dist/web/, built by `npm run build`) at /app.
  app.route('/', staticRoutes({
    devMode: config.devMode,
    prices: {
      bundleMinutes: MINUTES_PER_BUNDLE,
      bundlePriceCents: config.bundlePriceCents,
      overagePriceCentsPerMinute: config.overagePriceCentsPerMinute,
      currency: config.currency,
    },
    demoTwilioUrl: d.demoTwilioUrl,
  }));

  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => {
    const a = errorAnswer(err, { metrics, log: c.get('log') ?? log, path: c.req.path });
    return c.json(a.body, a.status);
  });
  return app;
}
