// "Add More Minutes": bundles of 100 (stepper or typed), monthly add-on or one-time →
// Review (the server's quote) → a card on file or a new one → Add → final review →
// Confirm purchase. One Idempotency-Key per order (made with its quote), reused by every
// retry; a second click while the first is in flight does nothing, and even a second
// request with the same key would be answered with the first purchase.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, newKey, ok, type Api } from './api.js';
import { MIN_MINUTES, STEP, type Card, type Kind, type Quote } from './buy-order.js';
import { BundleStep, CardStep, ConfirmStep, DoneStep } from './buy-steps.js';
import { configuredProcessor, testCardProcessor, type CardProcessor } from './cards.js';
import type { Balance } from './live.js';

export { MAX_MINUTES, MIN_MINUTES, minutesProblem, STEP } from './buy-order.js';

const RECEIPT_POLLS = 120;

interface Order {
  quote: Quote;
  key: string;
}

type Step = 'menu' | 'bundle' | 'card' | 'review' | 'done';

export function MinutesPanel(props: { api: Api; accountId: string; devMode: boolean; offer(b: Balance): void }) {
  const { api, accountId, devMode } = props;
  const path = { id: accountId };
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
      const quote: Quote = await ok(api.POST('/v1/accounts/{id}/purchases/quote', { params: { path }, body: { bundles: value / STEP, kind } }));
      setOrder({ quote, key: newKey() });
      const list = await ok(api.GET('/v1/accounts/{id}/payment-methods', { params: { path } }));
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
        const card: Card = await ok(
          api.POST('/v1/accounts/{id}/payment-methods', { params: { path, header: { 'Idempotency-Key': pendingCard.current.key } }, body: pendingCard.current.token }),
        );
        pendingCard.current = null;
        setCards((list) => [...(list ?? []).filter((c) => c.id !== card.id), card]);
        setChoice(card.id);
      }
      setStep('review');
    });

  const confirm = () =>
    run(async () => {
      if (!order) return;
      const r = await ok(
        api.POST('/v1/accounts/{id}/purchases', { params: { path, header: { 'Idempotency-Key': order.key } }, body: { quoteId: order.quote.quoteId, paymentMethodId: choice } }),
      );
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
        const p = await ok(api.GET('/v1/accounts/{id}/purchases/{purchaseId}', { params: { path: { ...path, purchaseId: result.purchaseId } } }));
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

      {step === 'bundle' && <BundleStep raw={raw} setRaw={setRaw} kind={kind} setKind={setKind} busy={busy} onReview={() => void review()} />}

      {step === 'card' && q && (
        <CardStep q={q} cards={cards} choice={choice} setChoice={setChoice} processor={processor} devMode={devMode} fieldRef={fieldRef} busy={busy} onBack={() => go('bundle')} onAdd={addCard} />
      )}

      {step === 'review' && q && <ConfirmStep q={q} card={card} busy={busy} onBack={() => go('card')} onConfirm={confirm} />}

      {step === 'done' && result && <DoneStep result={result} receipt={receipt} gaveUp={gaveUp} onDone={() => go('menu')} />}

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
