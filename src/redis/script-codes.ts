// Every Lua script's return codes, named, in one table — the only place TypeScript knows
// the numbers. Stores decode a reply with `outcome(script, reply)` and branch on names.
// test: src/redis/script-codes.test.ts checks each entry against the script's own header.
import type { ScriptName, ScriptReply } from './scripts.js';

/** Codes the pool prologue (lua/lib/prologue.lua) may answer for any pool script. */
export const PROLOGUE_CODES = { [-1]: 'no_account', [-100]: 'cycle_due' } as const;

export const SCRIPT_CODES = {
  'create-account': { 1: 'created', 0: 'exists' },
  'read-pool': { 1: 'ok' },
  'add-staff': { 1: 'added', 0: 'exists', [-1]: 'no_account' },
  'add-numbers': { 1: 'done', [-1]: 'no_account' },
  'release-claim': { 1: 'released', 0: 'not_owner' },
  'claim-identity': { 1: 'claimed', 2: 'own', 0: 'taken', [-1]: 'held' },
  'retire-identity': { 1: 'retired', 0: 'not_owner' },
  adjust: { 1: 'applied', 2: 'applied_before', [-3]: 'insufficient_balance' },
  'change-plan': { 1: 'ok' },
  'add-payment-method': { 1: 'stored', [-30]: 'too_many', [-1]: 'no_account' },
  'remove-payment-method': { 1: 'removed', 0: 'not_found', [-1]: 'no_account' },
  'create-quote': { 1: 'created', 0: 'exists' },
  purchase: {
    1: 'bought',
    2: 'replayed',
    [-20]: 'idempotency_mismatch',
    [-21]: 'quote_not_found',
    [-22]: 'quote_used',
    [-23]: 'quote_expired',
    [-24]: 'payment_method_not_found',
    [-25]: 'card_expired',
  },
  'end-addon': { 1: 'ended', 2: 'ended_before', [-30]: 'not_found', [-31]: 'not_addon' },
  'claim-due': {},
  'release-lease': { 1: 'released', 0: 'kept' },
  'calls-archived': { 1: 'done', 0: 'not_ended' },
  'archive-done': { 1: 'all_archived', 2: 'more', [-1]: 'no_account' },
  'schedule-check': {},
  'claim-checks': {},
  'reconcile-index': {},
  'claim-receipt': { 1: 'claimed', 0: 'none', 2: 'later' },
  'receipt-sent': { 1: 'recorded', 0: 'unknown' },
  'receipt-failed': { 1: 'recorded', 0: 'gone' },
  'authorize-call': { 1: 'reserved', 2: 'repeat', 3: 'authorization', 0: 'denied' },
  'create-authorization': { 1: 'reserved', 2: 'repeat', 0: 'denied' },
  'cancel-authorization': { 1: 'released', 0: 'not_open' },
  'record-call-event': {
    1: 'finalized',
    2: 'recorded',
    3: 'pending',
    4: 'duplicate',
    5: 'late',
    6: 'denied_call',
    7: 'unexpected_status',
    [-2]: 'unknown_call',
  },
  'release-hold': { 1: 'released', 2: 'not_open', 3: 'not_yet', [-2]: 'unknown_call' },
  'adopt-call': { 1: 'adopted', 2: 'exists' },
  'set-alerts': { 1: 'ok' },
  'read-alerts': { 1: 'ok' },
  'alert-delivered': { 1: 'done', 0: 'pending', [-2]: 'gone' },
  'media-stream': { 1: 'recorded', 2: 'repeated', [-2]: 'unknown_call', [-3]: 'busy' },
  'release-staff-authorizations': { 1: 'released', 2: 'present' },
  'remove-staff': { 1: 'removed', 0: 'not_found' },
  'revoke-staff-tokens': { 1: 'revoked', 2: 'revoked_before', 0: 'not_found' },
  'restore-account': { 1: 'restored', 0: 'exists' },
} as const satisfies Record<ScriptName, Record<number, string>>;

type Codes<S extends ScriptName> = (typeof SCRIPT_CODES)[S];
export type Outcome<S extends ScriptName> = Codes<S>[keyof Codes<S>];

/** The named outcome of a script's reply; an unknown code is a programming error. The
 *  prologue's codes are handled by PoolStore.runPool before a store decodes. */
export function outcome<S extends ScriptName>(script: S, reply: ScriptReply): Outcome<S> {
  const table = SCRIPT_CODES[script] as Record<number, string>;
  const name = table[Number(reply[0])];
  if (name === undefined) throw new Error(`${script} returned unknown code ${String(reply[0])}`);
  return name as Outcome<S>;
}
