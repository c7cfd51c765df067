// The shapes the pool scripts publish: the R1 snapshot (instants in ms) and the messages
// the account's channel carries. Plain data, shared by the stores that read them and the
// socket fan-out that forwards them.
import type { Balance } from '../wire/contract.js';

/** Fields whose form differs between what the scripts publish and what clients get. */
type PublishedDifferently = 'cycleStart' | 'cycleEnd' | 'pendingMonthlyMinutes' | 'pendingPlanMinutes' | 'pendingAddonMinutes';

/** The R1 snapshot as the scripts publish it: the clients' Balance (wire/contract.ts), with
 *  instants in ms and the pending figures always present (null when nothing is pending). */
export type PoolSnapshot = Omit<Balance, PublishedDifferently> & {
  /** The allowance the next reset applies, when a plan cut or an add-on end is pending. */
  pendingMonthlyMinutes: number | null;
  /** Its parts: the plan after a pending cut; the add-ons left after pending ends. */
  pendingPlanMinutes: number | null;
  pendingAddonMinutes: number | null;
  cycleStart: number;
  cycleEnd: number;
};

export type BusMessage =
  | ({ t: 'balance'; accountId: string; version: number } & Record<string, unknown>)
  | ({ t: 'call'; accountId: string; event: string; callSid: string; version: number } & Record<string, unknown>)
  | ({ t: 'alert'; accountId: string; level: string; version: number } & Record<string, unknown>);
