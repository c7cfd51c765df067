// /openapi.json: an OpenAPI 3.1 document generated from the routes' zod schemas. Every
// route of the app is in it, every schema in it compiles, and the live answers of every
// JSON route validate against it, headers included. Named schemas live under components
// (the client package's generated types name them). /docs serves the bundled page.
import { spawnSync } from 'node:child_process';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CARD } from './support/billing.js';
import { createAccount, startTestGateway, TEST_ADMIN_KEY, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';

let gw: TestGateway;
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
// Instants are documented as date-time; the gateway writes them as toISOString() does.
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/);
beforeAll(async () => {
  gw = await startTestGateway();
  const res = await fetch(`${gw.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(() => gw.stop());

const checked = new Set<string>();

/** A schema of the document, compiled with the document's components beside it, so its
 *  $refs (#/components/schemas/…) resolve. */
const compile = (schema: object) => ajv.compile({ ...schema, components: doc.components });

/** Calls a route as the admin and validates the answer against the document. */
async function call(method: string, template: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const op = doc.paths[template]?.[method.toLowerCase()];
  expect(op, `${method} ${template} is documented`).toBeDefined();
  const documented = op.responses[String(res.status)];
  expect(documented, `${method} ${template} answered ${res.status}, which is documented`).toBeDefined();
  expect(Object.keys(documented.headers ?? {}), `${method} ${template} ${res.status} documents X-Request-Id`).toContain('X-Request-Id');
  expect(res.headers.get('x-request-id')).toBeTruthy();
  if (res.headers.get('idempotent-replayed')) expect(Object.keys(documented.headers), `${method} ${template} documents Idempotent-Replayed`).toContain('Idempotent-Replayed');
  const text = await res.text();
  const schema = documented.content?.['application/json']?.schema;
  if (schema) {
    const json = JSON.parse(text);
    const validate = compile(schema);
    expect(validate(json), `${method} ${template} ${res.status}: ${JSON.stringify(validate.errors)} in ${text.slice(0, 300)}`).toBe(true);
    checked.add(`${method} ${template}`);
    return { status: res.status, json };
  }
  checked.add(`${method} ${template}`);
  return { status: res.status, json: null };
}

it('is OpenAPI 3.1 and every schema in it compiles', () => {
  expect(doc.openapi).toBe('3.1.0');
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      for (const r of Object.values<any>(op.responses)) {
        const schema = r.content?.['application/json']?.schema;
        if (schema) expect(() => compile(schema), `${method} ${path}`).not.toThrow();
      }
      const body = op.requestBody?.content && Object.values<any>(op.requestBody.content)[0]?.schema;
      if (body) expect(() => compile(body), `${method} ${path} body`).not.toThrow();
    }
  }
  expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
});

it('names its shared schemas under components and refers to them by $ref, instants as date-time', () => {
  const schemas = doc.components.schemas;
  for (const name of ['Account', 'Balance', 'Call', 'Error', 'LedgerEntry', 'Purchase', 'Quote', 'StaffMember']) expect(schemas[name], name).toBeDefined();
  expect(doc.paths['/v1/accounts/{id}/balance'].get.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Balance' });
  expect(schemas.Account.properties.balance).toEqual({ $ref: '#/components/schemas/Balance' });
  // Each named schema is written once: nowhere else in the document is its body repeated.
  const text = JSON.stringify(doc.paths);
  expect(text).not.toContain('"overageThisCycle"');
  for (const field of ['cycleStart', 'cycleEnd']) expect(schemas.Balance.properties[field].format, field).toBe('date-time');
  expect(schemas.Call.properties.endedAt.anyOf ?? [schemas.Call.properties.endedAt]).toContainEqual(expect.objectContaining({ format: 'date-time' }));
});

it('lists every error answer a /v1 route can give, with the error shape, and the response headers', () => {
  const error = { $ref: '#/components/schemas/Error' };
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    if (!path.startsWith('/v1/') || path === '/v1/ws') continue;
    for (const [method, op] of Object.entries<any>(ops)) {
      const statuses = [400, 401, 403, 404, 503, ...(op.requestBody ? [413, 415] : [])];
      for (const s of statuses) expect(op.responses[s]?.content?.['application/json']?.schema, `${method} ${path} ${s}`).toEqual(error);
      for (const r of Object.values<any>(op.responses)) expect(r.headers?.['X-Request-Id'], `${method} ${path}`).toEqual({ $ref: '#/components/headers/X-Request-Id' });
    }
  }
  expect(doc.paths['/v1/accounts/{id}/purchases'].post.responses['201'].headers['Idempotent-Replayed']).toBeDefined();
  expect(doc.paths['/v1/accounts/{id}/purchases'].post.responses['409']).toBeDefined();
  expect(doc.paths['/v1/accounts/{id}/purchases'].post.responses['422']).toBeDefined();
  expect(doc.components.headers['Idempotent-Replayed'].schema).toEqual({ type: 'string', enum: ['true'] });
});

it('documents every route of the app', () => {
  const routes = gw.app.routes
    .filter((r) => r.method !== 'ALL')
    // The documentation page's own asset files are not API routes.
    .filter((r) => !r.path.startsWith('/docs/'))
    // Nor are the web app's pages, assets and config (docs/web-app.md).
    .filter((r) => r.path !== '/app' && !r.path.startsWith('/app/'))
    .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
  const documented = new Set(Object.entries<any>(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
  const missing = [...new Set(routes)].filter((r) => !documented.has(r));
  expect(missing).toEqual([]);
  // Socket upgrades are routes too (the Media Streams one only with MEDIA_STREAMS=on).
  expect(documented.has('get /v1/ws')).toBe(true);
  expect(documented.has('get /twilio/media/{token}')).toBe(true);
});

it('validates the live answers of every JSON route', async () => {
  const A = '/v1/accounts/{id}';
  const a = await createAccount(gw, { monthlyMinutes: 100 });
  const id = a.id;
  await call('POST', '/v1/accounts', '/v1/accounts', { id: `${id}x`, name: 'Second', monthlyMinutes: 10 });
  await call('POST', '/v1/accounts', '/v1/accounts', { id: `${id}x`, name: 'Second', monthlyMinutes: 10 }); // 409
  await call('GET', A, `/v1/accounts/${id}`);
  await call('GET', `${A}/balance`, `/v1/accounts/${id}/balance`);
  await call('GET', `${A}/balance`, '/v1/accounts/nobody/balance'); // 404
  const placed = await placeSoftphoneCall(gw, a.identity);
  await postAll(gw, answeredCallSignals(placed.callSid, 75));
  await call('GET', `${A}/ledger`, `/v1/accounts/${id}/ledger?limit=5`);
  await call('GET', `${A}/calls`, `/v1/accounts/${id}/calls`);
  await call('GET', `${A}/calls/{callSid}`, `/v1/accounts/${id}/calls/${placed.callSid}`);
  await call('GET', `${A}/usage`, `/v1/accounts/${id}/usage?groupBy=day`);
  await call('GET', `${A}/calls/export`, `/v1/accounts/${id}/calls/export?from=2026-01-01T00:00:00Z&to=2036-01-01T00:00:00Z`);
  await call('GET', `${A}/calls/export`, `/v1/accounts/${id}/calls/export?from=2026-01-01T00:00:00Z`); // 400
  await call('POST', `${A}/staff`, `/v1/accounts/${id}/staff`, { id: 'bob', email: 'bob@x.example', identity: `${id}_bob` });
  await call('GET', `${A}/staff`, `/v1/accounts/${id}/staff`);
  await call('POST', `${A}/staff/{staffId}/token`, `/v1/accounts/${id}/staff/bob/token`, {});
  await call('POST', `${A}/staff/{staffId}/revoke-tokens`, `/v1/accounts/${id}/staff/bob/revoke-tokens`);
  await call('DELETE', `${A}/staff/{staffId}`, `/v1/accounts/${id}/staff/bob`);
  await call('POST', `${A}/numbers`, `/v1/accounts/${id}/numbers`, { phoneNumber: `+1556${String(Date.now() % 1e7).padStart(7, '0')}` });
  await call('POST', `${A}/adjustments`, `/v1/accounts/${id}/adjustments`, { minutes: 5, reason: 'goodwill' });
  await call('POST', `${A}/adjustments`, `/v1/accounts/${id}/adjustments`, { minutes: 'five' }); // 400
  await call('GET', `${A}/alerts`, `/v1/accounts/${id}/alerts`);
  await call('PUT', `${A}/alerts`, `/v1/accounts/${id}/alerts`, { thresholdsMinutes: [20, 0] });
  await call('PATCH', `${A}/plan`, `/v1/accounts/${id}/plan`, { planMinutes: 150 });
  const card = (await call('POST', `${A}/payment-methods`, `/v1/accounts/${id}/payment-methods`, CARD)).json;
  const spare = (await call('POST', `${A}/payment-methods`, `/v1/accounts/${id}/payment-methods`, { ...CARD, last4: '1111', processorToken: 'tok_spare_1' })).json;
  await call('GET', `${A}/payment-methods`, `/v1/accounts/${id}/payment-methods`);
  await call('DELETE', `${A}/payment-methods/{pmId}`, `/v1/accounts/${id}/payment-methods/${spare.id}`);
  const quote = (await call('POST', `${A}/purchases/quote`, `/v1/accounts/${id}/purchases/quote`, { bundles: 1, kind: 'addon' })).json;
  const bought = (
    await call('POST', `${A}/purchases`, `/v1/accounts/${id}/purchases`, { quoteId: quote.quoteId, paymentMethodId: card.id, staffId: 'alice' }, { 'idempotency-key': `k-${id}` })
  ).json;
  // The same key again: the stored answer, marked Idempotent-Replayed (documented).
  await call('POST', `${A}/purchases`, `/v1/accounts/${id}/purchases`, { quoteId: quote.quoteId, paymentMethodId: card.id, staffId: 'alice' }, { 'idempotency-key': `k-${id}` });
  await call('GET', `${A}/purchases/{purchaseId}`, `/v1/accounts/${id}/purchases/${bought.purchaseId}`);
  await call('GET', `${A}/addons`, `/v1/accounts/${id}/addons`);
  await call('DELETE', `${A}/addons/{purchaseId}`, `/v1/accounts/${id}/addons/${bought.purchaseId}`);
  await call('GET', `${A}/charges`, `/v1/accounts/${id}/charges`);
  await call('GET', `${A}/charges`, `/v1/accounts/${id}/charges?cycle=previous`);
  await call('POST', `${A}/voice-token`, `/v1/accounts/${id}/voice-token`); // the admin is not a staff member: 4xx, documented
  await call('GET', '/healthz', '/healthz');
  await call('GET', '/readyz', '/readyz');
  await call('GET', '/openapi.json', '/openapi.json');

  // Every JSON route of the document was exercised.
  const jsonRoutes = Object.entries<any>(doc.paths).flatMap(([p, ops]) =>
    Object.entries<any>(ops)
      .filter(([, op]) => p.startsWith('/v1/accounts') || p === '/healthz' || p === '/readyz')
      .map(([m]) => `${m.toUpperCase()} ${p}`),
  );
  expect(jsonRoutes.filter((r) => !checked.has(r))).toEqual([]);
});

it('serves the documentation page and its assets from the package, not a CDN', async () => {
  const page = await fetch(`${gw.url}/docs`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).not.toMatch(/https?:\/\//);
  for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
    const r = await fetch(`${gw.url}${src[1]}`);
    expect(r.status, src[1]).toBe(200);
    expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(10);
  }
  expect((await fetch(`${gw.url}/docs/package.json`)).status).toBe(404);
});

it('serves the bundle as a file without running it in the server (swagger-ui-dist\'s index would: ~40 MB per instance)', () => {
  // A process of its own: this one's module cache is shared with other test files.
  const probe = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
    import { createRequire } from 'node:module';
    const { docsRoutes } = await import('./src/http/docs-routes.ts');
    docsRoutes();
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('swagger-ui-dist'));
    console.log(JSON.stringify(loaded.map((k) => k.slice(k.lastIndexOf('/') + 1))));
  `], { encoding: 'utf8' });
  expect(probe.stderr).toBe('');
  expect(JSON.parse(probe.stdout)).toEqual(['absolute-path.js']);
});
