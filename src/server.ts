// Starts the app on a port (0 = any free one, for tests) and stops it gracefully.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { buildApp, type AppDeps } from './app.js';

export interface RunningGateway {
  port: number;
  url: string;
  built: ReturnType<typeof buildApp>;
  close(): Promise<void>;
}

export async function startGateway(deps: AppDeps, port = deps.config.port, host = deps.config.host): Promise<RunningGateway> {
  const built = buildApp(deps);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: built.app.fetch, port, hostname: host }, () => resolve(s));
  });
  const addr = server.address() as AddressInfo;
  return {
    port: addr.port,
    url: `http://127.0.0.1:${addr.port}`,
    built,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets would hold close() open; idle ones are dropped now.
        (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      }),
  };
}
