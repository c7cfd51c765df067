// One access-log line and one latency observation per request, with a request id on the
// response (`X-Request-Id`, taken from the request when it sends a sane one — Hono's
// request-id middleware) and on every log line of the request: routes log through
// `c.get('log')`, a child logger that carries it. The line names the client: the socket's
// peer address (`ip`), the X-Forwarded-For a proxy added (`forwardedFor`, as received:
// a client can write one too) and the user agent. Webhooks log at debug (they are the
// volume) with the CallSid they are about; probes and scrapes (/healthz, /readyz,
// /metrics) at debug too, as they come every few seconds from the platform and say nothing;
// the API at info. The query string is never logged (browsers put `?token=` there).
import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import { upgraded } from './upgrades.js';

/** callSid: set by a route that learnt which call a request is about (the Twilio routes,
 *  once the signature is verified), for its access line. */
export type LogEnv = { Variables: { requestId: string; log: Logger; callSid?: string } };

/** Paths polled by the platform (liveness, readiness, Prometheus): logged at debug only. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
/** Header values are logged up to this many characters (a client chooses their length). */
const MAX_HEADER_CHARS = 256;
const clip = (v: string | undefined) => (v === undefined || v.length <= MAX_HEADER_CHARS ? v : `${v.slice(0, MAX_HEADER_CHARS)}…`);

/** The request's logger: every line carries the request id. The pino child behind it is
 *  made only when something is written (most requests write nothing at the configured
 *  level, and a child per request is measurable CPU); one object per request, its methods
 *  on the prototype. */
export class RequestLogger implements Logger {
  private made: Logger | null = null;
  constructor(
    private readonly base: Logger,
    private readonly requestId: string,
  ) {}
  private get log(): Logger {
    return (this.made ??= this.base.child({ requestId: this.requestId }));
  }
  debug(m: string, f?: Record<string, unknown>): void {
    if (this.base.isEnabled('debug')) this.log.debug(m, f);
  }
  info(m: string, f?: Record<string, unknown>): void {
    if (this.base.isEnabled('info')) this.log.info(m, f);
  }
  warn(m: string, f?: Record<string, unknown>): void {
    if (this.base.isEnabled('warn')) this.log.warn(m, f);
  }
  error(m: string, f?: Record<string, unknown>): void {
    if (this.base.isEnabled('error')) this.log.error(m, f);
  }
  child(b: Record<string, unknown>): Logger {
    return this.log.child(b);
  }
  isEnabled(level: 'debug' | 'info' | 'warn' | 'error'): boolean {
    return this.base.isEnabled(level);
  }
}

/** The route a request was for: the last matching handler's pattern (middleware match
 *  every path as method ALL); 'unmatched' for a 404 of the router. */
function routeOf(c: Context): string {
  const matched = matchedRoutes(c);
  for (let i = matched.length - 1; i >= 0; i--) if (matched[i]!.method !== 'ALL') return matched[i]!.path;
  return 'unmatched';
}

/** The request id a request goes by: the one it sent in X-Request-Id when that is sane
 *  (word characters, "-" and "=", at most 128 of them: it lands in every log line), else a
 *  fresh UUID. The rule of Hono's request-id middleware, kept here so that every door of
 *  the server (the fast webhook path too) applies the same one. */
export function requestIdOf(sent: string | undefined): string {
  return sent && sent.length <= 128 && !/[^\w\-=]/.test(sent) ? sent : crypto.randomUUID();
}

/** What a finished request's access line and metrics are made of. */
export interface AccessRecord {
  route: string;
  method: string;
  status: number;
  /** performance.now() when the request came in. */
  started: number;
  path: string;
  log: Logger;
  ip: string | undefined;
  forwardedFor: string | undefined;
  userAgent: string | undefined;
  callSid: string | undefined;
}

/** One latency observation and one request count per request, and its access line when
 *  the level it is logged at is on. */
export class AccessLog {
  // One labels object per (route, method, status), reused: the metrics are observed on
  // every request, and these few combinations repeat.
  private readonly labelSets = new Map<string, { route: string; method: string; status: string }>();

  constructor(private readonly deps: { log: Logger; metrics: GatewayMetrics }) {}

  private labelsFor(route: string, method: string, status: number) {
    const key = `${route} ${method} ${status}`;
    let l = this.labelSets.get(key);
    if (!l) {
      l = { route, method, status: String(status) };
      if (this.labelSets.size < 1000) this.labelSets.set(key, l);
    }
    return l;
  }

  record(r: AccessRecord): void {
    const labels = this.labelsFor(r.route, r.method, r.status);
    const seconds = (performance.now() - r.started) / 1000;
    this.deps.metrics.http.inc(labels);
    this.deps.metrics.httpDuration.observe(labels, seconds);
    const level = r.path.startsWith('/twilio/') || QUIET_PATHS.has(r.path) ? 'debug' : 'info';
    // The line is built only when it is written.
    if (!this.deps.log.isEnabled(level)) return;
    r.log[level]('request', {
      method: r.method,
      path: r.path,
      route: r.route,
      status: r.status,
      ms: Math.round(seconds * 10_000) / 10,
      ip: r.ip,
      forwardedFor: clip(r.forwardedFor),
      userAgent: clip(r.userAgent),
      callSid: r.callSid,
    });
  }
}

export function requestContext(deps: { log: Logger; metrics: GatewayMetrics }): MiddlewareHandler<LogEnv>[] {
  const accessLog = new AccessLog(deps);
  const requestId: MiddlewareHandler<LogEnv> = async (c, next) => {
    const id = requestIdOf(c.req.header('x-request-id'));
    c.set('requestId', id);
    c.header('X-Request-Id', id);
    await next();
  };
  const access: MiddlewareHandler<LogEnv> = async (c, next) => {
    const started = performance.now();
    const log = new RequestLogger(deps.log, c.get('requestId'));
    c.set('log', log);
    await next();
    accessLog.record({
      route: routeOf(c),
      method: c.req.method,
      // An accepted socket upgrade is answered 101 by the handshake that follows.
      status: upgraded(c) ? 101 : c.res.status,
      started,
      path: c.req.path,
      log,
      ip: (c.env as HttpBindings | undefined)?.incoming?.socket.remoteAddress,
      forwardedFor: c.req.header('x-forwarded-for'),
      userAgent: c.req.header('user-agent'),
      callSid: c.get('callSid'),
    });
  };
  return [requestId, access];
}
