// The app's screens are paths under /app (the gateway serves the same page at each, so deep
// links and reloads land on the same screen); moving between them is history.pushState,
// no reload, so the live socket and the figures stay.
import { useEffect, useState } from 'preact/hooks';

export type Screen = 'calls' | 'usage' | 'billing';

export const SCREENS: { screen: Screen; path: string; label: string }[] = [
  { screen: 'calls', path: '/app', label: 'Calls' },
  { screen: 'usage', path: '/app/usage', label: 'Usage' },
  { screen: 'billing', path: '/app/billing', label: 'Billing' },
];

export function screenOf(path: string): Screen {
  const p = path.replace(/\/+$/, '');
  return SCREENS.find((s) => s.path === p)?.screen ?? 'calls';
}

const listeners = new Set<() => void>();

export function navigate(path: string): void {
  if (location.pathname !== path) history.pushState(null, '', path);
  for (const l of listeners) l();
}

export function useScreen(): Screen {
  const [screen, setScreen] = useState(() => screenOf(location.pathname));
  useEffect(() => {
    const update = () => setScreen(screenOf(location.pathname));
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return screen;
}
