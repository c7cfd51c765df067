// The composition root. startGateway builds everything an instance is — stores, use cases,
// background jobs, the HTTP app, the client and Media Streams sockets, fan-out through the
// Redis bus — listens, and owns the graceful stop: no new sockets or requests, in-flight
// work answered, clients told to reconnect (1012), jobs stopped. The process around it
// (configuration, Redis, signals) is main.ts. Tests call startGateway on a port of their own.
import { serve, type ServerType } from '@hono/node-server';
import { createServer as createHttpServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cluster, Redis } from 'ioredis';
import { Accounts } from './accounts/accounts.js';
import { MAX_BODY_BYTES, mountRoutes } from './app.js';
import { StaffAccess } from './auth/staff-access.js';
import type { Config } from './config.js';
import { makeAuthenticator } from './http/auth.js';
import { drainHttp } from './http/drain.js';
import { ListenError } from './http/listen-error.js';
import { createSocketServer, serveUpgrades } from './http/upgrades.js';
import { Readiness } from './http/readiness.js';
import { AlertDispatcher } from './jobs/alert-dispatcher.js';
import { Archiver, DEFAULT_ARCHIVER_OPTIONS } from './jobs/archiver.js';
import { HistoryRetention } from './jobs/history-retention.js';
import { RefusalLog } from './history/refusal-log.js';
import { CycleScheduler } from './jobs/cycle-scheduler.js';
import { ReceiptMailer, smtpTransport } from './jobs/receipt-mailer.js';
import { Reconciler } from './jobs/reconciler.js';
import { PeriodicAudit } from './jobs/periodic-audit.js';
import { auditFor } from './recovery/audit.js';
import { AuditLease } from './redis/audit-lease.js';
import type { Logger } from './log.js';
import { CallMetering, DENIED_MEMORY_MS } from './metering/calls.js';
import { Directory } from './metering/directory.js';
import { Dialling } from './metering/dialling.js';
import { MediaStreamEvents } from './metering/media-stream-events.js';
import { SoftphoneAuthorizations } from './metering/softphone-authorizations.js';
import { VideoMetering } from './metering/video.js';
import { buildInfo, gatewayMetrics, instanceMetrics, Metrics } from './metrics.js';
import { packageVersion } from './version.js';
import { DEFAULT_PURCHASE_OPTIONS, Purchases } from './purchases/purchases.js';
import { AlertAnnouncements } from './redis/alert-store.js';
import { Bus } from './redis/bus.js';
import { connectRedis, createRedis, redisAnswers } from './redis/client.js';
import type { PoolStore } from './redis/pool-store.js';
import { Books } from './postgres/books.js';
import { Writes } from './books/writes.js';
import { AlertSettings } from './alerts/alert-settings.js';
import { HistoryStore } from './postgres/history-store.js';
import { CallsExport } from './history/calls-export.js';
import { History } from './history/history.js';
import { Usage } from './history/usage.js';
import { ArchiveAnnouncements } from './redis/archive-queue.js';
import { PresenceStore } from './redis/presence-store.js';
import { registerScripts } from './redis/scripts.js';
import { createStores } from './redis/stores.js';
import { MediaStreams } from './twilio/media-streams.js';
import { mediaTokenKeys } from './twilio/media-token.js';
import { twilioRestFor } from './twilio/rest-client.js';
import { TwilioSignatures, TwilioWebhooks } from './twilio/webhooks.js';
import { fastWebhooks } from './http/fast-webhooks.js';
import { ClientGateway } from './ws/client-gateway.js';
import { Hub } from './ws/hub.js';
import { StaffPresence } from './ws/staff-presence.js';

export interface GatewayDeps {
  config: Config;
  redis: Redis | Cluster;
  log: Logger;
  /** The clock of every use case and job (tests move it by hand); default Date.now. */
  clock?: () => number;
  /** The books (R19); default: opened here from config.postgres and closed with the gateway. */
  books?: Books;
  /** `npm run demo` only (never a setting): the origin of the demo's fake Twilio, which the
   *  softphone page dials through instead of Twilio (scripts/demo/fake-twilio.ts). */
  demoTwilioUrl?: string;
}

export interface RunningGateway {
  port: number;
  url: string;
  app: ReturnType<typeof mountRoutes>;
  store: PoolStore;
  readiness: Readiness;
  reconciler: Reconciler;
  clients: ClientGateway;
  hub: Hub;
  media: MediaStreams;
  bus: Bus;
  alerts: AlertDispatcher;
  books: Books;
  archiver: Archiver;
  writes: Writes;
  /** The periodic audit (R20); null without the Twilio REST settings. */
  audit: PeriodicAudit | null;
  /** The periodic jobs that run on the injected clock (reset scheduler, receipt mailer). */
  jobs: { start(): void; stop(): Promise<void> };
  close(): Promise<void>;
}

export async function startGateway(deps: GatewayDeps, port = deps.config.port, host = deps.config.host): Promise<RunningGateway> {
  const { config, redis, log } = deps;
  const clock = deps.clock ?? Date.now;
  const m = config.metering;

  // The books first: one try now, then in the background (metering does not wait for them).
  const ownsBooks = !deps.books;
  const books = deps.books ?? new Books({ url: config.postgres.url, createDatabase: config.postgres.createDatabase }, log);
  if (ownsBooks) await books.open();

  // Stores
  const registry = new Metrics();
  const metrics = gatewayMetrics(registry);
  const scripts = registerScripts(redis, (name, seconds) => metrics.scriptDuration.observe({ script: name }, seconds));
  const prefix = config.redis.prefix;
  buildInfo(registry, { version: packageVersion(), commit: config.gitCommit });
  const stores = createStores(redis, scripts, {
    prefix,
    deniedMemoryMs: DENIED_MEMORY_MS,
    finalGraceMs: m.finalGraceSeconds * 1000,
    onSettled: (minutes) => metrics.minutesDebited.inc({}, minutes),
  });
  const { pool: store, reconcileQueue, purchases: purchaseStore, alerts: alertStore } = stores;
  const directory = new Directory(stores.directory);
  const staffAccess = new StaffAccess(stores.staffAccess);

  // Use cases
  const billingRules = { minBillableSeconds: m.minBillableSeconds, billingIncrementSeconds: m.billingIncrementSeconds };
  // Setup and payments are committed to the books before they are acknowledged (R19).
  const writes = new Writes(books, log);
  const accounts = new Accounts(stores.accounts, store, directory, clock, writes, staffAccess);
  // The whole history: what the books hold merged with what is still only in Redis.
  const historyStore = new HistoryStore(books.db, () => books.ready);
  const history = {
    history: new History(stores.accounts, historyStore),
    usage: new Usage((id) => accounts.balance(id), stores.accounts, stores.archive, historyStore),
    exports: new CallsExport(stores.accounts, stores.archive, historyStore),
  };
  const firstCheckMs = Math.min(m.reconcileAfterSeconds, m.maxCallHoldSeconds) * 1000;
  // R17: one dialling decision for the socket and /twilio/voice (issue #16).
  const dialling = new Dialling(config.dialling, directory);
  // Calls refused at placement, for the history: written to the books a second later.
  const refusals = new RefusalLog(books.refusals, () => books.ready, log);
  const calls = new CallMetering(store, accounts, directory, dialling, reconcileQueue, {
    refusals,
    billing: billingRules,
    reserveMinutes: m.reserveMinutes,
    finalGraceMs: m.finalGraceSeconds * 1000,
    reconcileAfterMs: m.reconcileAfterSeconds * 1000,
    maxHoldMs: m.maxCallHoldSeconds * 1000,
  }, clock);
  const video = new VideoMetering(store, directory, reconcileQueue, { billing: billingRules, reserveMinutes: m.reserveMinutes, firstCheckMs, finalGraceMs: m.finalGraceSeconds * 1000 }, clock);
  const authorizations = new SoftphoneAuthorizations(store, dialling, {
    reserveMinutes: m.reserveMinutes,
    authorizationTtlMs: m.authorizationTtlSeconds * 1000,
    maxOpenPerStaff: config.maxOpenAuthorizationsPerStaff,
  }, clock);
  const mailer = config.smtpUrl ? new ReceiptMailer(purchaseStore, smtpTransport(config.smtpUrl), config.receiptFrom, clock, log) : null;
  const purchases = new Purchases(purchaseStore, accounts, writes, {
    ...DEFAULT_PURCHASE_OPTIONS,
    bundlePriceCents: config.bundlePriceCents,
    currency: config.currency,
    overagePriceCentsPerMinute: config.overagePriceCentsPerMinute,
  }, clock, log, () => mailer?.wake());
  const auth = makeAuthenticator({
    adminApiKey: config.adminApiKey,
    staffTokenSecret: config.staffTokenSecret,
    previousStaffTokenSecrets: config.staffTokenPreviousSecrets,
    clock,
    staffAccess,
  });

  // Sockets and fan-out
  const bus = new Bus(config.redis, prefix, log);
  await bus.start();
  const hub = new Hub(bus);
  const clients = new ClientGateway(hub, authorizations, new StaffPresence(new PresenceStore(redis, prefix), authorizations, config.authorizationReleaseGraceMs, log), auth, {
    heartbeatMs: config.ws.heartbeatMs,
    maxSocketsPerStaff: config.ws.maxSocketsPerStaff,
    maxMessagesPerSecond: config.ws.maxMessagesPerSecond,
    maxBufferBytes: config.ws.maxBufferedBytes,
    softBufferBytes: Math.min(64 * 1024, config.ws.maxBufferedBytes),
    onStorageFailure: () => metrics.redisErrors.inc({ route: 'ws' }),
    onAuthorization: (result) => metrics.socketAuthorizations.inc({ result }),
  }, clock, log);
  clients.start();
  // Stream tokens are minted with the current secret's key and verified with every key.
  const tokenKeys = mediaTokenKeys(config.staffTokenSecret, config.staffTokenPreviousSecrets);
  const tokenKey = tokenKeys[0]!;
  const media = new MediaStreams({ tokenKeys }, new MediaStreamEvents(store, clock), log);

  // HTTP, the socket endpoints among its routes
  const readiness = new Readiness();
  readiness.check('redis', () => redisAnswers(redis));
  readiness.check('subscriber', () => bus.connected);
  // Reported, never deciding readiness: metering does not need PostgreSQL.
  readiness.reportOnly('postgres', () => books.ping());
  const webhooks = new TwilioWebhooks(new TwilioSignatures(config.twilio.authToken, config.publicBaseUrl, metrics), {
    calls, video, publicBaseUrl: config.publicBaseUrl, metrics, mediaStreams: config.ws.mediaStreams, mediaTokenKey: tokenKey,
  });
  const app = mountRoutes({
    config, log, clock, registry, metrics, readiness, auth, webhooks, accounts, history, purchases, alerts: new AlertSettings(alertStore, writes),
    clients, media: config.ws.mediaStreams ? media : null, demoTwilioUrl: deps.demoTwilioUrl,
  });

  // Background jobs
  const rest = twilioRestFor(config);
  const reconciler = new Reconciler(reconcileQueue, store, rest, {
    billing: billingRules,
    pollMs: m.reconcilePollSeconds * 1000,
    recheckMs: 15 * 60_000,
    // A failed look-up is retried after the grace period again.
    retryMs: m.finalGraceSeconds * 1000,
    maxHoldMs: m.maxCallHoldSeconds * 1000,
  }, clock, log);
  reconciler.start();
  const scheduler = new CycleScheduler(purchaseStore, store, clock, log);
  let jobsStarted = false;
  const jobs = {
    start(): void {
      if (jobsStarted) return;
      jobsStarted = true;
      scheduler.start();
      if (mailer) mailer.start();
      else log.info('SMTP_URL is not set: purchase receipts stay queued until an instance with SMTP_URL runs');
    },
    async stop(): Promise<void> {
      if (!jobsStarted) return;
      jobsStarted = false;
      await Promise.all([scheduler.stop(), mailer?.stop()]);
    },
  };
  // Low-balance alerts: e-mail and webhook deliveries, from a subscriber of its own.
  const alertSubscriber = createRedis(config.redis, 'minutegate-alerts');
  await connectRedis(alertSubscriber, config.redis);
  const alerts = new AlertDispatcher({
    store: alertStore,
    announcements: new AlertAnnouncements(alertSubscriber, prefix),
    recipients: async (accountId) => {
      const a = await accounts.get(accountId);
      return { name: a.name || accountId, emails: a.staff.map((s) => s.email) };
    },
    transport: config.smtpUrl ? smtpTransport(config.smtpUrl) : null,
    from: config.receiptFrom,
    webhook: config.alertWebhook,
    clock,
    log,
  });
  // The archive (R19): ledger entries and settled calls to PostgreSQL within seconds.
  const archiver = new Archiver(stores.archive, books.archive, new ArchiveAnnouncements(alertSubscriber, prefix), {
    ...DEFAULT_ARCHIVER_OPTIONS,
    ledgerWindowMs: config.postgres.ledgerRedisWindowMs,
    callRetentionMs: config.postgres.callRedisRetentionMs,
  }, log, {
    clock,
    onLag: (s) => metrics.archiveLag.observe({}, s),
    ready: () => books.ready,
  });
  const retention = new HistoryRetention(books, config.postgres.historyRetentionMonths, clock, log);
  // R20: Twilio's list of calls against what was settled, once per interval across the fleet.
  const audit = rest
    ? new PeriodicAudit(
        auditFor({ rest, store, directory, books, reconciler, config, clock, log }),
        new AuditLease(redis, scripts, prefix),
        { intervalMs: config.audit.intervalSeconds * 1000, lookbackMs: config.audit.lookbackSeconds * 1000 },
        () => books.ready,
        clock,
        log,
      )
    : null;
  instanceMetrics(registry, { reconciler, clients, media, bus, alerts, archiver, audit });

  // Listen. Upgrades are routes of the app; the one socket server completes their handshakes.
  let server: ServerType;
  try {
    server = await new Promise((resolve, reject) => {
      // Twilio's form POSTs take the fast path (http/fast-webhooks.ts); the app, the rest.
      const fast = fastWebhooks({ hooks: webhooks, log, metrics, https: config.publicBaseUrl?.startsWith('https:') ?? false, maxBodyBytes: MAX_BODY_BYTES });
      const createServer: typeof createHttpServer = ((opts: ServerOptions, appListener: RequestListener) =>
        createHttpServer(opts, (req, res) => {
          if (!fast(req, res)) appListener(req, res);
        })) as typeof createHttpServer;
      const s = serve({ fetch: app.fetch, port, hostname: host, createServer }, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
  } catch (err) {
    // Nothing listens: let go of what was started, so the caller (main, a test) is left
    // with no timers or connections, and say which address could not be had.
    await reconciler.stop();
    await clients.drain(0);
    await bus.stop();
    alertSubscriber.disconnect();
    if (ownsBooks) await books.close();
    throw new ListenError(host, port, err as NodeJS.ErrnoException);
  }
  serveUpgrades(server as Server, app.fetch, createSocketServer());
  const addr = server.address() as AddressInfo;
  jobs.start();
  await alerts.start();
  if (config.postgres.archiver) await archiver.start();
  retention.start();
  refusals.start();
  audit?.start();
  writes.start(); // its first pass at once: what a dead instance left committed and not applied

  const draining = drainHttp(server as Server, config.shutdownIdleGraceMs);
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      readiness.startDraining(); // /readyz answers 503 from here on
      // No new connections; requests in flight, and those arriving on open keep-alive
      // connections during the grace, complete and answer with Connection: close.
      const httpClosed = draining.start();
      await reconciler.stop();
      await alerts.stop();
      await archiver.stop();
      await retention.stop();
      await refusals.stop();
      await audit?.stop();
      await writes.stop();
      await jobs.stop();
      await Promise.all([clients.drain(), media.drain()]);
      await httpClosed;
      await bus.stop();
      if (ownsBooks) await books.close();
    })());

  return { port: addr.port, url: `http://127.0.0.1:${addr.port}`, app, store, readiness, reconciler, clients, hub, media, bus, alerts, books, archiver, writes, audit, jobs, close };
}
