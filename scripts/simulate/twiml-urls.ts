// Where Twilio sends a call's callbacks: the URLs the gateway's TwiML names (the <Dial
// action> and each noun's statusCallback, which carry the account in their query since
// issue #22), and the TwiML App's configured Status Callback for the parent's own
// status. The simulator, the demo and the webhook bench follow these as Twilio does.

const unescapeXml = (s: string) =>
  s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);

/** What the voice webhook's TwiML tells Twilio to do: reject, or dial (the action URL and
 *  the first noun's statusCallback, absolute and unescaped; the gateway gives every noun
 *  the same one, and dials one noun for a softphone call). */
export function readTwiml(xml: string): { kind: 'reject' } | { kind: 'dial'; action: string; statusCallback: string; to: string } | { kind: 'other' } {
  if (/<Reject\b/.test(xml)) return { kind: 'reject' };
  const dial = /<Dial\b[^>]*\baction="([^"]+)"/.exec(xml);
  const noun = /<(Number|Client)\b[^>]*\bstatusCallback="([^"]+)"[^>]*>([^<]+)<\/\1>/.exec(xml);
  if (!dial || !noun) return { kind: 'other' };
  return { kind: 'dial', action: unescapeXml(dial[1]!), statusCallback: unescapeXml(noun[2]!), to: unescapeXml(noun[3]!) };
}

/** The TwiML App's (and the numbers') Status Callback: configured, so no query. */
export const APP_STATUS_PATH = '/twilio/status';

/**
 * The path (and query) under the public base that Twilio posts `signal` to: a <Dial
 * action> request to the action URL, a dialled leg's callback to its noun's
 * statusCallback, the parent's own status to the TwiML App's Status Callback.
 */
export function callbackPath(publicBase: string, twiml: { action: string; statusCallback: string }, signal: Record<string, string>): string {
  const url = signal.DialCallStatus !== undefined ? twiml.action : signal.ParentCallSid !== undefined ? twiml.statusCallback : null;
  if (url === null) return APP_STATUS_PATH;
  if (!url.startsWith(`${publicBase}/`)) throw new Error(`the gateway named a callback URL outside its base ${publicBase}: ${url}`);
  return url.slice(publicBase.length);
}
