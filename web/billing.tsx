// The Billing screen: Purchases (history from the ledger's purchase entries, each with its
// record for the card and the receipt; more on demand), Add-ons (active ones, End add-on →
// confirmation → "Ends <date>"), Cards (brand, last 4, expiry; remove with confirmation;
// add through the tokenizer's form) and this cycle's Charges (lines, total, billed-on date).
import { useEffect, useRef, useState } from 'preact/hooks';
import { friendly, newKey, type AccountApi, type Addon, type Charges, type Purchase } from './api.js';
import type { Card } from './buy-order.js';
import { ConfirmDialog } from './confirm-dialog.js';
import { cardText, day, expiryText, minutes as fmt, money } from './format.js';
import { TokenizeError, tokenizerFor, type CardToken, type Tokenizer } from './tokenizer.js';

/** Loads once (and again on retry): the data, or an error sentence with a retry. */
function useLoad<T>(load: () => Promise<T>, doing: string, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let gone = false;
    setError(null);
    load()
      .then((d) => !gone && setData(d))
      .catch((err) => !gone && setError(friendly(err, doing)));
    return () => {
      gone = true;
    };
  }, [...deps, n]);
  return { data, setData, error, retry: () => setN((x) => x + 1) };
}

function Problem({ text, retry }: { text: string; retry?: () => void }) {
  return (
    <div class="problem-box" role="alert">
      <p class="problem">{text}</p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function BillingScreen({ rest, devMode, version }: { rest: AccountApi; devMode: boolean; version: number }) {
  return (
    <>
      <Charges rest={rest} version={version} />
      <Purchases rest={rest} version={version} />
      <Addons rest={rest} version={version} />
      <Cards rest={rest} devMode={devMode} />
    </>
  );
}

const PURCHASES_PAGE = 10;
const LEDGER_PAGE = 200;

function Purchases({ rest, version }: { rest: AccountApi; version: number }) {
  const [rows, setRows] = useState<Purchase[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Purchases are the ledger's "purchase" entries (newest first); each entry's ref is the
  // purchase, whose record names the card and the receipt's status. Ids read from the
  // ledger but not shown yet wait in `queue`; `cursor` is where the ledger goes on.
  const feed = useRef<{ queue: string[]; cursor: string | null; started: boolean }>({ queue: [], cursor: null, started: false });
  const [more, setMore] = useState(false);
  const page = async (fresh: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const f = fresh ? { queue: [], cursor: null, started: false } : { ...feed.current, queue: [...feed.current.queue] };
      while (f.queue.length < PURCHASES_PAGE && (!f.started || f.cursor)) {
        const r = await rest.ledger(LEDGER_PAGE, f.cursor);
        f.started = true;
        for (const e of r.entries) if (e.kind === 'purchase') f.queue.push(e.ref);
        f.cursor = r.nextCursor;
      }
      const ids = f.queue.splice(0, PURCHASES_PAGE);
      const records = await Promise.all(ids.map((id) => rest.purchase(id)));
      feed.current = f;
      setRows((have) => (fresh ? records : [...(have ?? []), ...records.filter((p) => !have?.some((h) => h.purchaseId === p.purchaseId))]));
      setMore(f.queue.length > 0 || f.cursor !== null);
    } catch (err) {
      setError(friendly(err, 'Loading purchases'));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => void page(true), [rest, version]);
  return (
    <section class="card" aria-labelledby="purchases-h">
      <h2 id="purchases-h">Purchases</h2>
      {rows === null ? (
        !error && <p class="empty">Loading…</p>
      ) : rows.length === 0 ? (
        <p class="empty">No purchases yet.</p>
      ) : (
        <ul class="rows">
          {rows.map((p) => (
            <li key={p.purchaseId}>
              <div class="row-main">
                <span>
                  {fmt(p.minutes)} minutes · {p.kind === 'addon' ? 'monthly add-on' : 'one-time'}
                </span>
                <strong>{money(p.amountCents, p.currency)}</strong>
              </div>
              <div class="row-sub">
                {day(p.createdAt)} · {cardText(p.paymentMethod)} · Receipt {p.receipt?.status === 'sent' ? 'sent' : 'queued'}
              </div>
            </li>
          ))}
        </ul>
      )}
      {error && <Problem text={error} retry={() => void page(rows === null)} />}
      {more && rows && (
        <button type="button" class="more" disabled={busy} onClick={() => void page(false)}>
          {busy ? 'Loading…' : 'Show more purchases'}
        </button>
      )}
    </section>
  );
}

function Addons({ rest, version }: { rest: AccountApi; version: number }) {
  const { data, setData, error, retry } = useLoad(() => rest.addons(), 'Loading add-ons', [rest, version]);
  const [ending, setEnding] = useState<Addon | null>(null);
  const [busy, setBusy] = useState(false);
  const [endError, setEndError] = useState<string | null>(null);
  const end = async () => {
    if (!ending) return;
    setBusy(true);
    setEndError(null);
    try {
      const r = await rest.endAddon(ending.purchaseId);
      setData((d) => (d ? { addons: d.addons.filter((a) => a.purchaseId !== r.purchaseId), ending: [r, ...d.ending.filter((a) => a.purchaseId !== r.purchaseId)] } : d));
      setEnding(null);
    } catch (err) {
      setEndError(friendly(err, 'Ending the add-on'));
    } finally {
      setBusy(false);
    }
  };
  const all = data ? [...data.addons, ...data.ending] : [];
  return (
    <section class="card" aria-labelledby="addons-h">
      <h2 id="addons-h" tabIndex={-1}>Add-ons</h2>
      {error && <Problem text={error} retry={retry} />}
      {data && all.length === 0 && <p class="empty">No monthly add-ons.</p>}
      {all.length > 0 && (
        <ul class="rows">
          {all.map((a) => (
            <li key={a.purchaseId}>
              <div class="row-main">
                <span>{fmt(a.minutes)} minutes every month</span>
                <strong>{money(a.amountCents, a.currency)}</strong>
              </div>
              <div class="row-sub">
                Since {day(a.createdAt)} · {cardText(a.paymentMethod)}
              </div>
              {a.endsAt || a.endedAt ? (
                <p class="row-note">Ends {day((a.endsAt ?? a.endedAt)!)}</p>
              ) : (
                <button type="button" onClick={() => setEnding(a)}>
                  End add-on
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {ending && (
        <ConfirmDialog
          title="End this add-on?"
          action="End add-on"
          busy={busy}
          onConfirm={() => void end()}
          onCancel={() => {
            setEnding(null);
            setEndError(null);
          }}
        >
          <p>
            The {fmt(ending.minutes)} minutes a month stop at the end of this billing cycle. Minutes already added stay until then.
          </p>
          {endError && <Problem text={endError} />}
        </ConfirmDialog>
      )}
    </section>
  );
}

function Cards({ rest, devMode }: { rest: AccountApi; devMode: boolean }) {
  const { data, setData, error, retry } = useLoad(() => rest.cards(), 'Loading cards', [rest]);
  const [removing, setRemoving] = useState<Card | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [tokenizer] = useState<Tokenizer | null>(() => tokenizerFor(devMode));
  const fieldRef = useRef<HTMLDivElement>(null);
  const pending = useRef<{ token: CardToken; key: string } | null>(null);
  useEffect(() => {
    if (!adding || !tokenizer || !fieldRef.current) return;
    void tokenizer.mount(fieldRef.current);
    return () => tokenizer.unmount();
  }, [adding, tokenizer]);

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    setActionError(null);
    try {
      await rest.removeCard(removing.id);
      setData((d) => (d ? { paymentMethods: d.paymentMethods.filter((c) => c.id !== removing.id) } : d));
      setRemoving(null);
    } catch (err) {
      setActionError(friendly(err, 'Removing the card'));
    } finally {
      setBusy(false);
    }
  };
  const save = async () => {
    if (!tokenizer || busy) return;
    setBusy(true);
    setActionError(null);
    try {
      // As in the purchase flow: one key per new card, so a retried save adds it once.
      pending.current ??= { token: await tokenizer.tokenize(), key: newKey() };
      const card = await rest.addCard(pending.current.token, pending.current.key);
      pending.current = null;
      setData((d) => ({ paymentMethods: [...(d?.paymentMethods ?? []).filter((c) => c.id !== card.id), card] }));
      setAdding(false);
    } catch (err) {
      setActionError(err instanceof TokenizeError ? err.message : friendly(err, 'Saving the card'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="cards-h">
      <h2 id="cards-h" tabIndex={-1}>Cards</h2>
      {error && <Problem text={error} retry={retry} />}
      {data && data.paymentMethods.length === 0 && <p class="empty">No cards on file.</p>}
      {data && data.paymentMethods.length > 0 && (
        <ul class="rows">
          {data.paymentMethods.map((c) => (
            <li key={c.id}>
              <div class="row-main">
                <span>{cardText(c)}</span>
                {c.expired ? <strong class="expired-tag">Expired</strong> : <span class="muted">Expires {expiryText(c)}</span>}
              </div>
              <button type="button" aria-label={`Remove ${cardText(c)}`} onClick={() => setRemoving(c)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      {!adding && (
        <button
          type="button"
          class="more"
          onClick={() => {
            setActionError(null);
            setAdding(true);
          }}
        >
          Add a card
        </button>
      )}
      {adding && (
        <form
          class="new-card"
          aria-label="New card"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          {tokenizer ? (
            <>
              <p class={devMode ? 'test-card' : ''}>{tokenizer.label}</p>
              <div ref={fieldRef} class="card-field" />
            </>
          ) : (
            <p class="problem">No payment processor is set up for this gateway, so new cards cannot be added here.</p>
          )}
          <div class="actions">
            <button type="button" onClick={() => setAdding(false)}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={!tokenizer || busy}>
              Save card
            </button>
          </div>
          {actionError && !removing && <Problem text={actionError} />}
        </form>
      )}
      {removing && (
        <ConfirmDialog
          title="Remove this card?"
          action="Remove card"
          busy={busy}
          onConfirm={() => void remove()}
          onCancel={() => {
            setRemoving(null);
            setActionError(null);
          }}
        >
          <p>{cardText(removing)} will no longer be offered for purchases. Add-ons already bought are not affected.</p>
          {actionError && <Problem text={actionError} />}
        </ConfirmDialog>
      )}
    </section>
  );
}

function Charges({ rest, version }: { rest: AccountApi; version: number }) {
  const { data, error, retry } = useLoad<Charges>(() => rest.charges(), 'Loading charges', [rest, version]);
  return (
    <section class="card" aria-labelledby="charges-h">
      <h2 id="charges-h">Charges</h2>
      {error && <Problem text={error} retry={retry} />}
      {data && (
        <>
          <p class="hint">
            This cycle, {day(data.cycleStart)} to {day(data.cycleEnd)} · billed on {day(data.billedOn)}
          </p>
          {data.lines.length === 0 ? (
            <p class="empty">Nothing charged this cycle yet.</p>
          ) : (
            <ul class="rows">
              {data.lines.map((l, i) => (
                <li key={i}>
                  <div class="row-main">
                    <span>{l.description}</span>
                    <strong>{money(l.amountCents, data.currency)}</strong>
                  </div>
                </li>
              ))}
            </ul>
          )}
          <div class="row-main total">
            <span>Total</span>
            <strong>{money(data.totalCents, data.currency)}</strong>
          </div>
        </>
      )}
    </section>
  );
}
