// The web Request the app sees for a socket upgrade. An upgrade is a GET with no body, and
// the middleware in front of a socket route read its URL, method and a few headers — so
// those are read straight from Node's IncomingMessage, and no undici Request, Headers or
// AbortSignal is made. Those made up a third of what a socket's upgrade allocated, and the
// upgrades of a connection storm keep them alive across collections (they wait on Redis
// meanwhile), which is how they reached the old generation and the RSS (issue #22).
// Anything beyond reading headers (which the app's middleware never does on an upgrade)
// gets a real Headers, made then.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

class UpgradeHeaders {
  #native: Headers | null = null;
  constructor(private readonly incoming: IncomingMessage) {}

  /** Node has lower-cased the names and joined repeated values; a web Headers would join
   *  every repeat with ", ", Node keeps the first of a few (Host, Authorization...), which
   *  is the stricter reading of a header that must not repeat. */
  get(name: string): string | null {
    if (this.#native) return this.#native.get(name);
    const v = this.incoming.headers[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  private native(): Headers {
    if (!this.#native) {
      const h = new Headers();
      const raw = this.incoming.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
      this.#native = h;
    }
    return this.#native;
  }

  forEach(fn: (value: string, name: string, parent: Headers) => void): void {
    this.native().forEach(fn);
  }
  entries() {
    return this.native().entries();
  }
  keys() {
    return this.native().keys();
  }
  values() {
    return this.native().values();
  }
  [Symbol.iterator]() {
    return this.native().entries();
  }
  getSetCookie(): string[] {
    return [];
  }
  append(name: string, value: string): void {
    this.native().append(name, value);
  }
  set(name: string, value: string): void {
    this.native().set(name, value);
  }
  delete(name: string): void {
    this.native().delete(name);
  }
}

/** node:http's own test of a path it can pass on as is (@hono/node-server uses the same). */
const PLAIN_PATH = /^\/[!#$&-;=?-[\]_a-z~]*$/;
const PLAIN_HOST = /^[a-z0-9._-]+(?::\d{1,5})?$/;

/** The request's absolute URL. A path or Host that is not plain is normalised by URL, which
 *  throws on what no URL can be (the caller answers 400). */
export function upgradeUrl(incoming: IncomingMessage): string {
  const host = incoming.headers.host ?? 'localhost';
  const path = incoming.url ?? '/';
  const url = `${(incoming.socket as TLSSocket).encrypted ? 'https' : 'http'}://${host}${path}`;
  if (PLAIN_HOST.test(host) && PLAIN_PATH.test(path) && !/\/\.\.?(?:[/?#]|$)/.test(path)) return url;
  return new URL(url).href;
}

/** What the app reads of a request, over the IncomingMessage. It passes for the web Request
 *  Hono takes (`instanceof` included, as @hono/node-server's own lightweight request does);
 *  nothing on an upgrade route reads its body or signal. */
class UpgradeRequest {
  // Own data properties (class fields are defined, not assigned), in front of Request's getters.
  readonly url: string;
  readonly method: string;
  readonly headers: UpgradeHeaders;
  constructor(incoming: IncomingMessage, url: string) {
    this.url = url;
    this.method = incoming.method ?? 'GET';
    this.headers = new UpgradeHeaders(incoming);
  }
}
Object.setPrototypeOf(UpgradeRequest.prototype, Request.prototype);

export function upgradeRequest(incoming: IncomingMessage, url: string): Request {
  return new UpgradeRequest(incoming, url) as unknown as Request;
}
