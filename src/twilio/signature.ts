/**
 * X-Twilio-Signature validation (Twilio's webhook security scheme), tuned for the webhook hot path.
 *
 * Signed string = URL + for each POST parameter name (sorted, UTF-16 code-unit
 * order = byte order for the ASCII names Twilio sends) name+value, where a
 * repeated name contributes once per *distinct* value, values sorted — exactly
 * as twilio-node does (vector `node-repeated-values-dedup`).
 * Signature = base64(HMAC-SHA1(authToken, signed string)).
 *
 * Only node built-ins are used: node:crypto, plus node:querystring for the
 * legacy re-encoding variant (it has to match twilio-node byte for byte).
 *
 * URL variants tried by validateTwilioSignature (first match wins, duplicates
 * skipped, each one costs one HMAC over the same pre-built parameter suffix):
 *   0. `#fragment` stripped (Twilio never signs it; twilio-node would keep it and fail)
 *   1. the URL exactly as given                        ← fast path, one HMAC
 *   2. the same raw URL with the port removed, or with the default port added
 *      when it has none (`:443` for https, `:80` for anything else incl. wss)
 *   3. WHATWG `new URL(url).href` (re-encodes the query, e.g. ' → %27), port removed
 *   4. WHATWG-normalised, default port added
 *   5. (3) with the query re-encoded by the legacy `querystring` module
 *   6. (4) with the query re-encoded by the legacy `querystring` module
 * This is the same acceptance set as twilio@6.2.0 validateRequest (which tries
 * 1+2 "as received", then 3–6), so results agree for every URL without a fragment.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { parse as qsParse, stringify as qsStringify } from 'node:querystring';

export type TwilioParams = Record<string, string | string[]>;

/** base64 HMAC-SHA1 is always 20 bytes → 28 chars ("…=") */
const SIG_B64_LEN = 28;
const SIG_RAW_LEN = 20;
/** hex SHA-256 */
const BODY_HASH_HEX_LEN = 64;

/** name+value concatenation of the sorted params (the part appended to the URL). */
function paramSuffix(params: TwilioParams): string {
  const keys = Object.keys(params);
  if (keys.length === 0) return '';
  keys.sort();
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const name = keys[i] as string;
    const value = params[name];
    if (Array.isArray(value)) {
      if (value.length === 1) {
        out += name + value[0];
      } else if (value.length > 1) {
        const distinct = Array.from(new Set(value)).sort();
        for (let j = 0; j < distinct.length; j++) out += name + distinct[j];
      }
    } else {
      out += name + value;
    }
  }
  return out;
}

function hmacRaw(authToken: string, data: string): Buffer {
  return createHmac('sha1', authToken).update(data, 'utf8').digest();
}

export function computeTwilioSignature(authToken: string, url: string, params: TwilioParams): string {
  return createHmac('sha1', authToken)
    .update(url + paramSuffix(params), 'utf8')
    .digest('base64');
}

/**
 * Decode the header to the 20 raw HMAC bytes, or null. Strict: only the
 * canonical base64 of 20 bytes is accepted (Buffer's decoder silently skips
 * junk characters, so re-encode and compare; the header is not secret).
 */
function decodeSignature(signature: unknown): Buffer | null {
  if (typeof signature !== 'string' || signature.length !== SIG_B64_LEN) return null;
  const raw = Buffer.from(signature, 'base64');
  if (raw.length !== SIG_RAW_LEN || raw.toString('base64') !== signature) return null;
  return raw;
}

function matches(expected: Buffer, authToken: string, url: string, suffix: string): boolean {
  const actual = hmacRaw(authToken, url + suffix);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

// ---- URL variants (ported from twilio@6.2.0 lib/webhooks/webhooks.js) ----

const SCHEME_AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i;

interface UrlParts {
  scheme: string;
  userInfo: string;
  host: string;
  port: string; // includes the ':' ("" when absent)
  rest: string;
}

function splitUrl(url: string): UrlParts | null {
  const m = SCHEME_AUTHORITY.exec(url);
  if (!m) return null;
  const prefix = m[0];
  const scheme = m[1] as string;
  const authority = m[2] as string;
  const userInfoEnd = authority.lastIndexOf('@');
  const hostAndPort = authority.slice(userInfoEnd + 1);
  // a colon only starts the port after the closing bracket of an IPv6 literal
  const portStart = hostAndPort.indexOf(':', hostAndPort.lastIndexOf(']') + 1);
  return {
    scheme,
    userInfo: authority.slice(0, userInfoEnd + 1),
    host: portStart === -1 ? hostAndPort : hostAndPort.slice(0, portStart),
    port: portStart === -1 ? '' : hostAndPort.slice(portStart),
    rest: url.slice(prefix.length),
  };
}

function withoutPort(p: UrlParts): string {
  return p.scheme + p.userInfo + p.host + p.rest;
}

function withDefaultPort(p: UrlParts, url: string): string {
  if (p.port) return url;
  const port = p.scheme.toLowerCase() === 'https://' ? ':443' : ':80';
  return p.scheme + p.userInfo + p.host + port + p.rest;
}

function withLegacyQuerystring(url: string): string {
  const q = url.indexOf('?');
  if (q === -1 || q === url.length - 1) return url;
  return url.slice(0, q) + '?' + qsStringify(qsParse(url.slice(q + 1)));
}

function stripFragment(url: string): string {
  const hash = url.indexOf('#');
  return hash === -1 ? url : url.slice(0, hash);
}

/** Signature check over all URL variants; `suffix` is the pre-built param string. */
function validateUrlVariants(authToken: string, expected: Buffer, rawUrl: string, suffix: string): boolean {
  const url = stripFragment(rawUrl);

  // 1. fast path: the URL exactly as the server sees it
  if (matches(expected, authToken, url, suffix)) return true;

  // 2. raw URL with the port toggled (removed if present, default added if absent)
  const tried: string[] = [url];
  const rawParts = splitUrl(url);
  if (rawParts) {
    const toggled = rawParts.port ? withoutPort(rawParts) : withDefaultPort(rawParts, url);
    if (toggled !== url) {
      tried.push(toggled);
      if (matches(expected, authToken, toggled, suffix)) return true;
    }
  }

  // 3–6. WHATWG-normalised URL, ± port, ± legacy querystring re-encoding
  let normalized: string;
  try {
    normalized = new URL(url).href;
  } catch {
    return false;
  }
  const normParts = splitUrl(normalized);
  const noPort = normParts ? withoutPort(normParts) : normalized;
  const withPort = normParts ? withDefaultPort(normParts, normalized) : normalized;
  const candidates = [noPort, withPort, withLegacyQuerystring(noPort), withLegacyQuerystring(withPort)];
  for (const candidate of candidates) {
    if (tried.includes(candidate)) continue;
    tried.push(candidate);
    if (matches(expected, authToken, candidate, suffix)) return true;
  }
  return false;
}

export function validateTwilioSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: TwilioParams,
): boolean {
  try {
    if (typeof authToken !== 'string' || authToken === '' || typeof url !== 'string') return false;
    const expected = decodeSignature(signature);
    if (!expected) return false;
    return validateUrlVariants(authToken, expected, url, paramSuffix(params ?? {}));
  } catch {
    return false;
  }
}

/** First `bodySHA256` value of the URL's query (fragment ignored), or null. */
function bodyHashFromUrl(url: string): string | null {
  const noFragment = stripFragment(url);
  const q = noFragment.indexOf('?');
  if (q === -1) return null;
  return new URLSearchParams(noFragment.slice(q + 1)).get('bodySHA256');
}

/**
 * JSON-body webhooks: Twilio appends `bodySHA256=<hex sha256(raw body)>` to the
 * URL and signs the URL alone (no params). Both the HMAC (with the same URL
 * variants) and the body hash must match. The body is never form-parsed.
 */
export function validateTwilioBodySignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  rawBody: string,
): boolean {
  try {
    if (typeof authToken !== 'string' || authToken === '' || typeof url !== 'string') return false;
    if (typeof rawBody !== 'string') return false;
    const expected = decodeSignature(signature);
    if (!expected) return false;
    const claimed = bodyHashFromUrl(url);
    if (claimed === null || claimed.length !== BODY_HASH_HEX_LEN) return false;
    const actual = createHash('sha256').update(rawBody, 'utf8').digest('hex');
    const a = Buffer.from(actual, 'latin1');
    const b = Buffer.from(claimed, 'utf8');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return false;
    return validateUrlVariants(authToken, expected, url, '');
  } catch {
    return false;
  }
}

/**
 * Parse an application/x-www-form-urlencoded body into the record the
 * validator expects: single key → string, repeated key → string[] (in order).
 * Null-prototype object, so names like `__proto__`/`constructor` are plain keys.
 */
export function signedParamsFromForm(body: string): TwilioParams {
  const out: TwilioParams = Object.create(null) as TwilioParams;
  for (const [name, value] of new URLSearchParams(body)) {
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (typeof prev === 'string') out[name] = [prev, value];
    else prev.push(value);
  }
  return out;
}
