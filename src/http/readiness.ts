// /readyz: whether this instance should get new work. Not ready from the moment draining
// starts (SIGTERM or close()) and while any dependency is down: the Redis command
// connection (metering fails closed without it, R14) or the bus's subscriber connection
// (sockets here would miss balance pushes). PostgreSQL is reported, not required.
// /healthz stays the liveness probe.
import type { Context } from 'hono';

export type ReadinessCheck = () => boolean | Promise<boolean>;

export class Readiness {
  private drainingSince: number | null = null;
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly reported = new Map<string, ReadinessCheck>();

  /** Registers a dependency; `name` is reported as 'ok' or 'down'. */
  check(name: string, fn: ReadinessCheck): void {
    this.checks.set(name, fn);
  }

  /** Registers a dependency that is reported ('ok' or 'unavailable') but never makes the
   *  instance unready: PostgreSQL, which metering does not need (R19). */
  reportOnly(name: string, fn: ReadinessCheck): void {
    this.reported.set(name, fn);
  }

  /** Idempotent: the first call marks the start of the drain. */
  startDraining(now = Date.now()): void {
    this.drainingSince ??= now;
  }

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  async report(): Promise<{ ready: boolean; body: Record<string, string> }> {
    if (this.draining) return { ready: false, body: { status: 'draining' } };
    const body: Record<string, string> = {};
    let ready = true;
    await Promise.all(
      [...this.checks].map(async ([name, fn]) => {
        let ok = false;
        try {
          ok = await fn();
        } catch {
          ok = false;
        }
        body[name] = ok ? 'ok' : 'down';
        if (!ok) ready = false;
      }),
    );
    await Promise.all(
      [...this.reported].map(async ([name, fn]) => {
        const ok = await Promise.resolve().then(fn).catch(() => false);
        body[name] = ok ? 'ok' : 'unavailable';
      }),
    );
    return { ready, body: { status: ready ? 'ready' : 'unavailable', ...body } };
  }

  route() {
    return async (c: Context) => {
      const r = await this.report();
      c.header('cache-control', 'no-store');
      return c.json(r.body, r.ready ? 200 : 503);
    };
  }
}
