// One access-log line and one latency observation per request, with a request id on the
// response (`X-Request-Id`, taken from the request when it sends a sane one — Hono's
// request-id middleware) and on every log line of the request: routes log through
// `c.get('log')`, a child logger that carries it. Webhooks log at debug (they are the
// volume); the API at info. The query string is never logged (browsers put `?token=` there).
import type { MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import { matchedRoutes } from 'hono/route';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import { upgraded } from './upgrades.js';

export type LogEnv = { Variables: { requestId: string; log: Logger } };

export function requestContext(deps: { log: Logger; metrics: GatewayMetrics }): MiddlewareHandler<LogEnv>[] {
  const access: MiddlewareHandler<LogEnv> = async (c, next) => {
    const started = performance.now();
    // The request's child logger is made only when something logs (most requests log
    // nothing at the configured level: a pino child per request is measurable CPU).
    const requestId = c.get('requestId');
    let child: Logger | null = null;
    const log = (): Logger => (child ??= deps.log.child({ requestId }));
    const base = deps.log;
    c.set('log', {
      debug: (m, f) => base.isEnabled('debug') && log().debug(m, f),
      info: (m, f) => base.isEnabled('info') && log().info(m, f),
      warn: (m, f) => base.isEnabled('warn') && log().warn(m, f),
      error: (m, f) => base.isEnabled('error') && log().error(m, f),
      child: (b) => log().child(b),
      isEnabled: (level) => base.isEnabled(level),
    });
    await next();
    // The route the request was for: the last matching handler's pattern (middleware
    // match every path as method ALL); 'unmatched' for a 404 of the router.
    const handlers = matchedRoutes(c).filter((r) => r.method !== 'ALL');
    const route = handlers[handlers.length - 1]?.path ?? 'unmatched';
    // An accepted socket upgrade is answered 101 by the handshake that follows.
    const status = upgraded(c) ? 101 : c.res.status;
    const labels = { route, method: c.req.method, status: String(status) };
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.http.inc(labels);
    deps.metrics.httpDuration.observe(labels, seconds);
    const line = { method: c.req.method, path: c.req.path, route, status, ms: Math.round(seconds * 10_000) / 10 };
    if (c.req.path.startsWith('/twilio/')) c.get('log').debug('request', line);
    else c.get('log').info('request', line);
  };
  return [requestId({ limitLength: 128 }), access];
}
