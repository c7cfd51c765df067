// Sign-in by link: /app#token=<staff token>. The fragment never reaches the server or its
// logs; the token moves to sessionStorage (gone when the tab closes) and the fragment is
// cleared from the address bar and history at once.
const KEY = 'minutegate.token';

export interface Claims {
  accountId: string;
  staffId: string;
  /** Expiry, seconds since epoch. */
  exp: number;
}

/** The token of this tab: a fresh one from the fragment wins over a stored one. */
export function takeToken(loc: Location = location, store: Storage = sessionStorage): string | null {
  const m = /(?:^#|&)token=([^&]*)/.exec(loc.hash);
  if (m) {
    const token = decodeURIComponent(m[1] ?? '');
    if (token) store.setItem(KEY, token);
    history.replaceState(null, '', loc.pathname + loc.search);
  }
  return store.getItem(KEY);
}

export function forgetToken(store: Storage = sessionStorage): void {
  store.removeItem(KEY);
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
