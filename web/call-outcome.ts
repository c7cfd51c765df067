// What a finished call came to, in words: "No answer" when the call's record says nobody
// answered (a live "ended" frame alone does not say, so it is never called unanswered),
// "free" when nothing was billed (30 s or less), else its minutes.
import type { Call } from './live.js';

export function outcome(c: Call): { text: string; cls: string } {
  if (c.state === 'unsettled') return { text: 'Not settled', cls: 'muted' };
  if (c.answeredAt === null && !(c.billableSeconds ?? 0)) return { text: 'No answer', cls: 'muted' };
  const billed = c.billedMinutes ?? 0;
  return billed === 0 ? { text: 'free', cls: 'free' } : { text: `${billed} min`, cls: '' };
}

