// The text of a low-balance alert e-mail to an account's staff.
import type { StoredAlert } from '../domain/alert-records.js';

export function renderAlertEmail(a: StoredAlert, accountName: string): { subject: string; text: string; html: string } {
  const out = a.level === 'exhausted';
  const subject = out ? `${accountName}: out of minutes` : `${accountName}: low on minutes (${a.available} left)`;
  const lines = out
    ? [
        `${accountName} has used all of this cycle's minutes.`,
        'Calls in progress continue; new calls need more minutes (buy a bundle of 100 in the app).',
      ]
    : [`${accountName} has ${a.available} minutes left this cycle (alert threshold: ${a.threshold}).`, 'Add more minutes in the app before they run out.'];
  const text = `${lines.join('\n')}\n\nCycle started ${new Date(a.cycleStart).toISOString().slice(0, 10)}. Alert ${a.id}.\n`;
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const html = `<p>${lines.map(esc).join('</p><p>')}</p><p style="color:#666">Alert ${esc(a.id)}</p>`;
  return { subject, text, html };
}
