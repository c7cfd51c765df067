// minutegate/client in browsers: the platform's WebSocket.
import { connectWith, type ConnectOptions, type MinutegateClient, type WebSocketConstructor } from './core.js';

export * from './core.js';

export function connect(opts: ConnectOptions): MinutegateClient {
  return connectWith((globalThis as unknown as { WebSocket: WebSocketConstructor }).WebSocket, opts);
}
