// Types of histogram.mjs (plain JS so that the fan-out client processes load it as is).
export declare function bucketOf(us: number): number;
export declare function bucketValueUs(bucket: number): number;
export interface HistSummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
export declare class Hist {
  readonly counts: Map<number, number>;
  n: number;
  maxMs: number;
  recordMs(ms: number): void;
  addSerialized(entries: [number, number][], maxMs?: number): void;
  toJSON(): [number, number][];
  pct(p: number): number;
  max(): number;
  summary(): HistSummary;
}
