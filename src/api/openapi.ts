// The OpenAPI 3.1 document at /openapi.json, generated from the zod schemas the routes
// validate with (request bodies and queries) and the ones in response-schemas.ts (answers),
// through zod's own JSON Schema output. test/openapi.test.ts checks that every route of
// the app is here and that live answers validate against it; the client package
// (@minutegate/client) generates its REST types from it.
//
// Named answers (response-schemas.ts' NAMED) are written once under components.schemas
// and referenced by $ref; every /v1 route lists the error answers it can give with the
// error shape, and every answer its headers (X-Request-Id; Idempotent-Replayed where an
// Idempotency-Key is taken).
import { z } from 'zod';
import { adjustmentSchema, newAccountSchema, numbersSchema, staffSchema, tokenSchema } from './account-routes.js';
import { callsQuery, exportQuery, ledgerQuery, usageQuery } from './history-routes.js';
import { settingsSchema } from './alert-routes.js';
import { chargesQuery, paymentMethodSchema, planSchema, purchaseSchema, quoteSchema } from './purchase-routes.js';
import * as R from './response-schemas.js';
import { accountIdSchema } from '../domain/ids.js';

type Auth = 'admin' | 'account' | 'staff' | 'twilio' | 'public';
type Body = z.ZodType | 'empty' | 'xml' | 'text' | 'html' | 'csv' | 'upgrade';

interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  body?: z.ZodType;
  query?: z.ZodObject;
  responses: Record<number, Body>;
  headers?: string[];
}

const INCOMPLETE = 'while PostgreSQL is away, what Redis holds, with the header History-Incomplete: postgres-unavailable';

const twilioForm = z.record(z.string(), z.string()).describe('Twilio webhook parameters (application/x-www-form-urlencoded), signed');
/** The gateway's own query on the callback URLs its TwiML names (twilio/callback-url.ts). */
const callbackQuery = z.object({
  a: accountIdSchema
    .optional()
    .describe("The call's account, on the <Dial action> and statusCallback URLs the gateway's TwiML names (signed with the URL, so it needs no look-up); absent on the TwiML App's Status Callback, whose call is looked up by CallSid"),
});

export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/healthz', summary: 'Liveness', tag: 'ops', auth: 'public', responses: { 200: R.healthResponse } },
  { method: 'get', path: '/readyz', summary: 'Readiness: not draining, Redis command and subscriber connections up', tag: 'ops', auth: 'public', responses: { 200: R.readyResponse, 503: R.readyResponse } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics (Authorization: Bearer METRICS_TOKEN when that is set)', tag: 'ops', auth: 'public', responses: { 200: 'text', 401: R.errorResponse } },
  { method: 'get', path: '/openapi.json', summary: 'This document', tag: 'ops', auth: 'public', responses: { 200: z.looseObject({ openapi: z.string() }) } },
  { method: 'get', path: '/docs', summary: 'API documentation page (bundled Swagger UI)', tag: 'ops', auth: 'public', responses: { 200: 'html' } },

  { method: 'post', path: '/twilio/voice', summary: 'Voice URL: authorize a call (R2) → <Dial> or <Reject>', tag: 'twilio', auth: 'twilio', body: twilioForm, responses: { 200: 'xml', 403: R.errorResponse } },
  { method: 'post', path: '/twilio/status', summary: 'Call status callbacks and the <Dial action> (R4, R5)', tag: 'twilio', auth: 'twilio', body: twilioForm, query: callbackQuery, responses: { 200: 'xml', 400: R.errorResponse, 403: R.errorResponse, 503: R.errorResponse } },
  { method: 'post', path: '/twilio/video/status', summary: 'Video room and participant callbacks (R12)', tag: 'twilio', auth: 'twilio', body: twilioForm, responses: { 200: 'xml', 403: R.errorResponse, 503: R.errorResponse } },
  { method: 'get', path: '/twilio/media/{token}', summary: 'Media Streams WebSocket, bound to one call by its token (R18)', tag: 'twilio', auth: 'twilio', responses: { 101: 'upgrade', 403: 'text', 404: R.errorResponse } },
  { method: 'get', path: '/v1/ws', summary: 'Client WebSocket: balance, calls, alerts, authorize/cancel (token in Authorization or ?token=)', tag: 'sockets', auth: 'account', responses: { 101: 'upgrade', 401: 'text', 403: 'text', 429: R.errorResponse } },

  { method: 'post', path: '/v1/accounts', summary: 'Create an account', tag: 'accounts', auth: 'admin', body: newAccountSchema, responses: { 201: R.accountResponse, 409: R.errorResponse } },
  { method: 'get', path: '/v1/accounts/{id}', summary: 'An account with its balance', tag: 'accounts', auth: 'account', responses: { 200: R.accountResponse } },
  { method: 'get', path: '/v1/accounts/{id}/balance', summary: 'The R1 snapshot', tag: 'accounts', auth: 'account', responses: { 200: R.balanceResponse } },
  { method: 'get', path: '/v1/accounts/{id}/ledger', summary: `Ledger entries, paged: the whole history (PostgreSQL and Redis); ${INCOMPLETE}`, tag: 'history', auth: 'account', query: ledgerQuery, responses: { 200: R.ledgerResponse } },
  { method: 'get', path: '/v1/accounts/{id}/calls', summary: `Calls, newest first, paged: the whole history; ${INCOMPLETE}`, tag: 'history', auth: 'account', query: callsQuery, responses: { 200: R.callsResponse } },
  { method: 'get', path: '/v1/accounts/{id}/calls/export', summary: 'The calls that ended in [from, to) as CSV (RFC 4180), streamed; 503 STORE_UNAVAILABLE while PostgreSQL is away', tag: 'history', auth: 'account', query: exportQuery, responses: { 200: 'csv', 503: R.errorResponse } },
  { method: 'get', path: '/v1/accounts/{id}/calls/{callSid}', summary: `One call; ${INCOMPLETE}`, tag: 'history', auth: 'account', responses: { 200: R.callResponse } },
  { method: 'get', path: '/v1/accounts/{id}/usage', summary: "A cycle's calls summed by staff member or UTC day; 503 STORE_UNAVAILABLE while PostgreSQL is away", tag: 'history', auth: 'account', query: usageQuery, responses: { 200: R.usageResponse, 503: R.errorResponse } },
  { method: 'post', path: '/v1/accounts/{id}/staff', summary: 'Add a staff member', tag: 'staff', auth: 'admin', body: staffSchema, responses: { 201: R.staffMemberResponse, 409: R.errorResponse } },
  { method: 'get', path: '/v1/accounts/{id}/staff', summary: 'Staff members', tag: 'staff', auth: 'account', responses: { 200: R.staffListResponse } },
  { method: 'delete', path: '/v1/accounts/{id}/staff/{staffId}', summary: 'Remove a staff member: tokens, sockets and authorizations end within 5 s', tag: 'staff', auth: 'admin', responses: { 204: 'empty' } },
  { method: 'post', path: '/v1/accounts/{id}/staff/{staffId}/token', summary: 'Mint a staff token', tag: 'staff', auth: 'admin', body: tokenSchema, responses: { 201: R.staffTokenResponse } },
  { method: 'post', path: '/v1/accounts/{id}/staff/{staffId}/revoke-tokens', summary: 'Revoke every token issued to a staff member so far', tag: 'staff', auth: 'admin', responses: { 204: 'empty' } },
  { method: 'post', path: '/v1/accounts/{id}/numbers', summary: 'Add phone numbers', tag: 'accounts', auth: 'admin', body: numbersSchema, responses: { 201: R.numbersResponse, 409: R.errorResponse } },
  { method: 'post', path: '/v1/accounts/{id}/adjustments', summary: 'Credit or debit minutes', tag: 'accounts', auth: 'admin', body: adjustmentSchema, responses: { 201: R.adjustmentResponse, 409: R.errorResponse } },
  { method: 'post', path: '/v1/accounts/{id}/voice-token', summary: 'A Twilio Voice SDK access token for the staff member', tag: 'staff', auth: 'staff', responses: { 201: R.voiceTokenResponse, 503: R.errorResponse } },
  { method: 'get', path: '/v1/accounts/{id}/alerts', summary: 'Low-balance alert settings', tag: 'alerts', auth: 'account', responses: { 200: R.alertSettingsResponse } },
  { method: 'put', path: '/v1/accounts/{id}/alerts', summary: 'Set low-balance alert settings', tag: 'alerts', auth: 'account', body: settingsSchema, responses: { 200: R.alertSettingsResponse } },

  { method: 'patch', path: '/v1/accounts/{id}/plan', summary: 'Change the plan (R9)', tag: 'billing', auth: 'admin', body: planSchema, responses: { 200: R.planChangeResponse } },
  { method: 'get', path: '/v1/accounts/{id}/addons', summary: 'Recurring add-ons', tag: 'billing', auth: 'account', responses: { 200: R.addonListResponse } },
  { method: 'delete', path: '/v1/accounts/{id}/addons/{purchaseId}', summary: 'End a recurring add-on at the next reset', tag: 'billing', auth: 'account', responses: { 200: R.addonResponse } },
  { method: 'post', path: '/v1/accounts/{id}/payment-methods', summary: 'Add a card (a processor token, never a card number); with an Idempotency-Key, a retry adds it once', tag: 'billing', auth: 'account', body: paymentMethodSchema, headers: ['Idempotency-Key?'], responses: { 201: R.paymentMethodResponse } },
  { method: 'get', path: '/v1/accounts/{id}/payment-methods', summary: 'Cards on file', tag: 'billing', auth: 'account', responses: { 200: R.paymentMethodListResponse } },
  { method: 'delete', path: '/v1/accounts/{id}/payment-methods/{pmId}', summary: 'Remove a card', tag: 'billing', auth: 'account', responses: { 204: 'empty' } },
  { method: 'post', path: '/v1/accounts/{id}/purchases/quote', summary: 'Quote bundles of 100 minutes', tag: 'billing', auth: 'account', body: quoteSchema, responses: { 201: R.quoteResponse } },
  { method: 'post', path: '/v1/accounts/{id}/purchases', summary: 'Buy a quote with a card (Idempotency-Key)', tag: 'billing', auth: 'account', body: purchaseSchema, headers: ['Idempotency-Key'], responses: { 201: R.purchaseResponse, 409: R.errorResponse, 422: R.errorResponse } },
  { method: 'get', path: '/v1/accounts/{id}/purchases/{purchaseId}', summary: 'A purchase with its receipt status', tag: 'billing', auth: 'account', responses: { 200: R.purchaseResponse } },
  { method: 'get', path: '/v1/accounts/{id}/charges', summary: "A cycle's minute charges", tag: 'billing', auth: 'account', query: chargesQuery, responses: { 200: R.chargesResponse } },
];

const COMPONENTS = '#/components/schemas/';

/** Named schemas met while converting, for components.schemas. */
const componentSchemas: Record<string, unknown> = {};

/** A schema's JSON Schema, with the named schemas in it (or itself, if named) as $refs
 *  to components.schemas, where they are collected. */
const jsonSchema = (s: z.ZodType, io: 'input' | 'output') => {
  const out = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any', metadata: R.NAMED }) as Record<string, unknown>;
  delete out.$schema;
  const defs = (out.$defs ?? {}) as Record<string, unknown>;
  delete out.$defs;
  const self = R.NAMED.get(s)?.id;
  // A named schema converted on its own comes back either whole (with its id) or as a
  // $ref to its own $defs entry.
  if (self && !defs[self]) {
    delete out.id;
    defs[self] = out;
  }
  for (const [id, def] of Object.entries(defs)) {
    const clean = refsToComponents(def) as Record<string, unknown>;
    delete clean.id;
    componentSchemas[id] ??= clean;
  }
  return self ? { $ref: COMPONENTS + self } : (refsToComponents(out) as Record<string, unknown>);
};

function refsToComponents(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(refsToComponents);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, k === '$ref' && typeof x === 'string' ? x.replace(/^#\/\$defs\//, COMPONENTS) : refsToComponents(x)]),
  );
}

const STATUS_TEXT: Record<number, string> = {
  101: 'Switching Protocols', 200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad request', 401: 'No or bad credentials',
  403: 'Forbidden', 404: 'Not found', 409: 'Conflict', 413: 'Body over the size limit', 415: 'Body not JSON (Content-Type)',
  422: 'Unprocessable', 429: 'Too many', 503: 'Unavailable (Redis or PostgreSQL away, or draining): retry',
};

/** Every /v1 route can answer these: a bad parameter or query, no or a bad token, another
 *  account's token, no such account (or item), a store away (R14). With a body, also
 *  413 and 415. */
const V1_ERRORS = [400, 401, 403, 404, 503];
const BODY_ERRORS = [413, 415];

const RESPONSE_HEADERS = {
  'X-Request-Id': { description: "This request's id (the request's own when it sent a sane one), as the access log has it", schema: { type: 'string' } },
  'Idempotent-Replayed': { description: 'true when this is the stored answer to an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
};
const HEADERS = {
  requestId: { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } },
  replayed: { 'Idempotent-Replayed': { $ref: '#/components/headers/Idempotent-Replayed' } },
};

function content(body: Body) {
  if (body === 'empty' || body === 'upgrade') return undefined;
  if (body === 'xml') return { 'text/xml': { schema: { type: 'string', description: 'TwiML' } } };
  if (body === 'text') return { 'text/plain': { schema: { type: 'string' } } };
  if (body === 'html') return { 'text/html': { schema: { type: 'string' } } };
  if (body === 'csv') return { 'text/csv': { schema: { type: 'string', description: 'RFC 4180, a header row first' } } };
  return { 'application/json': { schema: jsonSchema(body, 'output') } };
}

const SECURITY: Record<Auth, unknown[]> = {
  admin: [{ bearer: [] }],
  account: [{ bearer: [] }],
  staff: [{ bearer: [] }],
  twilio: [{ twilioSignature: [] }],
  public: [],
};

let cached: Record<string, unknown> | null = null;

export function openApiDocument(): Record<string, unknown> {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters: unknown[] = [];
    for (const m of op.path.matchAll(/\{(\w+)\}/g)) parameters.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    if (op.query) {
      const shape = op.query.shape as Record<string, z.ZodType>;
      for (const [name, s] of Object.entries(shape)) parameters.push({ name, in: 'query', required: false, schema: jsonSchema(s, 'input') });
    }
    // "Name?" is an optional header.
    for (const h of op.headers ?? []) parameters.push({ name: h.replace(/\?$/, ''), in: 'header', required: !h.endsWith('?'), schema: { type: 'string' } });
    const responses: Record<string, Record<string, unknown>> = {};
    for (const [status, body] of Object.entries(op.responses)) {
      const c = content(body);
      responses[status] = c ? { description: STATUS_TEXT[Number(status)] ?? status, content: c } : { description: STATUS_TEXT[Number(status)] ?? status };
    }
    if (op.path.startsWith('/v1/') && op.path !== '/v1/ws') {
      for (const s of [...V1_ERRORS, ...(op.body ? BODY_ERRORS : [])]) responses[String(s)] ??= { description: STATUS_TEXT[s], content: content(R.errorResponse) };
    }
    const idempotent = (op.headers ?? []).some((h) => h.startsWith('Idempotency-Key'));
    for (const [status, r] of Object.entries(responses)) {
      if (status === '101') continue;
      r.headers = idempotent && status.startsWith('2') ? { ...HEADERS.requestId, ...HEADERS.replayed } : HEADERS.requestId;
    }
    const operation: Record<string, unknown> = {
      summary: op.summary,
      tags: [op.tag],
      operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(\w)?/g, (_, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
      security: SECURITY[op.auth],
      responses,
    };
    if (op.auth === 'admin') operation.description = 'Admin only (Bearer ADMIN_API_KEY).';
    else if (op.auth === 'account') operation.description = 'The admin key, or a staff token of this account.';
    else if (op.auth === 'staff') operation.description = 'A staff token of this account.';
    if (parameters.length) operation.parameters = parameters;
    if (op.body) {
      const form = op.auth === 'twilio';
      operation.requestBody = {
        required: true,
        content: { [form ? 'application/x-www-form-urlencoded' : 'application/json']: { schema: jsonSchema(op.body, 'input') } },
      };
    }
    (paths[op.path] ??= {})[op.method] = operation;
  }
  cached = {
    openapi: '3.1.0',
    info: {
      title: 'minutegate',
      version: '0.1.0',
      description: 'Real-time call-metering gateway for Twilio: one atomic minute pool per account. See docs/design.md in the repository for the rules (R1–R21).',
    },
    // The document is served by the gateway it describes: its paths are relative to it.
    servers: [{ url: '/', description: 'the gateway serving this document' }],
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(componentSchemas).sort(([a], [b]) => a.localeCompare(b))),
      headers: RESPONSE_HEADERS,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'ADMIN_API_KEY, or a staff token (HS256 JWT)' },
        twilioSignature: { type: 'apiKey', in: 'header', name: 'X-Twilio-Signature', description: "Twilio's HMAC-SHA1 request signature" },
      },
    },
  };
  return cached;
}
