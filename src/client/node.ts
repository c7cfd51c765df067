// minutegate/client for Node ≥ 20 (no global WebSocket before Node 22): the `ws` package.
import WebSocket from 'ws';
import { connectWith, type ConnectOptions, type MinutegateClient, type WebSocketConstructor } from './core.js';

export * from './core.js';

export function connect(opts: ConnectOptions): MinutegateClient {
  const impl = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? (WebSocket as unknown as WebSocketConstructor);
  return connectWith(impl, opts);
}
