// The steps of "Add More Minutes" as components: they show what buy.tsx's MinutesPanel
// holds and call back into it; the flow, the requests and the one-at-a-time guard stay there.
import type { Ref } from 'preact';
import type { AppConfig, Purchase } from './api.js';
import { cardText, day, expiryText, minutes as fmtMinutes, money } from './format.js';
import { kindText, MAX_MINUTES, MIN_MINUTES, minutesProblem, STEP, type Card, type Kind, type Quote } from './buy-order.js';
import type { Tokenizer } from './tokenizer.js';

export function BundleStep(props: {
  raw: string;
  setRaw(v: string): void;
  kind: Kind;
  setKind(k: Kind): void;
  busy: boolean;
  prices: AppConfig['prices'];
  onHow(): void;
  onReview(): void;
}) {
  const { raw, setRaw, kind, setKind, busy, prices, onReview } = props;
  const problem = minutesProblem(raw);
  const value = Number(raw);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (!problem) onReview();
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
      {prices && (
        // The price as the quantity changes; the quote on Review is what is charged.
        <p class="price" aria-live="polite">
          <span class="price-total">{problem ? '—' : money((value / prices.bundleMinutes) * prices.bundlePriceCents, prices.currency)}</span>{' '}
          <span class="price-unit">
            {money(prices.bundlePriceCents, prices.currency)} per {prices.bundleMinutes} minutes
            {kind === 'addon' ? ', every month' : ''}
          </span>
        </p>
      )}
      <fieldset class="choice">
        <legend>How</legend>
        {(['addon', 'one_time'] as Kind[]).map((k) => (
          <label key={k}>
            <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} /> {kindText(k)}
          </label>
        ))}
      </fieldset>
      <p class="hint">
        <button type="button" class="link" onClick={props.onHow}>
          To learn more about how minutes work
        </button>
      </p>
      <button type="submit" class="primary" disabled={!!problem || busy}>
        Review
      </button>
    </form>
  );
}

export function CardStep(props: {
  q: Quote;
  cards: Card[] | null;
  choice: string;
  setChoice(id: string): void;
  tokenizer: Tokenizer | null;
  devMode: boolean;
  fieldRef: Ref<HTMLDivElement>;
  busy: boolean;
  onBack(): void;
  onAdd(): void;
}) {
  const { q, cards, choice, setChoice, tokenizer, devMode, fieldRef, busy, onBack, onAdd } = props;

  return (
    <div>
      <h2 tabIndex={-1}>Review</h2>
      <Summary q={q} />
      <fieldset class="choice">
        <legend>Pay with</legend>
        {(cards ?? []).map((c) => (
          <label key={c.id} class={c.expired ? 'expired' : ''}>
            <input type="radio" name="card" checked={choice === c.id} disabled={c.expired} onChange={() => setChoice(c.id)} />{' '}
            <span>
              {`${cardText(c)}, `}
              {c.expired ? <strong class="expired-tag">Expired</strong> : `expires ${expiryText(c)}`}
            </span>
          </label>
        ))}
        <label>
          <input type="radio" name="card" checked={choice === 'new'} onChange={() => setChoice('new')} /> Add a new card
        </label>
      </fieldset>
      {choice === 'new' && (
        <div class="new-card">
          {tokenizer ? (
            <>
              <p class={devMode ? 'test-card' : ''}>{tokenizer.label}</p>
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
        <button type="button" onClick={onBack}>
          Back
        </button>
        <button type="button" class="primary" disabled={busy || !choice || (choice === 'new' && !tokenizer)} onClick={onAdd}>
          Add
        </button>
      </div>
    </div>
  );
}

export function ConfirmStep(props: { q: Quote; card: Card | undefined; busy: boolean; onBack(): void; onConfirm(): void }) {
  const { q, card, busy, onBack, onConfirm } = props;
  return (
    <div>
      <h2 tabIndex={-1}>Confirm your order</h2>
      <Summary q={q} />
      <dl class="summary">
        <div>
          <dt>Card</dt>
          <dd>{card ? cardText(card) : '—'}</dd>
        </div>
      </dl>
      <div class="actions">
        <button type="button" disabled={busy} onClick={onBack}>
          Back
        </button>
        <button type="button" class="primary" aria-disabled={busy} onClick={onConfirm}>
          {busy ? 'Confirming…' : 'Confirm purchase'}
        </button>
      </div>
    </div>
  );
}

export function DoneStep(props: { result: Purchase; receipt: { to: string; status: string } | null; gaveUp: boolean; onDone(): void }) {
  const { result, receipt, gaveUp, onDone } = props;
  return (
    <div role="status">
      <h2 tabIndex={-1}>Minutes added</h2>
      <p>
        {fmtMinutes(result.minutes)} minutes added. You now have{' '}
        <strong>{fmtMinutes(Math.max(0, result.balance?.balance ?? result.balance?.available ?? 0))} minutes</strong>.
      </p>
      <dl class="summary">
        <div>
          <dt>Amount</dt>
          <dd>{money(result.amountCents, result.currency)}</dd>
        </div>
        <div>
          <dt>Card</dt>
          <dd>{cardText(result.paymentMethod)}</dd>
        </div>
        <div>
          <dt>Order reference</dt>
          <dd class="ref">{result.purchaseId}</dd>
        </div>
        <div>
          <dt>Receipt</dt>
          <dd>{receipt ? (receipt.status === 'sent' ? 'Sent' : gaveUp ? 'Will follow by e-mail' : 'Sending…') : '—'}</dd>
        </div>
      </dl>
      {receipt && (
        <p>
          {receipt.status === 'sent'
            ? `Receipt sent to ${receipt.to}`
            : gaveUp
              ? `The receipt will be e-mailed to ${receipt.to}.`
              : `Sending the receipt to ${receipt.to}…`}
        </p>
      )}
      <button type="button" onClick={onDone}>
        Done
      </button>
    </div>
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
