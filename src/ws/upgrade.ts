// Routes HTTP upgrade requests to the socket endpoints and refuses everything else with a
// plain HTTP status, before any WebSocket handshake.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

export function rejectUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      // As every HTTP answer of the gateway (see http/security-headers.ts).
      'X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function routeUpgrades(server: Server, routes: Record<string, UpgradeHandler>): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const handler = routes[path] ?? routes[path.replace(/\/$/, '')] ?? prefixRoute(routes, path);
    if (!handler) return rejectUpgrade(socket, 404, 'NOT_FOUND', `no socket endpoint at ${path}`);
    try {
      handler(req, socket, head);
    } catch {
      rejectUpgrade(socket, 400, 'BAD_REQUEST', 'the upgrade could not be handled');
    }
  });
}

/** A route named "/a/b/*" takes every path below /a/b/ (the rest is the handler's to read). */
function prefixRoute(routes: Record<string, UpgradeHandler>, path: string): UpgradeHandler | undefined {
  for (const [name, handler] of Object.entries(routes)) {
    if (name.endsWith('/*') && path.startsWith(name.slice(0, -1))) return handler;
  }
  return undefined;
}
