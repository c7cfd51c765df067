// "Add More Minutes": bundles of 100 (stepper or typed), monthly add-on or one-time →
// Review (the server's quote) → a card on file or a new one → Add → final review →
// Confirm purchase. One Idempotency-Key per order (made with its quote), reused by every
// retry; a second click while the first is in flight does nothing, and even a second
// request with the same key would be answered with the first purchase.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, newKey, type Api } from './api.js';
import { configuredProcessor, testCardProcessor, type CardProcessor } from './cards.js';
import { brandName, day, minutes as fmtMinutes, money } from './format.js';
import type { Balance } from './live.js';

export const MIN_MINUTES = 100;
export const MAX_MINUTES = 10_000;
export const STEP = 100;
const RECEIPT_POLLS = 120;

type Kind = 'addon' | 'one_time';

interface Quote {
  quoteId: string;
  kind: Kind;
  bundles: number;
  minutes: number;
  amountCents: number;
  currency: string;
  billedOn: string;
  expiresAt: string;
}

interface Card {
  id: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  expired?: boolean;
}

interface Order {
  quote: Quote;
  key: string;
}

type Step = 'menu' | 'bundle' | 'card' | 'review' | 'done';

/** Why a typed amount cannot be bought, or null when it can. */
export function minutesProblem(raw: string): string | null {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < MIN_MINUTES || n > MAX_MINUTES || n % STEP !== 0) {
    return `Minutes come in bundles of ${STEP}: enter a multiple of ${STEP} from ${fmtMinutes(MIN_MINUTES)} to ${fmtMinutes(MAX_MINUTES)}.`;
  }
  return null;
}

const kindText = (k: Kind) => (k === 'addon' ? 'Monthly add-on (every month until you end it)' : 'One-time minutes (this cycle only)');

export function MinutesPanel(props: { api: Api; accountId: string; devMode: boolean; offer(b: Balance): void }) {
  const { api, accountId, devMode } = props;
  const base = `/v1/accounts/${encodeURIComponent(accountId)}`;
  const [step, setStep] = useState<Step>('menu');
  const [raw, setRaw] = useState(String(MIN_MINUTES));
  const [kind, setKind] = useState<Kind>('one_time');
  const [order, setOrder] = useState<Order | null>(null);
  const [cards, setCards] = useState<Card[] | null>(null);
  const [choice, setChoice] = useState<string>('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; code: string } | null>(null);
  const [result, setResult] = useState<any>(null);
  const [receipt, setReceipt] = useState<{ to: string; status: string } | null>(null);
  const inFlight = useRef(false);
  const panelRef = useRef<HTMLElement>(null);
  // Keyboard and screen-reader users land on each step's heading (or its one button).
  useEffect(() => {
    panelRef.current?.querySelector<HTMLElement>('h2, button')?.focus();
  }, [step]);
  const problem = minutesProblem(raw);
  const value = Number(raw);

  /** Runs one request of the flow at a time; the error, if any, is shown as the server said it. */
  const run = async (f: () => Promise<void>) => {
    if (inFlight.current) return;
    inFlight.current = true;
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (err) {
      setError(err instanceof ApiError ? { message: err.message, code: err.code } : { message: 'Something went wrong. Try again.', code: 'UNKNOWN' });
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  };

  const review = () =>
    run(async () => {
      const quote = await api<Quote>('POST', `${base}/purchases/quote`, { bundles: value / STEP, kind });
      setOrder({ quote, key: newKey() });
      const list = await api<{ paymentMethods: Card[] }>('GET', `${base}/payment-methods`);
      const usable = list.paymentMethods.filter((c) => !c.expired);
      setCards(usable);
      setChoice(usable[0]?.id ?? 'new');
      setStep('card');
    });

  const processor: CardProcessor | null = devMode ? testCardProcessor : configuredProcessor;
  const fieldRef = useRef<HTMLDivElement>(null);
  const pendingCard = useRef<{ token: Awaited<ReturnType<CardProcessor['tokenize']>>; key: string } | null>(null);
  useEffect(() => {
    if (step === 'card' && choice === 'new' && processor && fieldRef.current) void processor.mount(fieldRef.current);
  }, [step, choice, processor]);

  const addCard = () =>
    run(async () => {
      if (choice === 'new') {
        if (!processor) throw new ApiError(0, 'NO_PROCESSOR', 'No payment processor is set up here, so a new card cannot be added.');
        // One Idempotency-Key per new card, kept with its processor token until the card is
        // stored: a retry after a lost answer sends both again and adds the card once.
        pendingCard.current ??= { token: await processor.tokenize(), key: newKey() };
        const card = await api<Card>('POST', `${base}/payment-methods`, pendingCard.current.token, { 'idempotency-key': pendingCard.current.key });
        pendingCard.current = null;
        setCards((list) => [...(list ?? []).filter((c) => c.id !== card.id), card]);
        setChoice(card.id);
      }
      setStep('review');
    });

  const confirm = () =>
    run(async () => {
      if (!order) return;
      const r = await api('POST', `${base}/purchases`, { quoteId: order.quote.quoteId, paymentMethodId: choice }, { 'idempotency-key': order.key });
      setResult(r);
      setReceipt(r.receipt ?? null);
      // The purchase's own snapshot: the new balance shows at once, the socket's frame may follow.
      if (r.balance) props.offer({ type: 'balance', ...r.balance });
      setStep('done');
    });

  // The receipt's status, asked every second until the mail is out (for two minutes at
  // most: without a mail server it stays queued, and the app says it will follow).
  const [gaveUp, setGaveUp] = useState(false);
  useEffect(() => {
    if (step !== 'done' || !result || receipt?.status === 'sent') return;
    let stop = false;
    let asked = 0;
    setGaveUp(false);
    const t = setInterval(async () => {
      if (++asked > RECEIPT_POLLS) {
        clearInterval(t);
        setGaveUp(true);
        return;
      }
      try {
        const p = await api('GET', `${base}/purchases/${encodeURIComponent(result.purchaseId)}`);
        if (stop || !p.receipt) return;
        setReceipt(p.receipt);
        if (p.receipt.status === 'sent') clearInterval(t);
      } catch {
        // Asked again in a second.
      }
    }, 1000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [step, result]);

  /** Moves between steps; an error belongs to the step it happened on. */
  const go = (s: Step) => {
    setError(null);
    setStep(s);
  };

  const restart = () => {
    setOrder(null);
    setResult(null);
    setReceipt(null);
    setError(null);
    setStep('bundle');
  };

  const card = cards?.find((c) => c.id === choice);
  const q = order?.quote;

  return (
    <section id="minutes-panel" class="card panel" aria-label="Buy minutes" ref={panelRef}>
      {step === 'menu' && (
        <button type="button" class="primary" onClick={restart}>
          Add More Minutes
        </button>
      )}

      {step === 'bundle' && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (!problem) void review();
          }}
        >
          <h2 tabIndex={-1}>Add More Minutes</h2>
          <div class="stepper">
            <button
              type="button"
              aria-label="Remove 100 minutes"
              disabled={!Number.isFinite(value) || value <= MIN_MINUTES}
              onClick={() => setRaw(String(Math.max(MIN_MINUTES, Math.ceil(value / STEP) * STEP - STEP)))}
            >
              −
            </button>
            <label>
              <span class="sr-only">Minutes</span>
              <input
                type="number"
                inputMode="numeric"
                aria-label="Minutes"
                min={MIN_MINUTES}
                max={MAX_MINUTES}
                step={STEP}
                value={raw}
                aria-invalid={problem ? 'true' : 'false'}
                aria-describedby="minutes-help"
                onInput={(e) => setRaw((e.target as HTMLInputElement).value)}
              />
            </label>
            <button
              type="button"
              aria-label="Add 100 minutes"
              disabled={!Number.isFinite(value) || value >= MAX_MINUTES}
              onClick={() => setRaw(String(Math.min(MAX_MINUTES, Math.floor(value / STEP) * STEP + STEP)))}
            >
              +
            </button>
          </div>
          <p id="minutes-help" class={problem ? 'problem' : 'hint'} role={problem ? 'status' : undefined}>
            {problem ?? `${fmtMinutes(value / STEP)} bundle${value === STEP ? '' : 's'} of ${STEP} minutes`}
          </p>
          <fieldset class="choice">
            <legend>How</legend>
            {(['one_time', 'addon'] as Kind[]).map((k) => (
              <label key={k}>
                <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} /> {kindText(k)}
              </label>
            ))}
          </fieldset>
          <button type="submit" class="primary" disabled={!!problem || busy}>
            Review
          </button>
        </form>
      )}

      {step === 'card' && q && (
        <div>
          <h2 tabIndex={-1}>Review</h2>
          <Summary q={q} />
          <fieldset class="choice">
            <legend>Pay with</legend>
            {(cards ?? []).map((c) => (
              <label key={c.id}>
                <input type="radio" name="card" checked={choice === c.id} onChange={() => setChoice(c.id)} />{' '}
                {`${brandName(c.brand)} ending ${c.last4}`}
              </label>
            ))}
            <label>
              <input type="radio" name="card" checked={choice === 'new'} onChange={() => setChoice('new')} /> Add a new card
            </label>
          </fieldset>
          {choice === 'new' && (
            <div class="new-card">
              {processor ? (
                <>
                  <p class={devMode ? 'test-card' : ''}>{processor.label}</p>
                  <div ref={fieldRef} class="card-field" />
                </>
              ) : (
                <p class="problem">
                  No payment processor is set up for this gateway, so new cards cannot be added here. Pick a card on file.
                </p>
              )}
            </div>
          )}
          <div class="actions">
            <button type="button" onClick={() => go('bundle')}>
              Back
            </button>
            <button type="button" class="primary" disabled={busy || !choice || (choice === 'new' && !processor)} onClick={addCard}>
              Add
            </button>
          </div>
        </div>
      )}

      {step === 'review' && q && (
        <div>
          <h2 tabIndex={-1}>Confirm your order</h2>
          <Summary q={q} />
          <dl class="summary">
            <div>
              <dt>Card</dt>
              <dd>{card ? `${brandName(card.brand)} ending ${card.last4}` : '—'}</dd>
            </div>
          </dl>
          <div class="actions">
            <button type="button" disabled={busy} onClick={() => go('card')}>
              Back
            </button>
            <button type="button" class="primary" aria-disabled={busy} onClick={confirm}>
              {busy ? 'Confirming…' : 'Confirm purchase'}
            </button>
          </div>
        </div>
      )}

      {step === 'done' && result && (
        <div role="status">
          <h2 tabIndex={-1}>Minutes added</h2>
          <p>
            {fmtMinutes(result.minutes)} minutes added. You now have{' '}
            <strong>{fmtMinutes(result.balance?.available ?? result.balance?.balance ?? 0)} minutes</strong>.
          </p>
          {receipt && (
            <p>
              {receipt.status === 'sent'
                ? `Receipt sent to ${receipt.to}`
                : gaveUp
                  ? `The receipt will be e-mailed to ${receipt.to}.`
                  : `Sending the receipt to ${receipt.to}…`}
            </p>
          )}
          <button type="button" onClick={() => go('menu')}>
            Done
          </button>
        </div>
      )}

      {error && (
        <p class="problem" role="status">
          {error.message}
        </p>
      )}
      {error && (error.code === 'QUOTE_EXPIRED' || error.code === 'QUOTE_USED') && (
        // The price may have changed: a new quote means a new review and a new order.
        <button type="button" class="primary" onClick={restart}>
          Get a new quote
        </button>
      )}
    </section>
  );
}

function Summary({ q }: { q: Quote }) {
  return (
    <dl class="summary">
      <div>
        <dt>Minutes</dt>
        <dd>{fmtMinutes(q.minutes)}</dd>
      </div>
      <div>
        <dt>Type</dt>
        <dd>{kindText(q.kind)}</dd>
      </div>
      <div>
        <dt>Price</dt>
        <dd>{money(q.amountCents, q.currency)}</dd>
      </div>
      <div>
        <dt>Billed on</dt>
        <dd>{day(q.billedOn)}</dd>
      </div>
    </dl>
  );
}
