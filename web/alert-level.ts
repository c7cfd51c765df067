// Which banner to show: from the live balance itself (≤ 10 % of the plan: low; nothing
// left: exhausted) and from the gateway's alert frames (the account's own thresholds),
// whichever is more severe. An alert frame counts only while the balance is still at or
// under its threshold in the same cycle, so a purchase or a reset clears it.
export type Level = 'low' | 'exhausted' | null;

export interface BalanceLike {
  available: number;
  /** What the gateway's alert thresholds are on (reservations for calls in progress aside). */
  balance?: number;
  planMinutes?: number;
  monthlyMinutes: number;
  cycleStart: string;
}

export interface AlertLike {
  level: 'low' | 'exhausted';
  threshold: number;
  cycleStart?: string;
}

export const LOW_FRACTION = 0.1;

export function alertLevel(b: BalanceLike | null, alert: AlertLike | null): Level {
  let level: Level = null;
  if (b) {
    const plan = typeof b.planMinutes === 'number' ? b.planMinutes : b.monthlyMinutes;
    if (b.available <= 0) level = 'exhausted';
    else if (plan > 0 && b.available <= plan * LOW_FRACTION) level = 'low';
  }
  const alertApplies =
    alert &&
    (!b || ((alert.cycleStart === undefined || alert.cycleStart === b.cycleStart) && (b.balance ?? b.available) <= alert.threshold));
  if (alertApplies && (level === null || alert.level === 'exhausted')) level = alert.level;
  return level;
}

export const BANNER_TEXT = {
  low: 'Low on minutes',
  exhausted: 'Out of minutes — calls in progress continue; new calls need more minutes',
} as const;
