// Account administration: create, read, staff, numbers, adjustments. Routes parse and
// delegate here; state changes go through the pool scripts (PoolStore), reads through
// AccountStore, and the views are mapped in views.ts. The history (ledger, calls) is
// src/history/'s.
import { AppError, notFound } from '../domain/errors.js';
import type { AccountStore } from '../redis/account-store.js';
import type { PoolStore } from '../redis/pool-store.js';
import { Directory } from '../metering/directory.js';
import type { StaffAccess } from '../auth/staff-access.js';
import { TtlCache } from '../metering/ttl-cache.js';
import { notCommitted, type Writes } from '../books/writes.js';
import type { PoolSnapshot } from '../redis/pool-store.js';
import { balanceView, type BalanceView } from './views.js';

export type { BalanceView, CallView, LedgerEntry } from './views.js';

export interface StaffMember {
  id: string;
  email: string;
  identity: string;
  /** A display name (optional). */
  name?: string;
}

export interface NewAccount {
  id: string;
  name: string;
  /** The plan's minutes: the first allowance (an account starts without add-ons). */
  monthlyMinutes: number;
  billingAnchor?: number;
  inboundWhenExhausted?: 'allow' | 'reject';
  staff?: StaffMember[];
  phoneNumbers?: string[];
}

/** Staff and numbers change rarely; the webhooks reuse them for a few seconds (this
 *  instance forgets them at once when it changes them). */
const LISTS_CACHE_MS = 5_000;

/** The account as created: what the create_account write carries (anchor decided). */
export interface CreateAccountWrite {
  name: string;
  monthlyMinutes: number;
  anchor: number;
  inboundWhenExhausted: 'allow' | 'reject';
  staff: StaffMember[];
  phoneNumbers: string[];
  now: number;
}

type AdjustOutcome = { ok: true; snapshot: PoolSnapshot } | { ok: false; balance: number } | null;

export class Accounts {
  private readonly numbersCache = new TtlCache<string[]>(LISTS_CACHE_MS, 10_000);
  private readonly staffCache = new TtlCache<StaffMember[]>(LISTS_CACHE_MS, 10_000);
  // Writes committed to the books before they are acknowledged (R19), each applied to the
  // live pool by the function registered here (again, as nothing, after a crash).
  private readonly createWrite;
  private readonly addStaffWrite;
  private readonly removeStaffWrite;
  private readonly revokeWrite;
  private readonly addNumbersWrite;
  private readonly adjustWrite;

  constructor(
    private readonly records: AccountStore,
    private readonly store: PoolStore,
    private readonly directory: Directory,
    private readonly clock: () => number,
    writes: Writes,
    private readonly access: StaffAccess | null = null,
  ) {
    this.createWrite = writes.register('create_account', async (accountId, w: CreateAccountWrite) => {
      const snapshot = await this.store.createAccount(
        {
          accountId,
          name: w.name,
          monthlyMinutes: w.monthlyMinutes,
          anchor: w.anchor,
          inboundWhenExhausted: w.inboundWhenExhausted,
          staff: w.staff.map((s) => ({ id: s.id, json: JSON.stringify(s) })),
          phoneNumbers: w.phoneNumbers,
        },
        w.now,
      );
      return { created: snapshot !== null };
    });
    this.addStaffWrite = writes.register('add_staff', (accountId, w: { member: StaffMember }) =>
      this.records.addStaffIfAbsent(accountId, w.member.id, JSON.stringify(w.member)),
    );
    this.removeStaffWrite = writes.register('remove_staff', async (accountId, w: { staffId: string; now: number }) => {
      const member = await this.staffMember(accountId, w.staffId);
      // Applied again after a crash: the member is gone already, and so is their identity.
      if (!member) return { removed: false };
      // The identity first (issue #16): should Redis refuse the script after it (full, or
      // gone), the member is still listed and the write, applied again, finishes the job;
      // the other way round a retry would find no member and leave their softphone placing
      // calls. Released only while it still points at this member, and held for this
      // account while the member's Voice token may live; other instances stop trusting
      // their cached copy within the directory's identity cache time.
      await this.directory.retireIdentity(member.identity, accountId, w.staffId);
      const removed = await this.store.removeStaff(accountId, w.staffId, w.now);
      if (!removed) return { removed: false };
      // Re-added with another identity in between (two admins at once): that one goes too.
      const gone = JSON.parse(removed.memberJson) as StaffMember;
      if (gone.identity !== member.identity) await this.directory.retireIdentity(gone.identity, accountId, w.staffId);
      return { removed: true };
    });
    this.revokeWrite = writes.register('revoke_tokens', async (accountId, w: { staffId: string }, seq) => ({
      revoked: await this.store.revokeStaffTokens(accountId, w.staffId, seq),
    }));
    this.addNumbersWrite = writes.register('add_numbers', async (accountId, w: { numbers: string[] }) => this.records.addNumbers(accountId, w.numbers));
    this.adjustWrite = writes.register(
      'adjust',
      async (accountId, w: { minutes: number; reason: string; ref: string; now: number }, seq): Promise<AdjustOutcome> =>
        this.store.adjust(accountId, w.minutes, w.reason, w.ref, w.now, seq),
    );
  }

  async create(input: NewAccount) {
    const now = this.clock();
    const staff = input.staff ?? [];
    const numbers = input.phoneNumbers ?? [];
    assertUnique(staff.map((s) => s.id), 'staff[].id');
    assertUnique(staff.map((s) => s.identity), 'staff[].identity');
    assertUnique(numbers, 'phoneNumbers');
    if (await this.records.exists(input.id)) {
      throw new AppError(409, 'ACCOUNT_EXISTS', `account ${input.id} already exists`);
    }
    const identities = staff.map((s) => ({ name: s.identity, value: Directory.identityValue(input.id, s.id) }));
    const nums = numbers.map((n) => ({ name: n, value: input.id }));
    await this.claimOrThrow('identity', identities);
    try {
      await this.claimOrThrow('number', nums);
    } catch (err) {
      await this.directory.release('identity', identities.map((e) => e.name), identities);
      throw err;
    }
    const releaseClaims = async () => {
      await this.directory.release('identity', identities.map((e) => e.name), identities);
      await this.directory.release('number', nums.map((e) => e.name), nums);
    };
    let created: { created: boolean };
    try {
      created = await this.createWrite(input.id, {
        name: input.name,
        monthlyMinutes: input.monthlyMinutes,
        anchor: input.billingAnchor ?? now,
        inboundWhenExhausted: input.inboundWhenExhausted ?? 'allow',
        staff,
        phoneNumbers: numbers,
        now,
      });
    } catch (err) {
      // Not committed (the books are away): the names go back.
      if (notCommitted(err)) await releaseClaims();
      throw err;
    }
    if (!created.created) {
      await releaseClaims();
      throw new AppError(409, 'ACCOUNT_EXISTS', `account ${input.id} already exists`);
    }
    return this.get(input.id);
  }

  private async claimOrThrow(kind: 'identity' | 'number', entries: { name: string; value: string }[]) {
    const r = await this.directory.claim(kind, entries);
    if (r.ok) return;
    if (kind === 'number') throw new AppError(409, 'NUMBER_TAKEN', `phone number ${r.taken} belongs to another account`);
    if (r.heldSeconds === undefined) {
      throw new AppError(409, 'IDENTITY_TAKEN', `softphone identity ${r.taken} belongs to another staff member`);
    }
    throw new AppError(
      409,
      'IDENTITY_TAKEN',
      `softphone identity ${r.taken} was removed from another account and stays theirs for ${Math.max(1, Math.ceil(r.heldSeconds / 60))} more minutes, while a Voice token issued for it may still be valid`,
    );
  }

  async get(accountId: string) {
    const { profile, staffJson, numbers, anchor, inboundPolicy } = await this.records.record(accountId);
    if (!profile.id) throw notFound(`account ${accountId}`);
    const balance = await this.balance(accountId);
    return {
      id: accountId,
      name: profile.name ?? '',
      planMinutes: balance.planMinutes,
      addonMinutes: balance.addonMinutes,
      monthlyMinutes: balance.monthlyMinutes,
      billingAnchor: new Date(Number(anchor)).toISOString(),
      inboundWhenExhausted: inboundPolicy ?? 'allow',
      staff: staffJson.map((s) => JSON.parse(s) as StaffMember).sort((a, b) => a.id.localeCompare(b.id)),
      phoneNumbers: numbers.sort(),
      createdAt: new Date(Number(profile.createdAt)).toISOString(),
      balance,
    };
  }

  async exists(accountId: string): Promise<boolean> {
    return this.records.exists(accountId);
  }

  async balance(accountId: string): Promise<BalanceView> {
    const snap = await this.store.readPool(accountId, this.clock());
    if (!snap) throw notFound(`account ${accountId}`);
    return balanceView(snap);
  }

  async staffMember(accountId: string, staffId: string): Promise<StaffMember | null> {
    const raw = await this.records.staffMemberJson(accountId, staffId);
    return raw ? (JSON.parse(raw) as StaffMember) : null;
  }

  async staffList(accountId: string): Promise<StaffMember[]> {
    const all = await this.records.staffJson(accountId);
    return all.map((s) => JSON.parse(s) as StaffMember).sort((a, b) => a.id.localeCompare(b.id));
  }

  async cachedNumbers(accountId: string): Promise<string[]> {
    return (await this.numbersCache.getOrLoad(accountId, () => this.numbers(accountId)))!;
  }

  async cachedStaff(accountId: string): Promise<StaffMember[]> {
    return (await this.staffCache.getOrLoad(accountId, () => this.staffList(accountId)))!;
  }

  async addStaff(accountId: string, member: StaffMember): Promise<StaffMember> {
    this.staffCache.delete(accountId);
    if (!(await this.exists(accountId))) throw notFound(`account ${accountId}`);
    const entries = [{ name: member.identity, value: Directory.identityValue(accountId, member.id) }];
    await this.claimOrThrow('identity', entries);
    let added: Awaited<ReturnType<AccountStore['addStaffIfAbsent']>>;
    try {
      added = await this.addStaffWrite(accountId, { member });
    } catch (err) {
      if (notCommitted(err)) {
        await this.directory.release('identity', [member.identity], entries);
      }
      throw err;
    }
    if (added !== 'added') {
      await this.directory.release('identity', [member.identity], entries);
      if (added === 'no_account') throw notFound(`account ${accountId}`);
      throw new AppError(409, 'STAFF_EXISTS', `staff member ${member.id} already exists in account ${accountId}`);
    }
    this.staffCache.delete(accountId);
    return member;
  }

  /** Issue #8: removes a staff member at once — their softphone identity, then staff hash,
   *  token generation and open authorizations (one script). False when unknown. */
  async removeStaff(accountId: string, staffId: string): Promise<boolean> {
    if (!(await this.exists(accountId))) throw notFound(`account ${accountId}`);
    if (!(await this.staffMember(accountId, staffId))) return false;
    const r = await this.removeStaffWrite(accountId, { staffId, now: this.clock() });
    this.staffCache.delete(accountId);
    this.access?.forget(accountId, staffId);
    return r.removed;
  }

  /** Issue #8: every token issued to the member so far stops working. False when unknown. */
  async revokeTokens(accountId: string, staffId: string): Promise<boolean> {
    if (!(await this.exists(accountId))) throw notFound(`account ${accountId}`);
    const r = await this.revokeWrite(accountId, { staffId });
    this.access?.forget(accountId, staffId);
    return r.revoked;
  }

  /** The generation a new token of the member carries (issue #8). */
  async tokenGeneration(accountId: string, staffId: string): Promise<number> {
    return this.access ? this.access.current(accountId, staffId) : 0;
  }

  async addNumbers(accountId: string, numbers: string[]): Promise<string[]> {
    this.numbersCache.delete(accountId);
    assertUnique(numbers, 'phoneNumbers');
    if (!(await this.exists(accountId))) throw notFound(`account ${accountId}`);
    const entries = numbers.map((n) => ({ name: n, value: accountId }));
    await this.claimOrThrow('number', entries);
    let added: 'done' | 'no_account';
    try {
      added = await this.addNumbersWrite(accountId, { numbers });
    } catch (err) {
      if (notCommitted(err)) {
        await this.directory.release('number', numbers, entries);
      }
      throw err;
    }
    if (added === 'no_account') {
      await this.directory.release('number', numbers, entries);
      throw notFound(`account ${accountId}`);
    }
    this.numbersCache.delete(accountId);
    return (await this.records.numbers(accountId)).sort();
  }

  async numbers(accountId: string): Promise<string[]> {
    return (await this.records.numbers(accountId)).sort();
  }

  async adjust(accountId: string, minutes: number, reason: string): Promise<BalanceView> {
    if (!(await this.exists(accountId))) throw notFound(`account ${accountId}`);
    const now = this.clock();
    const ref = `adj:${now.toString(36)}:${Math.random().toString(36).slice(2, 8)}`;
    const r = await this.adjustWrite(accountId, { minutes, reason, ref, now });
    if (!r) throw notFound(`account ${accountId}`);
    if (!r.ok) {
      throw new AppError(
        409,
        'INSUFFICIENT_BALANCE',
        `a debit of ${-minutes} minutes exceeds the balance of ${r.balance}; the balance never goes below 0`,
      );
    }
    return balanceView(r.snapshot);
  }
}

function assertUnique(values: string[], field: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw new AppError(400, 'VALIDATION_FAILED', `${field}: ${v} appears more than once`);
    seen.add(v);
  }
}
