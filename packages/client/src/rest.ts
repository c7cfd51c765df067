// Typed REST: an openapi-fetch client over the types generated from the gateway's own
// OpenAPI document (openapi-types.ts), with the token on every request. A path the
// document does not have, a missing path parameter or a wrong body is a type error.
import createFetchClient, { type Client } from 'openapi-fetch';
import type { paths } from './openapi-types.js';

export type ApiClient = Client<paths>;

export type ApiOptions = ({ token: string; getToken?: never } | { getToken: () => Promise<string>; token?: never }) & {
  /** The gateway's base URL (https://minutes.example.com), or "" for the page's own origin. */
  url: string;
  /** Another fetch (tests, proxies); the platform's by default. */
  fetch?: (request: Request) => Promise<Response>;
};

export function createApiClient(opts: ApiOptions): ApiClient {
  if (!opts.token && typeof opts.getToken !== 'function') throw new TypeError('createApiClient: give a token or a getToken function');
  const api = createFetchClient<paths>({ baseUrl: opts.url.replace(/\/+$/, ''), ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  api.use({
    async onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${opts.token ?? (await opts.getToken!())}`);
      return request;
    },
  });
  return api;
}
