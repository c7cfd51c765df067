// What both entry points (node.ts, browser.ts) export besides their createClient.
export { DeniedError, MinutegateError } from './errors.js';
export { socketUrl } from './socket.js';
export type { Authorization, ClientEvents, ClientOptions, ConnectionState, MinutegateClient, TokenSource, VoiceDevice } from './socket.js';
export { createApiClient, type ApiClient, type ApiOptions } from './rest.js';
export type { components, paths } from './openapi-types.js';
export { CLOSE, SOCKET_PATH } from '../../../src/wire/contract.js';
export type {
  AlertMessage,
  Balance,
  BalanceMessage,
  CallMessage,
  DenialReason,
  ErrorBody,
  ServerMessage,
} from '../../../src/wire/contract.js';
