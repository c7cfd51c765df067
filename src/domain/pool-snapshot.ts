// The shapes the pool scripts publish: the R1 snapshot (instants in ms) and the messages
// the account's channel carries. Plain data, shared by the stores that read them and the
// socket fan-out that forwards them.
/** The R1 snapshot as the scripts publish it (instants in ms). */
export interface PoolSnapshot {
  accountId: string;
  balance: number;
  reserved: number;
  available: number;
  /** The plan's minutes and the recurring add-ons' (R9, R10); monthlyMinutes is their sum. */
  planMinutes: number;
  addonMinutes: number;
  monthlyMinutes: number;
  /** The allowance the next reset applies, when a plan cut or an add-on end is pending. */
  pendingMonthlyMinutes: number | null;
  /** Its parts: the plan after a pending cut; the add-ons left after pending ends. */
  pendingPlanMinutes: number | null;
  pendingAddonMinutes: number | null;
  usedThisCycle: number;
  overageThisCycle: number;
  activeCalls: number;
  cycleStart: number;
  cycleEnd: number;
  version: number;
}

export type BusMessage =
  | ({ t: 'balance'; accountId: string; version: number } & Record<string, unknown>)
  | ({ t: 'call'; accountId: string; event: string; callSid: string; version: number } & Record<string, unknown>)
  | ({ t: 'alert'; accountId: string; level: string; version: number } & Record<string, unknown>);
