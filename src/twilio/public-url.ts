// The public URL Twilio calls, which every signature covers: PUBLIC_BASE_URL, or — only
// when it is not configured (never in production) — the Host each request was sent to,
// over http. Either way the signature must still match it: this is no way around it.
export function requestBase(publicBaseUrl: string | null, host: string | undefined): string {
  return publicBaseUrl ?? `http://${host ?? 'localhost'}`;
}

/** Media Streams connect to the wss:// form of the same base (ws:// for a plain-http
 *  development base, which has no TLS to offer), on the call's own path (R18: see
 *  media-token.ts). */
export function mediaStreamUrl(base: string, token: string): string {
  return `${base.replace(/^http/, 'ws')}/twilio/media/${token}`;
}
