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

export type LogEnv = { Variables: { requestId: string; log: Logger } };

export function requestContext(deps: { log: Logger; metrics: GatewayMetrics }): MiddlewareHandler<LogEnv>[] {
  const access: MiddlewareHandler<LogEnv> = async (c, next) => {
    const started = performance.now();
    const log = deps.log.child({ requestId: c.get('requestId') });
    c.set('log', log);
    await next();
    // The route the request was for: the last matching handler's pattern (middleware
    // match every path as method ALL); 'unmatched' for a 404 of the router.
    const handlers = matchedRoutes(c).filter((r) => r.method !== 'ALL');
    const route = handlers[handlers.length - 1]?.path ?? 'unmatched';
    const labels = { route, method: c.req.method, status: String(c.res.status) };
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.http.inc(labels);
    deps.metrics.httpDuration.observe(labels, seconds);
    const line = { method: c.req.method, path: c.req.path, route, status: c.res.status, ms: Math.round(seconds * 10_000) / 10 };
    if (c.req.path.startsWith('/twilio/')) log.debug('request', line);
    else log.info('request', line);
  };
  return [requestId({ limitLength: 128 }), access];
}
