// WebSocket upgrades are ordinary Hono routes: they pass the same middleware as every
// request — request id, access log, security headers, authenticate, verifyTwilio — and a
// refused upgrade is the app's own JSON error answer, written whole (status, headers, body).
//
// The server's 'upgrade' event is served here (serveUpgrades), not by @hono/node-server's
// built-in upgradeWebSocket, for what a socket costs while it is opened and while it lives
// (issue #22). The adapter made an undici Request, Headers and AbortSignal per upgrade, a
// promise per handshake, a wrapper context with a URL, and three listeners on every socket
// that closed over the whole request (Hono Context, Request, IncomingMessage). Here the app
// sees a request read straight off the IncomingMessage (upgrade-request.ts); the route's
// last handler takes from the context what the socket needs (a principal, a stream) and
// returns the function that opens the socket, so nothing of the request outlives the
// handshake; and the handler gets the `ws` WebSocket itself, whose TCP socket the hub
// writes pre-framed broadcasts to (ws/client-connection.ts).
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HttpBindings, serve } from '@hono/node-server';
import type { Context, Env, MiddlewareHandler } from 'hono';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppError } from '../domain/errors.js';
import { upgradeRequest, upgradeUrl } from './upgrade-request.js';

type FetchCallback = Parameters<typeof serve>[0]['fetch'];

/** The largest frame any socket endpoint takes (a Media Streams frame); the client socket
 *  enforces its smaller bound itself (ws/client-gateway.ts). */
export const MAX_SOCKET_FRAME_BYTES = 64 * 1024;

/** The one WebSocketServer every accepted upgrade's handshake goes through. Compression
 *  stays off: the hub writes whole frames straight to the TCP socket (and a deflate
 *  context per socket would cost ~300 KB of zlib memory when used). No client tracking:
 *  the gateways keep their own sets. */
export function createSocketServer(): WebSocketServer {
  return new WebSocketServer({ noServer: true, maxPayload: MAX_SOCKET_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
}

/** What opens an accepted upgrade's socket once its handshake is done. */
export type OpenSocket = (ws: WebSocket) => void;

/** Upgrade requests a socket route accepted, with what opens their socket. The access log
 *  reads it (101) before serveUpgrades takes it out. */
const accepted = new WeakMap<IncomingMessage, OpenSocket>();

/** Marks the bindings of a request that came through serveUpgrades' 'upgrade' listener. */
const VIA_UPGRADE = Symbol('via upgrade');

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

/**
 * The route's last handler: the upgrade goes ahead. `accept` runs now, with the context,
 * and returns what opens the socket after the handshake; it should close over only what
 * the socket keeps (a principal, a stream binding), never `c`, which would then live as
 * long as the socket.
 */
export function socketRoute<E extends Env>(accept: (c: Context<E>) => OpenSocket): MiddlewareHandler<E> {
  return async (c) => {
    const env = c.env as Partial<HttpBindings> & { [VIA_UPGRADE]?: true };
    // Upgrade: websocket without Connection: Upgrade reaches the app as a plain request.
    if (!env?.[VIA_UPGRADE] || !env.incoming) throw new AppError(400, 'BAD_REQUEST', 'a socket endpoint: send Connection: Upgrade and Upgrade: websocket');
    accepted.set(env.incoming, accept(c));
    // An answer built through the context carries the headers middleware set (request id,
    // nosniff, ...); serveUpgrades copies them onto the 101.
    return c.body(null);
  };
}

/** Whether this request was a socket upgrade the app accepted (the access log says 101). */
export function upgraded(c: Context): boolean {
  const env = c.env as Partial<HttpBindings> | undefined;
  return env?.incoming !== undefined && env.outgoing === undefined && accepted.has(env.incoming as IncomingMessage);
}

/** Serves the server's upgrade requests: WebSocket ones through the app (whose socket
 *  routes accept them) and then the handshake; any other is refused 400. */
export function serveUpgrades(server: Server, fetch: FetchCallback, wss: WebSocketServer): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') return refuseOtherUpgrade(socket);
    // Nothing of one upgrade may take the process down: whatever escapes drops its socket.
    upgrade(fetch, wss, req, socket, head).catch(() => socket.destroy());
  });
  server.on('close', () => wss.close());
}

const ignore = () => {};

async function upgrade(fetch: FetchCallback, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  // A client gone mid-way is no error of ours; `ws` takes the socket's errors from the handshake on.
  socket.on('error', ignore);
  let url: string;
  try {
    url = upgradeUrl(req);
  } catch {
    return writeAnswer(socket, Response.json({ error: { code: 'BAD_REQUEST', message: 'the request target or Host is not a URL' } }, { status: 400 }));
  }
  let res: unknown;
  try {
    const env: HttpBindings & { [VIA_UPGRADE]: true } = { incoming: req, outgoing: undefined as never, [VIA_UPGRADE]: true };
    res = await fetch(upgradeRequest(req, url), env);
  } catch {
    res = undefined;
  }
  const open = accepted.get(req);
  accepted.delete(req);
  if (socket.destroyed) return;
  if (!open || !(res instanceof Response)) {
    if (!(res instanceof Response)) res = Response.json({ error: { code: 'INTERNAL', message: 'internal error' } }, { status: 500 });
    await writeAnswer(socket, res as Response);
    return;
  }
  const extra: string[] = [];
  res.headers.forEach((value, name) => {
    if (!SKIP_101.has(name)) extra.push(`${name}: ${value}`);
  });
  const addHeaders = (headers: string[]) => headers.push(...extra);
  // handleUpgrade writes the 101 synchronously (no verifyClient): the listener is ours alone.
  wss.on('headers', addHeaders);
  try {
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', ignore);
      open(ws);
    });
  } finally {
    wss.off('headers', addHeaders);
  }
}

/** Headers the handshake writes itself, or that have no place on a 101 (@hono/node-server's list). */
const SKIP_101 = new Set([
  'connection', 'content-length', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'sec-websocket-accept', 'sec-websocket-extensions', 'sec-websocket-protocol',
]);

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

/** Upgrades to anything but WebSocket. */
function refuseOtherUpgrade(socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  const body = JSON.stringify({ error: { code: 'BAD_REQUEST', message: 'only WebSocket upgrades are served (Upgrade: websocket)' } });
  socket.end(
    'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
