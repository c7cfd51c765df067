// Twilio's `Timestamp` parameter: RFC 2822 on voice callbacks ("Sun, 25 Mar 2018
// 09:53:19 +0000"), ISO 8601 on Video and stream callbacks. It dates a call's end for
// cycle attribution (R16); anything unreadable is treated as absent, never refused.
export function parseTwilioTimestamp(raw: string | undefined | null): number | null {
  if (!raw || raw.length > 64) return null;
  const ms = Date.parse(raw);
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}
