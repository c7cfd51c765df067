// What a Media Streams `start` frame may carry into Redis and onto dashboards. Both come
// from the socket, so both are checked before anything is stored or published: a forged
// or oversized frame cannot grow a call record or a dashboard event without limit.

/** Twilio StreamSids are "MZ" and 32 hex digits. */
export const isStreamSid = (s: unknown): s is string => typeof s === 'string' && /^MZ[0-9a-fA-F]{32}$/.test(s);

export const MAX_CUSTOM_PARAMETERS = 10;
export const MAX_PARAMETER_NAME = 64;
export const MAX_PARAMETER_VALUE = 256;

/** The stream's customParameters, bounded: string values only, at most 10 of them, names
 *  of at most 64 characters (longer ones are dropped), values cut to 256 characters. */
export function boundedParameters(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out;
  let n = 0;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (n >= MAX_CUSTOM_PARAMETERS) break;
    if (typeof v !== 'string' || k.length === 0 || k.length > MAX_PARAMETER_NAME) continue;
    out[k] = v.length > MAX_PARAMETER_VALUE ? v.slice(0, MAX_PARAMETER_VALUE) : v;
    n += 1;
  }
  return out;
}
