import { computeTwilioSignature } from '../../src/twilio/signature.js';

/**
 * Build a signed Twilio-style form webhook for tests: `body` is the
 * application/x-www-form-urlencoded payload, `signature` the X-Twilio-Signature
 * value for `url` (pass the exact public URL the server will reconstruct).
 */
export function signForm(
  authToken: string,
  url: string,
  params: Record<string, string>,
): { body: string; signature: string } {
  return {
    body: new URLSearchParams(params).toString(),
    signature: computeTwilioSignature(authToken, url, params),
  };
}
