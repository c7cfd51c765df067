/**
 * Micro-benchmark: validateTwilioSignature vs twilio.validateRequest on a
 * realistic 20-parameter Voice webhook.  Run: npx tsx scripts/bench/signature.ts
 *
 * Scenarios:
 *   fast path   – signature over the URL exactly as the server sees it (normal traffic)
 *   port quirk  – request seen on :8443, Twilio signed it without the port
 *   bad sig     – forged signature: every URL variant is tried (worst case)
 *   form+valid  – parse the raw form body, then validate (fast path)
 */
import twilio from 'twilio';
import {
  computeTwilioSignature,
  signedParamsFromForm,
  validateTwilioSignature,
} from '../../src/twilio/signature.js';

const TOKEN = 'a3f1c0ffee0123456789abcdef012345';
const URL_SEEN = 'https://gw.example.com/twilio/voice?tenant=acme';
const URL_WITH_PORT = 'https://gw.example.com:8443/twilio/voice?tenant=acme';

const params: Record<string, string> = {
  AccountSid: 'AC0123456789abcdef0123456789abcdef',
  ApiVersion: '2010-04-01',
  CallSid: 'CA0123456789abcdef0123456789abcdef',
  CallStatus: 'ringing',
  CallToken: '%7B%22parentCallInfoToken%22%3A%22eyJhbGciOiJFUzI1NiJ9%22%7D',
  Called: '+14155550199',
  CalledCity: 'SAN FRANCISCO',
  CalledCountry: 'US',
  CalledState: 'CA',
  CalledZip: '94105',
  Caller: '+14155550100',
  CallerCity: 'OAKLAND',
  CallerCountry: 'US',
  CallerState: 'CA',
  CallerZip: '94612',
  Direction: 'inbound',
  From: '+14155550100',
  FromCountry: 'US',
  StirVerstat: 'TN-Validation-Passed-A',
  To: '+14155550199',
};
if (Object.keys(params).length !== 20) throw new Error('expected 20 params');

const body = new URLSearchParams(params).toString();
const sig = computeTwilioSignature(TOKEN, URL_SEEN, params);
const sigNoPort = computeTwilioSignature(TOKEN, URL_WITH_PORT.replace(':8443', ''), params);
const forged = 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=';

function bench(fn: () => boolean, expected: boolean, ms = 1500): number {
  if (fn() !== expected) throw new Error('benchmark sanity check failed');
  for (let i = 0; i < 20_000; i++) fn(); // warm-up
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  return (n * 1e9) / Number(elapsed);
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(10);

const scenarios: Array<[string, () => boolean, () => boolean, boolean]> = [
  [
    'fast path',
    () => validateTwilioSignature(TOKEN, sig, URL_SEEN, params),
    () => twilio.validateRequest(TOKEN, sig, URL_SEEN, params),
    true,
  ],
  [
    'port quirk',
    () => validateTwilioSignature(TOKEN, sigNoPort, URL_WITH_PORT, params),
    () => twilio.validateRequest(TOKEN, sigNoPort, URL_WITH_PORT, params),
    true,
  ],
  [
    'bad sig',
    () => validateTwilioSignature(TOKEN, forged, URL_SEEN, params),
    () => twilio.validateRequest(TOKEN, forged, URL_SEEN, params),
    false,
  ],
  [
    'form+valid',
    () => validateTwilioSignature(TOKEN, sig, URL_SEEN, signedParamsFromForm(body)),
    () => twilio.validateRequest(TOKEN, sig, URL_SEEN, signedParamsFromForm(body)),
    true,
  ],
];

console.log(`node ${process.version}, 20-param voice webhook, body ${body.length} bytes`);
console.log(`${'scenario'.padEnd(12)}${'minutegate/s'.padStart(14)}${'twilio/s'.padStart(12)}${'ratio'.padStart(8)}`);
for (const [name, ours, theirs, expected] of scenarios) {
  const a = bench(ours, expected);
  const b = bench(theirs, expected);
  console.log(`${name.padEnd(12)}${fmt(a).padStart(14)}${fmt(b).padStart(12)}${(a / b).toFixed(2).padStart(7)}x`);
}
