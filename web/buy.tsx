// "Add More Minutes": bundles of 100 (stepper or typed), monthly add-on or one-time →
// Review (the server's quote) → a card on file or a new one → Add → final review →
// Confirm purchase. One Idempotency-Key per order (made with its quote), reused by every
// retry; a second click while the first is in flight does nothing, and even a second
// request with the same key would be answered with the first purchase.
import { useEffect, useRef, useState } from 'preact/hooks';
import { friendly, newKey, type AccountApi, type AppConfig, type Purchase } from './api.js';
import { MIN_MINUTES, STEP, type Card, type Kind, type Quote } from './buy-order.js';
import { BundleStep, CardStep, ConfirmStep, DoneStep } from './buy-steps.js';
import type { Balance } from './live.js';
import { TokenizeError, tokenizerFor, type CardToken, type Tokenizer } from './tokenizer.js';

export { MAX_MINUTES, MIN_MINUTES, minutesProblem, STEP } from './buy-order.js';

const RECEIPT_POLLS = 120;

interface Order {
  quote: Quote;
  key: string;
}

export type Step = 'menu' | 'bundle' | 'card' | 'review' | 'done';

export function MinutesPanel(props: {
  rest: AccountApi;
  devMode: boolean;
  prices: AppConfig['prices'];
  start?: Step;
  offer(b: Balance): void;
  onHow(): void;
}) {
  const { rest, devMode, prices } = props;
  const [step, setStep] = useState<Step>(props.start ?? 'menu');
  const [raw, setRaw] = useState(String(MIN_MINUTES));
  // Bundles are billed monthly (the brief): the monthly add-on is the default.
  const [kind, setKind] = useState<Kind>('addon');
  const [order, setOrder] = useState<Order | null>(null);
  const [cards, setCards] = useState<Card[] | null>(null);
  const [choice, setChoice] = useState<string>('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; code: string; retry?: () => void } | null>(null);
  const [result, setResult] = useState<Purchase | null>(null);
  const [receipt, setReceipt] = useState<{ to: string; status: string } | null>(null);
  const inFlight = useRef(false);
  const panelRef = useRef<HTMLElement>(null);
  // Keyboard and screen-reader users land on each step's heading (or its one button).
  useEffect(() => {
    panelRef.current?.querySelector<HTMLElement>('h2, button')?.focus();
  }, [step]);
  const value = Number(raw);

  /** Runs one request of the flow at a time; an error is shown as a sentence, with a retry. */
  const run = async (doing: string, f: () => Promise<void>, retry?: () => void) => {
    if (inFlight.current) return;
    inFlight.current = true;
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'UNKNOWN';
      setError({ message: err instanceof TokenizeError ? err.message : friendly(err, doing), code, retry });
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  };

  const review = () =>
    run('Getting the price', async () => {
      const quote = await rest.quote(value / STEP, kind);
      setOrder({ quote, key: newKey() });
      const list = await rest.cards();
      setCards(list.paymentMethods);
      setChoice(list.paymentMethods.find((c) => !c.expired)?.id ?? 'new');
      setStep('card');
    }, review);

  const [tokenizer] = useState<Tokenizer | null>(() => tokenizerFor(devMode));
  const fieldRef = useRef<HTMLDivElement>(null);
  const pendingCard = useRef<{ token: CardToken; key: string } | null>(null);
  useEffect(() => {
    if (!(step === 'card' && choice === 'new' && tokenizer && fieldRef.current)) return;
    void tokenizer.mount(fieldRef.current);
    return () => tokenizer.unmount();
  }, [step, choice, tokenizer]);

  const addCard = () =>
    run('Adding the card', async () => {
      if (choice === 'new') {
        if (!tokenizer) throw new TokenizeError('No payment processor is set up here, so a new card cannot be added.');
        // One Idempotency-Key per new card, kept with its processor token until the card is
        // stored: a retry after a lost answer sends both again and adds the card once.
        pendingCard.current ??= { token: await tokenizer.tokenize(), key: newKey() };
        const card = await rest.addCard(pendingCard.current.token, pendingCard.current.key);
        pendingCard.current = null;
        setCards((list) => [...(list ?? []).filter((c) => c.id !== card.id), card]);
        setChoice(card.id);
      }
      setStep('review');
    }, addCard);

  const confirm = () =>
    run('The purchase', async () => {
      if (!order) return;
      const r = await rest.buy(order.quote.quoteId, choice, order.key);
      setResult(r);
      setReceipt(r.receipt ?? null);
      // The purchase's own snapshot: the new balance shows at once, the socket's frame may follow.
      if (r.balance) props.offer({ type: 'balance', ...r.balance });
      setStep('done');
    }, confirm);

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
        const p = await rest.purchase(result.purchaseId);
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
        <div class="menu">
          <button type="button" class="primary" onClick={restart}>
            Add More Minutes
          </button>
          <button type="button" onClick={props.onHow}>
            How minutes work
          </button>
        </div>
      )}

      {step === 'bundle' && (
        <BundleStep raw={raw} setRaw={setRaw} kind={kind} setKind={setKind} busy={busy} prices={prices} onHow={props.onHow} onReview={() => void review()} />
      )}

      {step === 'card' && q && (
        <CardStep q={q} cards={cards} choice={choice} setChoice={setChoice} tokenizer={tokenizer} devMode={devMode} fieldRef={fieldRef} busy={busy} onBack={() => go('bundle')} onAdd={addCard} />
      )}

      {step === 'review' && q && <ConfirmStep q={q} card={card} busy={busy} onBack={() => go('card')} onConfirm={confirm} />}

      {step === 'done' && result && <DoneStep result={result} receipt={receipt} gaveUp={gaveUp} onDone={() => go('menu')} />}

      {error && (
        <div class="problem-box" role="alert">
          <p class="problem">{error.message}</p>
          {error.code === 'QUOTE_EXPIRED' || error.code === 'QUOTE_USED' ? (
            // The price may have changed: a new quote means a new review and a new order.
            <button type="button" class="primary" onClick={restart}>
              Get a new quote
            </button>
          ) : error.retry && error.code !== 'VALIDATION' ? (
            <button type="button" onClick={error.retry}>
              Try again
            </button>
          ) : null}
        </div>
      )}
    </section>
  );
}
