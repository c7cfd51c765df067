// Every Redis key and channel name, and the only place hash tags appear. All of an
// account's keys share `{accountId}`, so each pool script touches one cluster slot.
// Directory keys (identity, number, call → account) are global single-key lookups; an
// identity's removal marker is tagged into the identity key's slot.

export type AccountKeys = ReturnType<typeof accountKeys>;

export function accountKeys(prefix: string, accountId: string) {
  const base = `${prefix}:{${accountId}}`;
  return {
    /** Hash: the R1 pool and account settings the scripts need. */
    pool: `${base}:pool`,
    /** Stream: the append-only ledger (R13). */
    ledger: `${base}:ledger`,
    /** Hash: authorizationId → JSON of an unbound authorization's reservation. */
    auths: `${base}:auths`,
    /** Sorted set: authorizationId scored by its expiry (ms). */
    authExpiry: `${base}:authexp`,
    /** Hash: account profile (name, createdAt…). */
    profile: `${base}:profile`,
    /** Hash: staffId → JSON {id,email,identity}. */
    staff: `${base}:staff`,
    /** Set: the account's phone numbers (E.164). */
    numbers: `${base}:numbers`,
    /** Sorted sets of CallSids: open calls by start, ended calls by end (ms). */
    activeCalls: `${base}:calls:active`,
    endedCalls: `${base}:calls:ended`,
    /** Sorted set: the account's reconciliation checks (R15; lua/lib/checks.lua) — "callSid"
     *  or "participantSid roomSid" by due time (ms). */
    checks: `${base}:checks`,
    /** Hash per call. */
    call: (callSid: string) => `${base}:call:${callSid}`,
    /** Hash: staffId → token generation (issue #8); tokens of an older one are refused. */
    tokenGen: `${base}:tokengen`,
    /** Sorted set per staff member: instance ids holding a socket of theirs, scored by
     *  lease expiry (wall-clock ms) — issue #8's release of a gone staff member's authorizations. */
    presence: (staffId: string) => `${base}:presence:${staffId}`,
    /** Pub/sub channel (sharded) carrying balance snapshots and call events. */
    events: `${base}:events`,
  };
}

/** The first four KEYS of every pool script, in this order (see lua/lib/prologue.lua). */
export function poolScriptKeys(k: AccountKeys): [string, string, string, string] {
  return [k.pool, k.ledger, k.auths, k.authExpiry];
}

export function directoryKeys(prefix: string) {
  // No hash tag (prefix and identities carry no braces): its slot is its whole name's.
  const identityKey = (identity: string) => `${prefix}:dir:identity:${identity}`;
  return {
    identity: identityKey,
    number: (e164: string) => `${prefix}:dir:number:${e164}`,
    call: (callSid: string) => `${prefix}:dir:call:${callSid}`,
    /** Marker of a removed staff member's identity (issue #8), naming the account it was
     *  removed from, while their Voice SDK token may still be valid: nobody dials it until
     *  it is claimed again, and only that account may claim it (issue #16). Its hash tag is
     *  the identity's own key, so both share a cluster slot and one script takes both. */
    removedIdentity: (identity: string) => `${prefix}:dir:removed:{${identityKey(identity)}}`,
    /** Video room → the account whose staff member was seen in it (R12). */
    room: (roomSid: string) => `${prefix}:dir:room:${roomSid}`,
    /** Sorted set: accountId by the next due time of its reconciliation checks (R15), written
     *  only when an account's earliest check moves earlier (reconcile-index-1.lua). */
    reconcileIndex: `${prefix}:reconcile:accounts`,
    /** Sorted set: "accountId callSid" due for reconciliation, as versions before the
     *  per-account checks kept them; only drained now. */
    reconcile: `${prefix}:reconcile`,
    /** Sorted set: "accountId callSid" of calls whose hold was released unsettled (R15), by then. */
    unsettled: `${prefix}:unsettled`,
  };
}

/** Plan and purchase keys of an account (R8–R10). Same `{accountId}` tag as accountKeys, so one
 *  script may use both. */
export function billingKeys(prefix: string, accountId: string) {
  const base = `${prefix}:{${accountId}}`;
  return {
    /** Hash: paymentMethodId → JSON (processor token, brand, last4, expiry; never a card number). */
    paymentMethods: `${base}:pms`,
    /** Hash per quote, kept a day past its expiry so a late confirm hears "expired". */
    quote: (quoteId: string) => `${base}:quote:${quoteId}`,
    /** String per Idempotency-Key (by digest: clients choose the key): the first answer. */
    idempotency: (keyDigest: string) => `${base}:idem:${keyDigest}`,
    /** Hash: purchaseId → JSON purchase record (with its receipt status). */
    purchases: `${base}:purchases`,
    /** Sorted set: JSON charge lines of the monthly bill, by time of purchase (ms). */
    charges: `${base}:charges`,
    /** Hash: purchaseId → JSON {attempts, next}: receipts still to be e-mailed. */
    receiptOutbox: `${base}:outbox`,
  };
}

/** Plans' and purchases' global keys: schedules that span accounts. Each is one key, touched by
 *  single-key commands and claim-due-1.lua only, so any cluster slot will do. */
export function billingGlobalKeys(prefix: string) {
  return {
    /** Sorted set: accountId by the end of its current cycle (ms) — the reset scheduler's work. */
    cycleDue: `${prefix}:cycles:due`,
    /** Sorted set: "accountId purchaseId" by the next time to try its receipt (ms). */
    receiptsDue: `${prefix}:receipts:due`,
  };
}

/** Low-balance alerts' global names: the due set of alerts still to deliver, and the plain
 *  pub/sub channel the pool scripts announce new ones on (lua/lib/alerts.lua derives the
 *  same name from the account channel's prefix). */
export function alertGlobalKeys(prefix: string) {
  return {
    /** Sorted set: "accountId alertId" by the next time to try delivering it (ms). */
    due: `${prefix}:alerts:due`,
    /** Channel: "accountId alertId" of each alert raised. */
    announcements: `${prefix}:alerts`,
  };
}

/** The archive's global names (R19, src/jobs/archiver.ts): the due set of accounts with
 *  ledger entries not yet in PostgreSQL, and the plain pub/sub channel lib/ledger.lua
 *  announces an account on when its first unarchived entry is written. */
export function archiveGlobalKeys(prefix: string) {
  return {
    /** Sorted set: accountId by the ms of its oldest unarchived entry (or a lease's end). */
    due: `${prefix}:archive:due`,
    /** Channel: "accountId ms" when an account gets its first unarchived entry. */
    announcements: `${prefix}:archive`,
  };
}

/** The audit's global name (R20, src/jobs/periodic-audit.ts). */
export function auditGlobalKeys(prefix: string) {
  return {
    /** String: the instance that holds the periodic audit's lease, expiring with it. */
    lease: `${prefix}:audit:lease`,
  };
}
