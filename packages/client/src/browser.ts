// @minutegate/client in browsers: the platform's WebSocket, the token as ?token= (a browser
// cannot set headers on an upgrade). A browser does not say why an upgrade failed, so when a
// connection closes before it opened, one plain GET of the same path with the token asks the
// gateway: 401 is a refused token, 403 a refused origin, anything else a passing failure.
import { createClientWith, type ClientOptions, type Connector, type MinutegateClient } from './socket.js';

export * from './exports.js';

const browserConnector: Connector = (url, token, on) => {
  const u = new URL(url);
  u.searchParams.set('token', token);
  const ws = new WebSocket(u.toString());
  let opened = false;
  ws.onopen = () => {
    opened = true;
    on.open();
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') on.message(ev.data);
  };
  ws.onerror = () => undefined; // onclose follows and decides
  ws.onclose = (ev) => {
    if (opened) return on.ended({ code: ev.code, reason: ev.reason });
    void probe(url, token).then((status) => on.ended({ code: ev.code, reason: ev.reason, status }));
  };
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
  };
};

async function probe(url: string, token: string): Promise<number | undefined> {
  try {
    const res = await fetch(url.replace(/^ws/, 'http'), { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
    void res.body?.cancel();
    return res.status === 401 || res.status === 403 ? res.status : undefined;
  } catch {
    return undefined;
  }
}

/** A client of the gateway at `url` (its base URL, or a path such as "/" on the page's own
 *  origin): see the package's README. */
export function createClient(opts: ClientOptions): MinutegateClient {
  return createClientWith(browserConnector, { ...opts, url: new URL(opts.url, globalThis.location?.href).toString() } as ClientOptions);
}
