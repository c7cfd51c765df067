// "How minutes work": a modal dialog (the platform's <dialog>: focus stays inside, Escape
// closes it) in plain words, with the account's own reset date and prices. Focus goes back
// to whatever opened it.
import { useEffect, useRef } from 'preact/hooks';
import type { AppConfig } from './api.js';
import { day, money } from './format.js';

export function HowMinutesWork({ open, onClose, resetsOn, prices }: { open: boolean; onClose(): void; resetsOn: string | null; prices: AppConfig['prices'] }) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      opener.current = document.activeElement as HTMLElement | null;
      d.showModal();
    } else if (!open && d.open) {
      d.close();
    }
  }, [open]);
  const closed = () => {
    onClose();
    const back = opener.current;
    opener.current = null;
    // The opener may have been re-rendered away meanwhile; then focus stays where it is.
    if (back && back.isConnected) back.focus();
  };
  const overage = prices && prices.overagePriceCentsPerMinute > 0 ? `${money(prices.overagePriceCentsPerMinute, prices.currency)} a minute` : null;
  return (
    <dialog ref={ref} class="dialog how" aria-labelledby="how-h" onClose={closed}>
      <div class="dialog-head">
        <h2 id="how-h">How minutes work</h2>
        <button type="button" class="close" aria-label="Close" onClick={() => ref.current?.close()}>
          ×
        </button>
      </div>
      <ul class="how-list">
        <li>
          <strong>Calls of 30 seconds or less are free.</strong> Longer calls are rounded up to whole minutes: a call of 2 minutes 5
          seconds uses 3 minutes.
        </li>
        <li>
          <strong>One pool for everyone.</strong> Every staff member and every device uses the same minutes.
        </li>
        <li>
          <strong>Your allowance resets on your billing date</strong>
          {resetsOn ? ` — next on ${day(resetsOn)}` : ''}. Minutes left over do not roll over to the next cycle.
        </li>
        <li>
          <strong>A call in progress is never cut off</strong> when minutes run out. New calls wait until minutes are added.
        </li>
        <li>
          <strong>Monthly add-ons or one-time minutes.</strong> A monthly add-on adds its minutes every cycle until you end it; one-time
          minutes are for this cycle only.
        </li>
        <li>
          <strong>Overage.</strong> Minutes a call uses beyond what is left are counted as overage and billed with the cycle
          {overage ? ` at ${overage}` : ''}.
        </li>
      </ul>
      <button type="button" class="primary" onClick={() => ref.current?.close()}>
        Got it
      </button>
    </dialog>
  );
}
