// The app's live state: one @minutegate/client connection (reconnects by itself with
// backoff and jitter) and the calls lists, refetched after every (re)connect so frames
// missed while away are never missed for good. A refetch's reply may be older than the
// frames that arrive while it is in flight, so those frames are replayed over it.
//
// Honest states: the socket closing (or the browser saying it is offline) makes the app
// "offline" at once, with the time its figures are from; while away, the token is asked
// about over REST every few seconds, so a revoked or expired sign-in is said so (not
// "Reconnecting…" for ever); and the token's own expiry ends the session on time.
import { useEffect, useRef, useState } from 'preact/hooks';
import { createClient, type AlertMessage, type BalanceMessage, type CallMessage, type ConnectionState } from '@minutegate/client';
import { ApiError, type AccountApi, type CallRow } from './api.js';

/** A call as the lists hold it: from REST (every field) or built from a socket frame (the
 *  fields the frame carries). */
export type Call = Pick<CallRow, 'callSid' | 'state'> & Partial<CallRow>;

export type Balance = BalanceMessage & { planMinutes?: number; addonMinutes?: number };

/** The newer of two snapshots (by version): a late reply never overwrites a fresh frame. */
export function newer(a: Balance | null, b: Balance | null): Balance | null {
  if (!a) return b;
  if (!b) return a;
  return b.version >= a.version ? b : a;
}

export interface Live {
  balance: Balance | null;
  state: ConnectionState;
  /** Since when the gateway is out of reach (ms), or null while connected. */
  offlineSince: number | null;
  /** The sign-in was refused (revoked, expired, staff removed). */
  ended: boolean;
  alert: AlertMessage | null;
  active: Call[];
  recent: Call[];
  /** Whether older calls exist beyond `recent`. */
  hasMore: boolean;
  /** Loads the next page of older calls into `recent`. */
  more(): Promise<void>;
  /** Takes a snapshot from a REST reply (a purchase), kept if newer. */
  offer(b: Balance): void;
}

const PAGE = 20;
/** How often a disconnected app asks whether its sign-in still holds. */
const PROBE_MS = 3000;

export function useLive(rest: AccountApi, token: string, expSeconds: number): Live {
  const [balance, setBalance] = useState<Balance | null>(null);
  const [state, setState] = useState<ConnectionState>('connecting');
  const [offlineSince, setOfflineSince] = useState<number | null>(null);
  const [ended, setEnded] = useState(false);
  const cursor = useRef<string | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [alert, setAlert] = useState<AlertMessage | null>(null);
  const [active, setActiveState] = useState<Call[]>([]);
  // The active list is also read while handling an "ended" frame: kept in a ref too.
  const activeRef = useRef<Call[]>([]);
  const setActive = (f: Call[] | ((l: Call[]) => Call[])) => {
    activeRef.current = typeof f === 'function' ? f(activeRef.current) : f;
    setActiveState(activeRef.current);
  };
  const [recent, setRecent] = useState<Call[]>([]);

  // The token's own expiry ends the session on time, connected or not.
  useEffect(() => {
    const left = expSeconds * 1000 - Date.now();
    if (left <= 0) return setEnded(true);
    const t = setTimeout(() => setEnded(true), Math.min(left, 2 ** 31 - 1));
    return () => clearTimeout(t);
  }, [expSeconds]);

  // The browser knows when the network is gone before the socket does.
  useEffect(() => {
    const off = () => setOfflineSince((s) => s ?? Date.now());
    addEventListener('offline', off);
    return () => removeEventListener('offline', off);
  }, []);

  // While away, ask whether the sign-in still holds: a refusal is final.
  const away = state === 'reconnecting';
  useEffect(() => {
    if (!away) return;
    let stop = false;
    const probe = async () => {
      try {
        await rest.balance();
      } catch (err) {
        if (!stop && err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) setEnded(true);
      }
    };
    const t = setInterval(probe, PROBE_MS);
    void probe();
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [away, rest]);

  useEffect(() => {
    let gone = false;
    // Call frames received since the current refetch was sent (null: none in flight).
    let inFlight: CallMessage[] | null = null;
    const loadCalls = async () => {
      const seen: CallMessage[] = [];
      inFlight = seen;
      try {
        const [a, e] = await Promise.all([rest.calls('active', 50), rest.calls('ended', PAGE)]);
        if (gone || inFlight !== seen) return; // a newer refetch owns the lists now
        setActive(a.calls);
        setRecent(e.calls);
        cursor.current = e.nextCursor;
        setHasMore(e.nextCursor !== null);
        for (const f of seen) applyCall(f);
      } catch {
        // The socket's state line already tells the user; the next (re)connect retries.
      } finally {
        if (inFlight === seen) inFlight = null;
      }
    };
    const mg = createClient({ url: location.origin, token });
    const offs = [
      mg.on('balance', (b) => setBalance((cur) => newer(cur, b as Balance))),
      mg.on('alert', (a) => setAlert(a)),
      mg.on('state', (s) => {
        setState(s);
        if (s === 'open') {
          setOfflineSince(null);
          void loadCalls();
        } else {
          setOfflineSince((t) => t ?? Date.now());
        }
        // Refused token (401), revoked access (4003) or a final close (4004): signed out.
        if (s === 'closed' || s === 'unauthorized') setEnded(true);
      }),
      mg.on('call', (c) => {
        inFlight?.push(c);
        applyCall(c);
      }),
    ];
    // Idempotent, so a frame applied before a refetch's reply and again after it is harmless.
    const applyCall = (c: CallMessage) => {
      const f = c as CallMessage & Record<string, any>;
      const at = typeof f.at === 'string' ? f.at : new Date().toISOString();
      if (f.event === 'started') {
        setActive((list) =>
          list.some((x) => x.callSid === f.callSid)
            ? list
            : [{ callSid: f.callSid, state: 'active', direction: f.direction, from: f.from, to: f.to, staffId: f.staffId, startedAt: at }, ...list],
        );
      } else if (f.event === 'ended') {
        const started = activeRef.current.find((x) => x.callSid === f.callSid);
        setActive((list) => list.filter((x) => x.callSid !== f.callSid));
        setRecent((list) => {
          const prior = started ?? list.find((x) => x.callSid === f.callSid);
          const ended: Call = {
            ...prior,
            callSid: f.callSid,
            state: 'ended',
            direction: f.direction ?? prior?.direction,
            from: f.from ?? prior?.from,
            to: f.to ?? prior?.to,
            staffId: f.staffId ?? prior?.staffId,
            endedAt: at,
            billableSeconds: f.billableSeconds,
            billedMinutes: f.billedMinutes,
          };
          return [ended, ...list.filter((x) => x.callSid !== f.callSid)];
        });
        // The frame does not say whether the call was answered: the call's row does.
        rest
          .call(f.callSid)
          .then((row) => !gone && setRecent((list) => list.map((x) => (x.callSid === row.callSid ? { ...x, ...row } : x))))
          .catch(() => undefined);
      } else if (f.event === 'answered') {
        setActive((list) => list.map((x) => (x.callSid === f.callSid ? { ...x, answeredAt: at, staffId: f.staffId ?? x.staffId } : x)));
      }
    };
    return () => {
      gone = true;
      for (const off of offs) off();
      mg.close();
    };
  }, [rest, token]);

  const more = async () => {
    if (!cursor.current) return;
    const page = await rest.calls('ended', PAGE, cursor.current);
    cursor.current = page.nextCursor;
    setHasMore(page.nextCursor !== null);
    setRecent((list) => [...list, ...page.calls.filter((c) => !list.some((x) => x.callSid === c.callSid))]);
  };

  return { balance, state, offlineSince, ended, alert, active, recent, hasMore, more, offer: (b) => setBalance((cur) => newer(cur, b)) };
}
