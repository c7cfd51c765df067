// The outbound alert webhook: POST JSON, signed like Stripe's — header
// `Minutegate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with
// ALERT_WEBHOOK_SECRET — so a receiver can check origin and freshness. Any non-2xx answer
// or network error is a failure, retried by the dispatcher (at least once; `id` lets the
// receiver drop duplicates).
import { createHmac } from 'node:crypto';

export interface AlertWebhookBody {
  type: 'balance.low' | 'balance.exhausted';
  id: string;
  accountId: string;
  available: number;
  threshold: number;
  cycleStart: string;
  at: string;
}

export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

export async function postWebhook(url: string, secret: string, payload: AlertWebhookBody, nowMs: number): Promise<void> {
  const body = JSON.stringify(payload);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'minutegate-alerts',
        'minutegate-signature': signWebhook(secret, body, Math.floor(nowMs / 1000)),
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new Error(`alert webhook unreachable: ${(err as Error).message}`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status >= 300) throw new Error(`alert webhook answered ${res.status}`);
}
