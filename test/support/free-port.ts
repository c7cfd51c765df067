// Free TCP ports on 127.0.0.1 for the private redis-server processes of the tests
// (redis-server.ts, redis-cluster.ts, tls-redis.ts).
import { createServer } from 'node:net';

const HOST = '127.0.0.1';

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: HOST, exclusive: true }, () => {
      srv.close(() => resolve(true));
    });
  });
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host: HOST, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}

export interface PickPortOptions {
  /** Inclusive lower bound of the random range. */
  min?: number;
  /** Exclusive upper bound of the random range. */
  max?: number;
  /** Further offsets that must also be bindable (e.g. `[10000]` for the cluster bus port). */
  alsoFree?: readonly number[];
  /** Ports to skip (already chosen by the caller). */
  exclude?: ReadonlySet<number>;
}

/**
 * Pick a port that is currently bindable on 127.0.0.1 (together with `port + offset`
 * for every `alsoFree` offset). Random ports are taken below the kernel's ephemeral
 * range by default, so an outgoing connection cannot grab the port while a server is
 * stopped for an outage test. Falls back to an OS-assigned port when no offsets are
 * required. There is an inherent race until the server binds: callers retry on
 * EADDRINUSE.
 */
export async function pickFreePort(opts: PickPortOptions = {}): Promise<number> {
  const min = opts.min ?? 20_000;
  const max = opts.max ?? 32_000;
  const offsets = opts.alsoFree ?? [];
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min));
    if (opts.exclude?.has(port)) continue;
    if (offsets.some((o) => port + o > 65_535 || opts.exclude?.has(port + o))) continue;
    if (!(await canBind(port))) continue;
    let ok = true;
    for (const o of offsets) {
      if (!(await canBind(port + o))) {
        ok = false;
        break;
      }
    }
    if (ok) return port;
  }
  if (offsets.length === 0) return ephemeralPort();
  throw new Error(`no free port found in [${min}, ${max})`);
}
