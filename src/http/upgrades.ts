// WebSocket upgrades are ordinary Hono routes (@hono/node-server's upgradeWebSocket): they
// pass the same middleware as every request — request id, access log, security headers,
// authenticate, verifyTwilio — and a refused upgrade is the app's own JSON error answer.
//
// Two things the adapter does not do are done here:
// - It answers a refused upgrade with the status and headers only (Content-Length: 0).
//   answerUpgrades writes the whole answer, body included, and adds a listener of its own
//   to the server's 'upgrade' event, which is how the adapter leaves refusals to others.
// - It hands handlers a wrapper; socketRoute gives them the `ws` WebSocket itself, whose
//   TCP socket the hub writes pre-framed broadcasts to (ws/client-connection.ts).
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { upgradeWebSocket, type HttpBindings, type serve } from '@hono/node-server';
import type { Context, Env, MiddlewareHandler } from 'hono';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppError } from '../domain/errors.js';

type FetchCallback = Parameters<typeof serve>[0]['fetch'];

/** The largest frame any socket endpoint takes (a Media Streams frame); the client socket
 *  enforces its smaller bound itself (ws/client-gateway.ts). */
export const MAX_SOCKET_FRAME_BYTES = 64 * 1024;

/** The one WebSocketServer the adapter hands every accepted upgrade to. Compression stays
 *  off: the hub writes whole frames straight to the TCP socket. */
export function createSocketServer(): WebSocketServer {
  return new WebSocketServer({ noServer: true, maxPayload: MAX_SOCKET_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
}

/** Requests a socket route accepted, so answerUpgrades leaves them to the handshake. */
const accepted = new WeakSet<IncomingMessage>();

const isUpgrade = (c: Context) => c.req.header('upgrade')?.toLowerCase() === 'websocket';

/** A socket endpoint is not a page: a plain GET of it finds nothing (404), as any unknown path. */
export const onlyUpgrades: MiddlewareHandler = async (c, next) => (isUpgrade(c) ? next() : c.notFound());

/** 503 while the instance drains: no new socket is opened on a server about to close. */
export function unavailableWhile(draining: () => boolean, message: string): MiddlewareHandler {
  return async (_c, next) => {
    if (draining()) throw new AppError(503, 'UNAVAILABLE', message);
    await next();
  };
}

/** The route's last handler: the upgrade goes ahead and `open` gets the `ws` WebSocket. */
export function socketRoute<E extends Env>(open: (ws: WebSocket, c: Context<E>) => void): MiddlewareHandler<E> {
  const upgrade = upgradeWebSocket((c: Context<E>) => ({
    // raw is the `ws` WebSocket the adapter's WebSocketServer made. Our handlers listen on it
    // directly (Buffers, no MessageEvent per frame); its first frame cannot come before this
    // runs: a client sends frames only after the 101 and this runs on the 101's microtask.
    onOpen: (_e, ctx) => {
      const ws = ctx.raw as unknown as WebSocket;
      open(ws, c);
      keepOnly(ws, ownListeners(ws));
    },
  }));
  return async (c, next) => {
    if (!(await upgrade(c as unknown as Context, next))) return undefined;
    accepted.add((c.env as HttpBindings).incoming);
    // An answer built through the context carries the headers middleware set (request id,
    // nosniff, ...); the adapter copies them onto the 101.
    return c.body(null);
  };
}

const SOCKET_EVENTS = ['message', 'close', 'error'] as const;
type Listener = (...args: unknown[]) => void;

function ownListeners(ws: WebSocket): Map<string, Listener[]> {
  return new Map(SOCKET_EVENTS.map((e) => [e, ws.listeners(e) as Listener[]]));
}

/**
 * Right after onOpen the adapter adds a 'message', 'close' and 'error' listener of its own
 * to every socket, to call handlers we do not define. Each closes over the request's whole
 * context (the Hono Context, the Request, the IncomingMessage), which they would keep alive
 * for the socket's life: 10 KB more per idle socket, measured with bench:ws (fan-out RSS
 * per 1,000 sockets 10.6 → 21.1 MB), and two more calls per frame on Media Streams. They
 * are removed once added (a microtask later), so only the gateway's own listeners stay.
 */
function keepOnly(ws: WebSocket, own: Map<string, Listener[]>): void {
  queueMicrotask(() => {
    for (const [event, keep] of own) {
      for (const l of ws.listeners(event) as Listener[]) if (!keep.includes(l)) ws.off(event, l);
    }
  });
}

/** Whether this request was a socket upgrade the app accepted (the access log says 101). */
export function upgraded(c: Context): boolean {
  const env = c.env as Partial<HttpBindings> | undefined;
  return env?.incoming !== undefined && env.outgoing === undefined && accepted.has(env.incoming as IncomingMessage);
}

/** The server's fetch: plain requests go straight to the app; for an upgrade request the
 *  app's answer, unless the upgrade was accepted, is written to the socket whole. */
export function answerUpgrades(fetch: FetchCallback): FetchCallback {
  return (req, env) => ((env as HttpBindings).outgoing !== undefined ? fetch(req, env) : upgradeAnswer(fetch, req, env as HttpBindings));
}

async function upgradeAnswer(fetch: FetchCallback, req: Request, env: HttpBindings): Promise<unknown> {
  let res: unknown;
  try {
    res = await fetch(req, env);
  } catch {
    res = undefined;
  }
  if (accepted.has(env.incoming)) return res;
  if (!(res instanceof Response)) res = Response.json({ error: { code: 'INTERNAL', message: 'internal error' } }, { status: 500 });
  await writeAnswer(env.incoming.socket, res as Response);
  return res;
}

/** Hop-by-hop headers, and those writeAnswer sets itself. */
const SKIP = new Set(['connection', 'content-length', 'keep-alive', 'transfer-encoding', 'upgrade']);

async function writeAnswer(socket: Duplex, res: Response): Promise<void> {
  const body = Buffer.from(await res.arrayBuffer());
  if (socket.destroyed) return;
  let head = `HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? 'Error'}\r\n`;
  res.headers.forEach((value, name) => {
    if (!SKIP.has(name)) head += `${name}: ${value}\r\n`;
  });
  // A refused upgrade was never cached along the way, whatever its path.
  if (!res.headers.has('cache-control')) head += 'Cache-Control: no-store\r\n';
  socket.end(Buffer.concat([Buffer.from(`${head}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
}

/** Upgrades to anything but WebSocket (which the adapter ignores) are refused here; being a
 *  second 'upgrade' listener also tells the adapter to leave refusals to answerUpgrades. */
export function refuseOtherUpgrades(server: Server): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    if (req.headers.upgrade?.toLowerCase() === 'websocket') return;
    socket.on('error', () => socket.destroy());
    const body = JSON.stringify({ error: { code: 'BAD_REQUEST', message: 'only WebSocket upgrades are served (Upgrade: websocket)' } });
    socket.end(
      'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
