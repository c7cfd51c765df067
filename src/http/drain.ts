// Graceful shutdown of the HTTP server without resetting a client that is writing.
//
// http.Server#close() closes idle keep-alive connections at once (Node ≥ 19). A client
// that has just sent a request over such a connection then sees it reset, its request
// half-read or unread — it cannot tell whether it was processed. Instead, while draining:
// the listener stops accepting (new connections are refused before a byte is read), every
// answer carries `Connection: close` (so each connection closes after its answer), and
// connections still idle are closed only after a short grace, when no request is on its way.
import { Server as NetServer } from 'node:net';
import type { Server } from 'node:http';

export function drainHttp(server: Server, idleGraceMs: number) {
  let draining = false;
  // First in line, before the app writes its head: answers during the drain close the connection.
  server.prependListener('request', (_req, res) => {
    if (draining && !res.headersSent) res.setHeader('Connection', 'close');
  });
  let done: Promise<void> | null = null;
  return {
    /** Starts draining; resolves once every connection has closed. */
    start(): Promise<void> {
      return (done ??= new Promise<void>((resolve) => {
        draining = true;
        const idle = setTimeout(() => server.closeIdleConnections(), idleGraceMs);
        // net.Server#close: stop listening and wait for the connections, without the
        // immediate idle-connection sweep that http.Server#close adds.
        NetServer.prototype.close.call(server, () => {
          clearTimeout(idle);
          resolve();
        });
      }));
    },
  };
}
