// METRICS_TOKEN: when set, /metrics requires Authorization: Bearer <METRICS_TOKEN>;
// unset, it stays open as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, TEST_ADMIN_KEY, type TestGateway } from './support/gateway.js';

const TOKEN = 'metrics-token-3c9e0f1a2b';

describe('with METRICS_TOKEN', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ env: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(() => gw.stop());

  it('refuses a scrape without the token, with a wrong one, or with the admin key (401)', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${TEST_ADMIN_KEY}` }, { authorization: TOKEN }] as Record<string, string>[]) {
      const r = await fetch(`${gw.url}/metrics`, { headers });
      expect(r.status).toBe(401);
      const body = await r.json();
      expect(body.error.code).toBe('UNAUTHORIZED');
      expect(JSON.stringify(body)).not.toContain(TOKEN);
    }
  });

  it('serves the metrics to Bearer <METRICS_TOKEN>', async () => {
    const r = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('minutegate_');
  });

  it('leaves the probes open', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  });
});

it('without METRICS_TOKEN /metrics is open', async () => {
  const gw = await startTestGateway();
  try {
    const r = await fetch(`${gw.url}/metrics`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('minutegate_');
  } finally {
    await gw.stop();
  }
});
