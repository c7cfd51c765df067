// What a ledger entry of the stream becomes in the books (R19): its row, and for a
// call_debit entry the settled call's detail record, from the record the entry carries or,
// for an entry written before entries carried one (a rolling upgrade), from the call's hash.
// Used by the archiver (jobs/archiver.ts) and by the history's view of calls not archived
// yet (history/unarchived-calls.ts), so both show a call alike.
import type { ArchivedCall, ArchivedEntry } from '../postgres/archive-store.js';
import type { UnarchivedEntry } from '../redis/archive-queue.js';

const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v));

/** Ledger fields every entry has; the rest go to `extra` — but for "cdr", the call
 *  detail record a call_debit entry carries for the archive (record-call-event-8.lua),
 *  which becomes the call's row, not part of the entry's. */
const BASE_FIELDS = new Set(['kind', 'minutes', 'balanceAfter', 'ref', 'at', 'cdr']);

export function archivedEntry(e: UnarchivedEntry): ArchivedEntry {
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.fields)) if (!BASE_FIELDS.has(k)) extra[k] = v;
  return {
    id: e.id,
    kind: e.fields.kind ?? '',
    minutes: Number(e.fields.minutes ?? 0),
    balanceAfter: Number(e.fields.balanceAfter ?? 0),
    ref: e.fields.ref ?? '',
    at: Number(e.fields.at ?? e.id.split('-')[0]),
    extra,
  };
}

/** What a call_debit entry's "cdr" field holds (record-call-event-8.lua). */
interface EntryCdr {
  direction?: string;
  from?: string;
  to?: string;
  staffId?: string;
  placedAt?: number;
  answeredAt?: number;
  reservedMinutes?: number;
  /** The dialled legs, each its stored state with its sid; {} when there were none (Lua's
   *  cjson writes an empty table as an object). */
  legs?: unknown;
}

/** The call detail record of a settled call, from its call_debit entry: the money and
 *  the end from the entry's fields, who and when from its "cdr". An entry written before
 *  the entry carried its record (a rolling upgrade) takes them from the call's hash `h`:
 *  null when neither is there, or the hash is not of an ended call. */
export function archivedCall(entry: UnarchivedEntry, h?: Record<string, string>): ArchivedCall | null {
  const f = entry.fields;
  const settledAt = Number(f.at ?? entry.id.split('-')[0]);
  if (f.cdr !== undefined) {
    let r: EntryCdr;
    try {
      r = JSON.parse(f.cdr) as EntryCdr;
    } catch {
      return null;
    }
    return {
      callSid: f.ref ?? '',
      direction: r.direction ?? '',
      from: r.from ?? '',
      to: r.to ?? '',
      staffId: r.staffId || null,
      emergency: f.emergency === 'true',
      placedAt: r.placedAt ?? settledAt,
      answeredAt: r.answeredAt ?? null,
      endedAt: num(f.endedAt) ?? settledAt,
      settledAt,
      reservedMinutes: r.reservedMinutes ?? 0,
      billableSeconds: Number(f.billableSeconds ?? 0),
      billedMinutes: Number(f.billedMinutes ?? 0),
      debitedMinutes: Number(f.debitedMinutes ?? 0),
      overageMinutes: Number(f.overageMinutes ?? 0),
      cycleStart: Number(f.cycleStart ?? 0),
      legs: Array.isArray(r.legs) ? r.legs : [],
      ledgerEntryId: entry.id,
    };
  }
  if (!h || h.state !== 'ended') return null;
  const legs: unknown[] = [];
  for (const [k, v] of Object.entries(h)) {
    if (!k.startsWith('leg:')) continue;
    try {
      legs.push({ sid: k.slice(4), ...(JSON.parse(v) as object) });
    } catch {
      legs.push({ sid: k.slice(4), raw: v });
    }
  }
  const hashSettledAt = Number(h.endedAt ?? f.at);
  return {
    callSid: h.callSid ?? f.ref ?? '',
    direction: h.direction ?? '',
    from: h.from ?? '',
    to: h.to ?? '',
    staffId: h.staffId || null,
    emergency: h.emergency === 'true' || f.emergency === 'true',
    placedAt: Number(h.createdAt ?? hashSettledAt),
    answeredAt: num(h.answeredAt),
    endedAt: num(f.endedAt) ?? num(h.callEndedAt) ?? hashSettledAt,
    settledAt: hashSettledAt,
    reservedMinutes: Number(h.reservedMinutes ?? 0),
    billableSeconds: Number(f.billableSeconds ?? h.billableSeconds ?? 0),
    billedMinutes: Number(f.billedMinutes ?? h.billedMinutes ?? 0),
    debitedMinutes: Number(f.debitedMinutes ?? h.debitedMinutes ?? 0),
    overageMinutes: Number(f.overageMinutes ?? h.overageMinutes ?? 0),
    cycleStart: Number(f.cycleStart ?? h.cycleStart ?? 0),
    legs,
    ledgerEntryId: entry.id,
  };
}
