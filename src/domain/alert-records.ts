// The shapes of low-balance alerts (no I/O): an account's settings, and an alert as the
// pool scripts raise and keep it until delivered (lua/lib/alerts.lua).

export interface AlertSettings {
  thresholdsMinutes: number[];
  email: boolean;
  webhook: boolean;
}

/** An alert as the pool script stored it. */
export interface StoredAlert {
  id: string;
  level: 'low' | 'exhausted';
  accountId: string;
  available: number;
  threshold: number;
  cycleStart: number;
  at: number;
  /** Still to be delivered that way. */
  email: boolean;
  webhook: boolean;
}
