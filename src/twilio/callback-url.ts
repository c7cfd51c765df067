// The URL a call's own callbacks come back on (the <Dial action> and every dialled noun's
// statusCallback): /twilio/status with the account in its query, so that a callback names
// its pool itself and skips the CallSid → account look-up. Twilio signs the URL with its
// query, so the account cannot be altered; a callback without it (the TwiML App's or a
// number's configured Status Callback, or a call placed before the query existed) is
// looked up as before (metering/calls.ts recordSignal).

/** The query parameter naming the account: one letter, since it is on every callback. */
export const ACCOUNT_PARAM = 'a';

/** `base`: the public base URL (PUBLIC_BASE_URL). Account ids are letters, digits and
 *  "_ . @ : -" (domain/ids.ts): "@" and ":" are percent-encoded, as Twilio sends them back. */
export function statusCallbackUrl(base: string, accountId: string): string {
  return `${base}/twilio/status?${ACCOUNT_PARAM}=${encodeURIComponent(accountId)}`;
}
