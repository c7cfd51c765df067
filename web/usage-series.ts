// The per-day series the usage chart draws, from GET …/usage?groupBy=day.
import type { UsageView } from './api.js';

const DAY_MS = 86_400_000;

/** Minutes per UTC day from the cycle's start to its end (days without calls at 0). */
export function dailySeries(v: UsageView): { day: string; minutes: number }[] {
  const by = new Map(v.groups.map((g) => [g.key, g.billedMinutes]));
  const out: { day: string; minutes: number }[] = [];
  const start = Date.parse(v.cycleStart.slice(0, 10) + 'T00:00:00Z');
  const end = Date.parse(v.cycleEnd);
  for (let t = start; t < end; t += DAY_MS) {
    const key = new Date(t).toISOString().slice(0, 10);
    out.push({ day: key, minutes: by.get(key) ?? 0 });
  }
  return out;
}

