// Starts the gateway on a port (0 = any free one, for tests): the HTTP app, the client
// socket (/v1/ws) and Media Streams (/twilio/media), fan-out through the Redis bus — and
// stops it gracefully: no new sockets or requests, in-flight work answered, clients told
// to reconnect (1012), then the connections to Redis closed.
import { serve, type ServerType } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp, type AppDeps } from './app.js';
import type { Config } from './config.js';
import { Reconciler } from './jobs/reconciler.js';
import { Bus } from './redis/bus.js';
import { TwilioRest } from './twilio/rest-client.js';
import { MediaStreams } from './twilio/media-streams.js';
import { mediaTokenKey } from './twilio/media-token.js';
import { ClientGateway } from './ws/client-gateway.js';
import { StaffPresence } from './ws/staff-presence.js';
import { SoftphoneAuthorizations } from './metering/softphone-authorizations.js';
import { MediaStreamEvents } from './metering/media-stream-events.js';
import { Hub } from './ws/hub.js';
import { routeUpgrades } from './ws/upgrade.js';
import { drainHttp } from './http/drain.js';
import { AlertDispatcher } from './jobs/alert-dispatcher.js';
import { smtpTransport } from './jobs/receipt-mailer.js';
import { connectRedis, createRedis } from './redis/client.js';

export interface RunningGateway {
  port: number;
  url: string;
  built: ReturnType<typeof buildApp>;
  hub: Hub;
  clients: ClientGateway;
  media: MediaStreams;
  bus: Bus;
  reconciler: Reconciler;
  alerts: AlertDispatcher;
  close(): Promise<void>;
}

export async function startGateway(deps: AppDeps, port = deps.config.port, host = deps.config.host): Promise<RunningGateway> {
  const { config, log } = deps;
  const built = buildApp(deps);
  const bus = new Bus(config.redis, config.redis.prefix, log);
  await bus.start();
  built.readiness.check('subscriber', () => bus.connected);
  const hub = new Hub(bus);
  const authorizations = new SoftphoneAuthorizations(
    built.store,
    {
      reserveMinutes: config.metering.reserveMinutes,
      authorizationTtlMs: config.metering.authorizationTtlSeconds * 1000,
      dialPolicy: config.dialling,
      maxOpenPerStaff: config.maxOpenAuthorizationsPerStaff,
    },
    built.clock,
  );
  const clients = new ClientGateway(
    hub,
    authorizations,
    new StaffPresence(built.store.redis, built.store, config.authorizationReleaseGraceMs, built.clock, log),
    built.auth,
    {
      heartbeatMs: config.ws.heartbeatMs,
      maxMessagesPerSecond: config.ws.maxMessagesPerSecond,
      maxBufferBytes: config.ws.maxBufferedBytes,
      softBufferBytes: Math.min(64 * 1024, config.ws.maxBufferedBytes),
      allowedOrigins: config.corsOrigins,
    },
    built.clock,
    log,
  );
  clients.start();
  const reconciler = new Reconciler(
    built.reconcileQueue,
    built.store,
    twilioRest(config),
    {
      billing: built.billingRules,
      pollMs: config.metering.reconcilePollSeconds * 1000,
      recheckMs: 15 * 60_000,
      // A failed look-up is retried after the grace period again.
      retryMs: config.metering.finalGraceSeconds * 1000,
      maxHoldMs: config.metering.maxCallHoldSeconds * 1000,
    },
    built.clock,
    log,
  );
  reconciler.start();
  const media = new MediaStreams(
    { authToken: config.twilio.authToken, publicBaseUrl: config.publicBaseUrl, tokenKey: mediaTokenKey(config.staffTokenSecret) },
    new MediaStreamEvents(built.store, built.clock),
    log,
  );
  // Read at scrape time: figures this instance keeps anyway.
  const r = built.registry;
  r.gauge('minutegate_unsettled_calls', 'Calls whose hold was released before Twilio told how they ended (R15), as of the last reconciliation poll', (set) =>
    set({}, reconciler.unsettledCalls),
  );
  r.gauge('minutegate_reconcile_backlog', 'Reconciliation entries due and not yet checked (R15), as of the last poll', (set) => set({}, reconciler.backlog));
  r.gauge('minutegate_ws_clients', 'Open client sockets on this instance', (set) => set({}, clients.clients.size));
  r.gauge('minutegate_media_streams_open', 'Media Streams sockets open on this instance (calls live here)', (set) => set({}, media.openSockets));
  r.counterFrom('minutegate_media_frames_total', 'Media Streams frames by kind (counted, not parsed)', (set) => {
    set({ kind: 'media' }, media.stats.mediaFrames);
    set({ kind: 'malformed' }, media.stats.malformedFrames);
  }, ['kind']);
  r.counterFrom('minutegate_media_streams_total', 'Media Streams by outcome', (set) => {
    set({ outcome: 'started' }, media.stats.streams);
    set({ outcome: 'refused' }, media.stats.refusedStreams);
    set({ outcome: 'unknown_call' }, media.stats.unknownCalls);
  }, ['outcome']);
  r.counterFrom('minutegate_bus_messages_dropped_total', 'Pub/sub messages dropped as malformed', (set) => set({}, bus.dropped));
  r.counterFrom('minutegate_alerts_delivered_total', 'Low-balance alert deliveries by way', (set) => {
    set({ way: 'email' }, alerts.delivered.email);
    set({ way: 'webhook' }, alerts.delivered.webhook);
    set({ way: 'failed' }, alerts.delivered.failed);
  }, ['way']);

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: built.app.fetch, port, hostname: host }, () => resolve(s));
  });
  routeUpgrades(server as Server, {
    '/v1/ws': (req, socket, head) => clients.handleUpgrade(req, socket, head),
    // Without MEDIA_STREAMS no call is given a stream, and the route does not exist (404).
    ...(config.ws.mediaStreams
      ? {
          '/twilio/media': (req, socket, head) => media.handleUpgrade(req, socket, head),
          '/twilio/media/*': (req, socket, head) => media.handleUpgrade(req, socket, head),
        }
      : {}),
  });
  const addr = server.address() as AddressInfo;
  // Background jobs of the app (billing-cycle scheduler, receipt mailer).
  await built.start();
  // Low-balance alerts: e-mail and webhook deliveries, from a subscriber of its own.
  const alertSubscriber = createRedis(config.redis, 'minutegate-alerts');
  await connectRedis(alertSubscriber, config.redis);
  const alerts = new AlertDispatcher({
    store: built.alerts,
    subscriber: alertSubscriber,
    recipients: async (accountId) => {
      const a = await built.accounts.get(accountId);
      return { name: a.name || accountId, emails: a.staff.map((m) => m.email) };
    },
    transport: config.smtpUrl ? smtpTransport(config.smtpUrl) : null,
    from: config.receiptFrom,
    webhook: config.alertWebhook,
    clock: built.clock,
    log,
  });
  await alerts.start();

  const draining = drainHttp(server as Server, config.shutdownIdleGraceMs);
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      built.readiness.startDraining(); // /readyz answers 503 from here on
      // No new connections; requests in flight, and those arriving on open keep-alive
      // connections during the grace, complete and answer with Connection: close.
      const httpClosed = draining.start();
      await reconciler.stop();
      await alerts.stop();
      await built.stop();
      await Promise.all([clients.drain(), media.drain()]);
      await httpClosed;
      await bus.stop();
    })());

  return { port: addr.port, url: `http://127.0.0.1:${addr.port}`, built, hub, clients, media, bus, reconciler, alerts, close };
}

/** Twilio REST for reconciliation: Basic auth with an API key if one is set, else with
 *  the Auth Token. Null when the account SID or any credential is missing. */
function twilioRest(config: Config): TwilioRest | null {
  const t = config.twilio;
  if (!t.accountSid) return null;
  const creds =
    t.apiKeySid && t.apiKeySecret
      ? { username: t.apiKeySid, password: t.apiKeySecret }
      : t.authToken
        ? { username: t.accountSid, password: t.authToken }
        : null;
  return creds ? new TwilioRest({ baseUrl: t.apiBaseUrl, videoBaseUrl: t.videoApiBaseUrl, accountSid: t.accountSid, ...creds }) : null;
}
