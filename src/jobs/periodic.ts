// Runs one async pass every `intervalMs` (real time), never two at once, and can be woken
// early. The passes themselves read the injected clock, so tests control what is due
// without waiting for it. A failing pass is logged and the next one runs as usual: the
// work it claimed comes back when its lease ends.
import type { Logger } from '../log.js';

export class PeriodicJob {
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires (performance.now() ms). */
  private timerAt = 0;
  private running = false;
  private current: Promise<void> | null = null;
  private wokenDuringPass = false;
  /** The earliest wakeIn() asked for during the pass in progress (performance.now() ms). */
  private wakeAfterPass = Infinity;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly pass: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Runs a pass now (or right after the one in progress). */
  wake(): void {
    if (!this.running) return;
    if (this.current) {
      this.wokenDuringPass = true;
      return;
    }
    this.schedule(0);
  }

  /** Runs a pass in `ms` (or at once if that is past), unless one runs sooner anyway; one
   *  asked for during a pass is kept for after it. */
  wakeIn(ms: number): void {
    if (!this.running) return;
    if (ms <= 0) return this.wake();
    const at = performance.now() + ms;
    if (this.current) {
      this.wakeAfterPass = Math.min(this.wakeAfterPass, at);
      return;
    }
    if (!this.timer || this.timerAt > at) this.schedule(ms);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current;
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.current = this.pass()
        .catch((err: unknown) => this.log.warn(`${this.name} pass failed`, { err }))
        .finally(() => {
          this.current = null;
          if (!this.running) return;
          const again = this.wokenDuringPass;
          const asked = this.wakeAfterPass - performance.now();
          this.wokenDuringPass = false;
          this.wakeAfterPass = Infinity;
          this.schedule(again ? 0 : Math.max(0, Math.min(this.intervalMs, asked)));
        });
    }, ms);
    this.timerAt = performance.now() + ms;
    // Background work never keeps a process alive on its own.
    this.timer.unref();
  }
}
