// The JSON an account's balance, ledger entries and calls are shown as (REST, sockets,
// purchases' replies), mapped from what the stores hold.
import type { CallRecord } from '../postgres/history-store.js';
import type { RefusedCall } from '../postgres/refusal-store.js';
import type { PoolSnapshot } from '../redis/pool-store.js';

import type { Balance } from '../wire/contract.js';

/** The snapshot as clients see it (the wire contract's Balance): instants as ISO strings,
 *  pending fields only when pending. */
export type BalanceView = Balance;

export function balanceView(s: PoolSnapshot): BalanceView {
  const v: BalanceView = {
    accountId: s.accountId,
    balance: s.balance,
    reserved: s.reserved,
    available: s.available,
    planMinutes: s.planMinutes,
    addonMinutes: s.addonMinutes,
    monthlyMinutes: s.monthlyMinutes,
    usedThisCycle: s.usedThisCycle,
    overageThisCycle: s.overageThisCycle,
    activeCalls: s.activeCalls,
    cycleStart: new Date(s.cycleStart).toISOString(),
    cycleEnd: new Date(s.cycleEnd).toISOString(),
    version: s.version,
  };
  if (s.pendingMonthlyMinutes !== null) v.pendingMonthlyMinutes = s.pendingMonthlyMinutes;
  if (s.pendingPlanMinutes !== null) v.pendingPlanMinutes = s.pendingPlanMinutes;
  if (s.pendingAddonMinutes !== null) v.pendingAddonMinutes = s.pendingAddonMinutes;
  return v;
}

export interface LedgerEntry {
  id: string;
  kind: string;
  minutes: number;
  balanceAfter: number;
  ref: string;
  at: string;
  [extra: string]: string | number | boolean;
}

/** Ledger fields that hold an instant (ms) — shown as ISO 8601. */
const INSTANT_FIELDS = new Set(['cycleStart', 'endedAt']);

export function ledgerEntry(id: string, o: Record<string, string>): LedgerEntry {
  const entry: LedgerEntry = {
    id,
    kind: o.kind ?? '',
    minutes: Number(o.minutes),
    balanceAfter: Number(o.balanceAfter),
    ref: o.ref ?? '',
    at: new Date(Number(o.at)).toISOString(),
  };
  for (const [f, v] of Object.entries(o)) {
    // "cdr": the call's record a call_debit carries for the archive, not shown.
    if (f in entry || f === 'cdr') continue;
    // Instants are shown as ISO like `at`, flags as booleans; other whole numbers as numbers.
    if (INSTANT_FIELDS.has(f) && /^\d+$/.test(v)) entry[f] = new Date(Number(v)).toISOString();
    else if (f === 'emergency') entry[f] = v === 'true';
    else entry[f] = /^-?\d+$/.test(v) ? Number(v) : v;
  }
  return entry;
}

export interface CallView {
  callSid: string;
  /** unsettled: its hold was released before Twilio told how it ended (R15); refused: not
   *  connected at placement (`reason` says why; GET …/calls?state=refused). */
  state: 'active' | 'ended' | 'unsettled' | 'refused';
  direction: string;
  from: string;
  to: string;
  staffId: string | null;
  reservedMinutes: number;
  billableSeconds: number | null;
  billedMinutes: number | null;
  debitedMinutes: number | null;
  overageMinutes: number | null;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  /** Why a refused call was not connected: no_minutes, destination_not_allowed. */
  reason?: string;
}

const iso = (ms: string | undefined) => (ms ? new Date(Number(ms)).toISOString() : null);
const numOrNull = (v: string | undefined) => (v === undefined ? null : Number(v));

/** A call's hash as shown; null for none, or for a call that was refused. */
export function callView(h: Record<string, string>): CallView | null {
  if (!h.state || h.state === 'denied') return null;
  return {
    callSid: h.callSid ?? '',
    state: h.state === 'ended' || h.state === 'unsettled' ? h.state : 'active',
    direction: h.direction ?? '',
    from: h.from ?? '',
    to: h.to ?? '',
    staffId: h.staffId || null,
    reservedMinutes: Number(h.reservedMinutes ?? 0),
    billableSeconds: numOrNull(h.billableSeconds),
    billedMinutes: numOrNull(h.billedMinutes),
    debitedMinutes: numOrNull(h.debitedMinutes),
    overageMinutes: numOrNull(h.overageMinutes),
    startedAt: iso(h.createdAt) ?? '',
    answeredAt: iso(h.answeredAt),
    endedAt: iso(h.endedAt),
  };
}

/** A settled call from the books, shown as its hash would be (endedAt: when it settled). */
export function settledCallView(r: CallRecord): CallView {
  return {
    callSid: r.callSid,
    state: 'ended',
    direction: r.direction,
    from: r.from,
    to: r.to,
    staffId: r.staffId,
    reservedMinutes: r.reservedMinutes,
    billableSeconds: r.billableSeconds,
    billedMinutes: r.billedMinutes,
    debitedMinutes: r.debitedMinutes,
    overageMinutes: r.overageMinutes,
    startedAt: new Date(r.placedAt).toISOString(),
    answeredAt: r.answeredAt === null ? null : new Date(r.answeredAt).toISOString(),
    endedAt: new Date(r.settledAt).toISOString(),
  };
}

/** A call refused at placement: never connected, nothing reserved or billed. */
export function refusedCallView(r: RefusedCall): CallView {
  const at = new Date(r.refusedAt).toISOString();
  return {
    callSid: r.callSid,
    state: 'refused',
    direction: r.direction,
    from: r.from,
    to: r.to,
    staffId: r.staffId,
    reservedMinutes: 0,
    billableSeconds: null,
    billedMinutes: null,
    debitedMinutes: null,
    overageMinutes: null,
    startedAt: at,
    answeredAt: null,
    endedAt: at,
    reason: r.reason,
  };
}
