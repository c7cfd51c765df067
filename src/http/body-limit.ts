// 413 for bodies over the limit. A declared Content-Length is checked from the header
// alone (Node's parser guarantees the body is exactly that long), which keeps the hot
// webhook path on @hono/node-server's fast body reader; only chunked bodies go through
// Hono's streaming limiter, which has to materialise a web Request.
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { errorBody } from './json.js';

export function limitBody(maxSize: number): MiddlewareHandler {
  const tooLarge = `the body is larger than ${maxSize} bytes`;
  const streaming = bodyLimit({ maxSize, onError: (c) => c.json(errorBody('PAYLOAD_TOO_LARGE', tooLarge), 413) });
  return async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared !== undefined) {
      if (Number(declared) > maxSize) return c.json(errorBody('PAYLOAD_TOO_LARGE', tooLarge), 413);
      return next();
    }
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || !c.req.header('transfer-encoding')) return next();
    return streaming(c, next);
  };
}
