// Runs one async pass every `intervalMs` (real time), never two at once, and can be woken
// early. The passes themselves read the injected clock, so tests control what is due
// without waiting for it. A failing pass is logged and the next one runs as usual: the
// work it claimed comes back when its lease ends.
import type { Logger } from '../log.js';

export class PeriodicJob {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private current: Promise<void> | null = null;
  private wokenDuringPass = false;

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
          this.wokenDuringPass = false;
          this.schedule(again ? 0 : this.intervalMs);
        });
    }, ms);
    // Background work never keeps a process alive on its own.
    this.timer.unref();
  }
}
