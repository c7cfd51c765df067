// The gateway's admin API and /metrics, as the benches call them.
export type Api = (port: number, method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }>;

/** Admin API requests with this run's key; the body is parsed as JSON when it is JSON. */
export function adminApi(adminKey: string): Api {
  return async (port, method, path, body) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // keep the text
    }
    return { status: res.status, json };
  };
}

/** The gateway's own counters, keyed by name with labels, e.g. `minutegate_x{kind="y"}`. */
export async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^(minutegate_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}
