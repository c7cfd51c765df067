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
import { balanceView, type BalanceView } from './views.js';

export type { BalanceView, CallView, LedgerEntry } from './views.js';

export interface StaffMember {
  id: string;
  email: string;
  identity: string;
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

export class Accounts {
  private readonly numbersCache = new TtlCache<string[]>(LISTS_CACHE_MS, 10_000);
  private readonly staffCache = new TtlCache<StaffMember[]>(LISTS_CACHE_MS, 10_000);

  constructor(
    private readonly records: AccountStore,
    private readonly store: PoolStore,
    private readonly directory: Directory,
    private readonly clock: () => number,
    private readonly access: StaffAccess | null = null,
  ) {}

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
    const anchor = input.billingAnchor ?? now;
    const snapshot = await this.store.createAccount(
      {
        accountId: input.id,
        name: input.name,
        monthlyMinutes: input.monthlyMinutes,
        anchor,
        inboundWhenExhausted: input.inboundWhenExhausted ?? 'allow',
        staff: staff.map((s) => ({ id: s.id, json: JSON.stringify(s) })),
        phoneNumbers: numbers,
      },
      now,
    );
    if (!snapshot) {
      await this.directory.release('identity', identities.map((e) => e.name), identities);
      await this.directory.release('number', nums.map((e) => e.name), nums);
      throw new AppError(409, 'ACCOUNT_EXISTS', `account ${input.id} already exists`);
    }
    return this.get(input.id);
  }

  private async claimOrThrow(kind: 'identity' | 'number', entries: { name: string; value: string }[]) {
    const r = await this.directory.claim(kind, entries);
    if (!r.ok) {
      throw kind === 'identity'
        ? new AppError(409, 'IDENTITY_TAKEN', `softphone identity ${r.taken} belongs to another staff member`)
        : new AppError(409, 'NUMBER_TAKEN', `phone number ${r.taken} belongs to another account`);
    }
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
    const added = await this.records.addStaffIfAbsent(accountId, member.id, JSON.stringify(member));
    if (added !== 'added') {
      await this.directory.release('identity', [member.identity], entries);
      if (added === 'no_account') throw notFound(`account ${accountId}`);
      throw new AppError(409, 'STAFF_EXISTS', `staff member ${member.id} already exists in account ${accountId}`);
    }
    this.staffCache.delete(accountId);
    return member;
  }

  /** Issue #8: removes a staff member at once — staff hash, token generation, open
   *  authorizations (one script), then their softphone identity. False when unknown. */
  async removeStaff(accountId: string, staffId: string): Promise<boolean> {
    if (!(await this.exists(accountId))) throw notFound(`account ${accountId}`);
    const removed = await this.store.removeStaff(accountId, staffId, this.clock());
    this.staffCache.delete(accountId);
    this.access?.forget(accountId, staffId);
    if (!removed) return false;
    const member = JSON.parse(removed.memberJson) as StaffMember;
    // Released only while it still points at this member; other instances stop trusting
    // their cached copy within the directory's identity cache time.
    await this.directory.markIdentityRemoved(member.identity);
    await this.directory.release('identity', [member.identity], [
      { name: member.identity, value: Directory.identityValue(accountId, staffId) },
    ]);
    return true;
  }

  /** Issue #8: every token issued to the member so far stops working. False when unknown. */
  async revokeTokens(accountId: string, staffId: string): Promise<boolean> {
    if (!(await this.exists(accountId))) throw notFound(`account ${accountId}`);
    const ok = await this.store.revokeStaffTokens(accountId, staffId);
    this.access?.forget(accountId, staffId);
    return ok;
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
    if ((await this.records.addNumbers(accountId, numbers)) === 'no_account') {
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
    const ref = `adj:${this.clock().toString(36)}:${Math.random().toString(36).slice(2, 8)}`;
    const r = await this.store.adjust(accountId, minutes, reason, ref, this.clock());
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
