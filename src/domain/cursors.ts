// Paging cursors a client hands back. Each is checked against the exact shape and range
// the gateway returns, so a forged one is a 400 naming it, never a Redis error (a 500).
import { z } from 'zod';
import { AppError } from './errors.js';

const U64_MAX = (1n << 64n) - 1n;

/** A ledger cursor is a Redis stream id "<ms>-<seq>", each part an unsigned 64-bit number. */
export const ledgerCursorSchema = z
  .string()
  .regex(/^\d{1,20}-\d{1,20}$/, 'not a cursor this endpoint returned')
  .refine((c) => !/^\d{1,20}-\d{1,20}$/.test(c) || c.split('-').every((part) => BigInt(part) <= U64_MAX), 'out of range');

/** A calls cursor is "<ms>:<CallSid or ParticipantSid>" of the last call returned. */
export function parseCallsCursor(cursor: string): { score: number; sid: string } {
  const m = /^(\d{1,16}):([A-Za-z0-9_-]{1,80})$/.exec(cursor);
  const score = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(score)) {
    throw new AppError(400, 'VALIDATION_FAILED', 'cursor: not a cursor this endpoint returned');
  }
  return { score, sid: m[2]! };
}

/** True when an exclusive range from `cursor` in this order can hold nothing: after the
 *  largest id (ascending) or before the smallest (descending). Redis refuses such ranges. */
export function ledgerCursorAtEnd(cursor: string, order: 'asc' | 'desc'): boolean {
  const [ms, seq] = cursor.split('-').map((p) => BigInt(p));
  return order === 'asc' ? ms === U64_MAX && seq === U64_MAX : ms === 0n && seq === 0n;
}
