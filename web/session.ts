// Sign-in by link: /app#token=<staff token>. The fragment never reaches the server or its
// logs; the token moves to localStorage, so new tabs of the same browser are signed in
// too until the token expires, and the fragment is cleared from the address bar and
// history at once. "Sign out" removes it, and every other tab hears of it (the storage
// event) and signs out as well. Why localStorage is safe enough here: docs/pending/webapp.md
// (the page's CSP lets no script but the app's own run, so nothing else can read it).
const KEY = 'minutegate.token';

export interface Claims {
  accountId: string;
  staffId: string;
  /** Expiry, seconds since epoch. */
  exp: number;
}

function storage(): Storage | null {
  try {
    return localStorage;
  } catch {
    return null; // storage disabled: the link still works for this page load
  }
}

let memory: string | null = null;

/** The token: a fresh one from the fragment wins over a stored one. */
export function takeToken(loc: Location = location, store: Storage | null = storage()): string | null {
  const m = /(?:^#|&)token=([^&]*)/.exec(loc.hash);
  if (m) {
    const token = decodeURIComponent(m[1] ?? '');
    if (token) {
      memory = token;
      store?.setItem(KEY, token);
    }
    history.replaceState(null, '', loc.pathname + loc.search);
  }
  return store?.getItem(KEY) ?? memory;
}

export function forgetToken(store: Storage | null = storage()): void {
  memory = null;
  store?.removeItem(KEY);
}

/** Calls back when another tab signs out (or signs in with another link). */
export function onTokenChange(fn: (token: string | null) => void): () => void {
  const h = (e: StorageEvent) => {
    if (e.key === KEY || e.key === null) fn(e.newValue);
  };
  addEventListener('storage', h);
  return () => removeEventListener('storage', h);
}

/** The readable claims of a staff token (the server alone checks its signature). */
export function claimsOf(token: string): Claims | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const c = JSON.parse(json) as Record<string, unknown>;
    const accountId = c.accountId ?? c.acc;
    const staffId = c.staffId ?? c.sub;
    if (typeof accountId !== 'string' || typeof staffId !== 'string' || typeof c.exp !== 'number') return null;
    return { accountId, staffId, exp: c.exp };
  } catch {
    return null;
  }
}
