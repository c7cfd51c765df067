// The app's live state: one @minutegate/client connection (reconnects by itself with
// backoff and jitter) and the calls lists, refetched after every (re)connect so frames
// missed while away are never missed for good. A refetch's reply may be older than the
// frames that arrive while it is in flight, so those frames are replayed over it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { createClient, type AlertMessage, type BalanceMessage, type CallMessage, type ConnectionState } from '@minutegate/client';
import { ok, type Api } from './api.js';

/** A call as the lists show it: the REST answer's (null where not known yet) or one built
 *  from the socket's frames (fields absent until they arrive). */
export interface Call {
  callSid: string;
  state: string;
  direction?: string;
  from?: string;
  to?: string;
  staffId?: string | null;
  startedAt?: string;
  endedAt?: string | null;
  billableSeconds?: number | null;
  billedMinutes?: number | null;
}

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
  alert: AlertMessage | null;
  active: Call[];
  recent: Call[];
  /** Takes a snapshot from a REST reply (a purchase), kept if newer. */
  offer(b: Balance): void;
}

const RECENT = 20;

export function useLive(api: Api, accountId: string, token: string): Live {
  const [balance, setBalance] = useState<Balance | null>(null);
  const [state, setState] = useState<ConnectionState>('connecting');
  const [alert, setAlert] = useState<AlertMessage | null>(null);
  const [active, setActiveState] = useState<Call[]>([]);
  // The active list is also read while handling an "ended" frame: kept in a ref too.
  const activeRef = useRef<Call[]>([]);
  const setActive = (f: Call[] | ((l: Call[]) => Call[])) => {
    activeRef.current = typeof f === 'function' ? f(activeRef.current) : f;
    setActiveState(activeRef.current);
  };
  const [recent, setRecent] = useState<Call[]>([]);

  useEffect(() => {
    let gone = false;
    const path = { id: accountId };
    // Call frames received since the current refetch was sent (null: none in flight).
    let inFlight: CallMessage[] | null = null;
    const loadCalls = async () => {
      const seen: CallMessage[] = [];
      inFlight = seen;
      try {
        const [a, e] = await Promise.all([
          ok(api.GET('/v1/accounts/{id}/calls', { params: { path, query: { state: 'active', limit: 50 } } })),
          ok(api.GET('/v1/accounts/{id}/calls', { params: { path, query: { state: 'ended', limit: RECENT } } })),
        ]);
        if (gone || inFlight !== seen) return; // a newer refetch owns the lists now
        setActive(a.calls);
        setRecent(e.calls);
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
        if (s === 'open') void loadCalls();
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
          return [ended, ...list.filter((x) => x.callSid !== f.callSid)].slice(0, RECENT);
        });
      }
    };
    return () => {
      gone = true;
      for (const off of offs) off();
      mg.close();
    };
  }, [api, accountId, token]);

  return { balance, state, alert, active, recent, offer: (b) => setBalance((cur) => newer(cur, b)) };
}
