// The wire contract between the gateway and its clients, in one module: what the client
// socket (/v1/ws, docs/sockets.md) carries each way, its close codes, and the REST shapes the
// clients read (the balance snapshot, the error body). The server builds its frames with
// these types (ws/hub.ts, ws/client-gateway.ts, accounts/views.ts), checks its zod parser
// of client frames against them (ws/protocol.ts), and the client package
// (packages/client, @minutegate/client) and the web app import them as they are.
//
// Plain TypeScript and a few small checks, no dependency: the client package bundles this
// file into a browser build that must stay small (packages/client/bundle-limits.json).
// Every other REST shape comes from the OpenAPI document (packages/client/src/openapi-types.ts,
// generated from src/api/openapi.ts).

/** The client socket's path under the gateway's base URL. */
export const SOCKET_PATH = '/v1/ws';

/** An error answer of the REST API. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** The R1 snapshot as clients see it (REST and socket): instants as ISO strings, the
 *  pending fields only while a plan cut or an add-on end is pending. */
export interface Balance {
  accountId: string;
  balance: number;
  reserved: number;
  available: number;
  /** The plan's minutes and the recurring add-ons' (R9, R10); monthlyMinutes is their sum. */
  planMinutes: number;
  addonMinutes: number;
  monthlyMinutes: number;
  pendingMonthlyMinutes?: number;
  pendingPlanMinutes?: number;
  pendingAddonMinutes?: number;
  usedThisCycle: number;
  overageThisCycle: number;
  activeCalls: number;
  cycleStart: string;
  cycleEnd: string;
  /** Grows with every change: a client keeps the snapshot with the highest. */
  version: number;
}

/** Echoed back as sent; clients use strings or numbers alike. */
export type RequestId = string | number;

/** Why the gateway refused a socket authorization (R2, R17). */
export type DenialReason = 'no_minutes' | 'too_many_open_authorizations' | 'destination_not_allowed';

// ---- server → client ----

export type BalanceMessage = { type: 'balance' } & Balance;

/** A call started or ended on the account. Further fields (direction, from, to, staffId,
 *  billableSeconds, billedMinutes…) depend on the event; newer gateways may add some. */
export interface CallMessage {
  type: 'call';
  event: string;
  callSid: string;
  version?: number;
  /** ISO instant of the event. */
  at?: string;
  [field: string]: unknown;
}

/** The account's available minutes fell to its low threshold, or to nothing. */
export interface AlertMessage {
  type: 'alert';
  level: 'low' | 'exhausted';
  available: number;
  threshold: number;
  cycleStart?: string;
  at?: string;
  [field: string]: unknown;
}

export interface AuthorizedMessage {
  type: 'authorized';
  requestId: RequestId;
  authorizationId: string;
  /** ISO instant after which an unused authorization lapses. */
  expiresAt: string;
}

export interface DeniedMessage {
  type: 'denied';
  requestId: RequestId;
  reason: DenialReason;
}

export interface CanceledMessage {
  type: 'canceled';
  authorizationId: string;
  requestId?: RequestId;
}

export interface PongMessage {
  type: 'pong';
  requestId?: RequestId;
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
  requestId?: RequestId;
}

export type ServerMessage = BalanceMessage | CallMessage | AlertMessage | AuthorizedMessage | DeniedMessage | CanceledMessage | PongMessage | ErrorMessage;

// ---- client → server ----

export interface AuthorizeRequest {
  type: 'authorize';
  requestId: RequestId;
  /** E.164 number or `client:<identity>`, decided by the same rule as /twilio/voice. */
  to: string;
}
export interface CancelRequest {
  type: 'cancel';
  authorizationId: string;
  requestId?: RequestId;
}
export interface PingRequest {
  type: 'ping';
  requestId?: RequestId;
}
export interface SubscribeRequest {
  type: 'subscribe' | 'unsubscribe';
  accountId: string;
  requestId?: RequestId;
}
export type ClientMessage = AuthorizeRequest | CancelRequest | PingRequest | SubscribeRequest;

/** The largest frame a client may send (bytes); a bigger one is closed with TOO_BIG. */
export const MAX_CLIENT_FRAME_BYTES = 16 * 1024;

/** Close codes of the client socket (4xxx are the gateway's; 1009 and 1012 standard). */
export const CLOSE = {
  TOO_BIG: 1009,
  RESTARTING: 1012,
  /** A token refused once the socket is open. The gateway refuses a bad token at the
   *  upgrade (HTTP 401) today; clients treat this code the same way. */
  UNAUTHORIZED: 4001,
  /** The staff member was removed or their tokens revoked (issue #8). */
  ACCESS_REVOKED: 4003,
  ACCOUNT_GONE: 4004,
  SLOW_CONSUMER: 4008,
  RATE_LIMITED: 4029,
  /** Issue #16: the staff member already holds WS_MAX_SOCKETS_PER_STAFF sockets here (an
   *  upgrade that raced past the route's 429). */
  TOO_MANY_SOCKETS: 4429,
} as const;

// ---- checks, for clients reading frames ----

type Json = Record<string, unknown>;
const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const optional = (v: unknown, is: (x: unknown) => boolean) => v === undefined || is(v);
const isRequestId = (v: unknown): v is RequestId => str(v) || num(v);

const BALANCE_NUMBERS = ['balance', 'reserved', 'available', 'monthlyMinutes', 'usedThisCycle', 'overageThisCycle', 'activeCalls', 'version'] as const;
const DENIAL_REASONS: readonly string[] = ['no_minutes', 'too_many_open_authorizations', 'destination_not_allowed'] satisfies DenialReason[];

const CHECKS: Record<ServerMessage['type'], (m: Json) => boolean> = {
  balance: (m) => str(m.accountId) && str(m.cycleStart) && str(m.cycleEnd) && BALANCE_NUMBERS.every((k) => num(m[k])),
  call: (m) => str(m.event) && str(m.callSid) && optional(m.version, num),
  alert: (m) => (m.level === 'low' || m.level === 'exhausted') && num(m.available) && num(m.threshold) && optional(m.cycleStart, str),
  authorized: (m) => isRequestId(m.requestId) && str(m.authorizationId) && str(m.expiresAt),
  // A reason this client does not know yet is still a denial (newer gateways may add some).
  denied: (m) => isRequestId(m.requestId) && str(m.reason),
  canceled: (m) => str(m.authorizationId) && optional(m.requestId, isRequestId),
  pong: (m) => optional(m.requestId, isRequestId),
  error: (m) => str(m.code) && str(m.message) && optional(m.requestId, isRequestId),
};

/** A frame from the gateway as a ServerMessage, or null when it is not one this contract
 *  knows (not JSON, an unknown type, a field missing or of the wrong kind). Unknown
 *  fields are kept: newer gateways may add some. */
export function parseServerMessage(text: string): ServerMessage | null {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return null;
  const type = (m as Json).type;
  if (!str(type) || !Object.hasOwn(CHECKS, type)) return null;
  return CHECKS[type as ServerMessage['type']](m as Json) ? (m as ServerMessage) : null;
}

/** Whether a denial's reason is one this contract names. */
export function isDenialReason(reason: string): reason is DenialReason {
  return DENIAL_REASONS.includes(reason);
}
