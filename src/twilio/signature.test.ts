import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { signForm } from '../../test/support/twilio-sign.js';
import {
  computeTwilioSignature,
  signedParamsFromForm,
  validateTwilioBodySignature,
  validateTwilioSignature,
} from './signature.js';

interface SignatureVector {
  id: string;
  url: string;
  signedUrl: string;
  params: Record<string, string | string[]>;
  body?: string;
  authToken: string;
  expectedSignature: string;
  note: string;
  computedBodySHA256?: string;
  bodyHashVerified?: boolean;
  verified: boolean;
}

const fixture = JSON.parse(
  readFileSync(new URL('../../test/fixtures/twilio-vectors.json', import.meta.url), 'utf8'),
) as { signatureVectors: SignatureVector[] };

const vectors = fixture.signatureVectors;
const verified = vectors.filter((v) => v.verified);
const formVectors = verified.filter((v) => v.body === undefined);
const bodyVectors = verified.filter((v) => v.body !== undefined);

function vector(id: string): SignatureVector {
  const v = vectors.find((x) => x.id === id);
  if (!v) throw new Error(`missing vector ${id}`);
  return v;
}

const basic = vector('node-basic');
const TOKEN = basic.authToken;
const SIG = basic.expectedSignature;

describe('fixture', () => {
  it('has the expected verified vectors', () => {
    expect(formVectors.length).toBeGreaterThanOrEqual(12);
    expect(bodyVectors.length).toBe(3);
  });
});

describe('verified vectors', () => {
  it.each(verified.map((v) => [v.id, v] as const))('%s: signature over signedUrl reproduces', (_id, v) => {
    expect(computeTwilioSignature(v.authToken, v.signedUrl, v.params)).toBe(v.expectedSignature);
  });

  it.each(formVectors.map((v) => [v.id, v] as const))('%s: validates against the URL the server sees', (_id, v) => {
    expect(validateTwilioSignature(v.authToken, v.expectedSignature, v.url, v.params)).toBe(true);
    // and twilio-node agrees
    expect(twilio.validateRequest(v.authToken, v.expectedSignature, v.url, v.params)).toBe(true);
  });

  it.each(bodyVectors.map((v) => [v.id, v] as const))('%s: body variant validates', (_id, v) => {
    const body = v.body as string;
    expect(validateTwilioBodySignature(v.authToken, v.expectedSignature, v.url, body)).toBe(true);
    expect(twilio.validateRequestWithBody(v.authToken, v.expectedSignature, v.url, body)).toBe(true);
    // tampered body → hash mismatch
    expect(validateTwilioBodySignature(v.authToken, v.expectedSignature, v.url, body + ' ')).toBe(false);
    // wrong token → HMAC mismatch
    expect(validateTwilioBodySignature('54321', v.expectedSignature, v.url, body)).toBe(false);
  });

  it('special-chars vector only matches after WHATWG re-encoding (raw string does not)', () => {
    const v = vector('node-special-chars');
    expect(computeTwilioSignature(v.authToken, v.url, v.params)).not.toBe(v.expectedSignature);
    expect(validateTwilioSignature(v.authToken, v.expectedSignature, v.url, v.params)).toBe(true);
  });

  it('repeated values are de-duplicated and sorted (twilio-node behaviour)', () => {
    const v = vector('node-repeated-values-dedup');
    expect(computeTwilioSignature(v.authToken, v.url, v.params)).toBe(v.expectedSignature);
    const noDedup =
      v.url + ['Digits1234', 'Digits1234', 'Digits5678', 'SidCA123', 'SidAccountAC123'].join('');
    expect(createHmac('sha1', v.authToken).update(noDedup).digest('base64')).not.toBe(v.expectedSignature);
    // value order in the array does not matter
    expect(computeTwilioSignature(v.authToken, v.url, { ...v.params, Digits: ['1234', '5678'] })).toBe(
      v.expectedSignature,
    );
  });

  it('docs-python-json: only the body-hash half is usable (token unknown)', () => {
    const v = vector('docs-python-json');
    expect(v.verified).toBe(false);
    const hash = createHash('sha256')
      .update(v.body as string)
      .digest('hex');
    expect(hash).toBe(v.computedBodySHA256);
    expect(new URL(v.url).searchParams.get('bodySHA256')).toBe(hash);
    expect(validateTwilioBodySignature('12345', v.expectedSignature, v.url, v.body as string)).toBe(false);
  });
});

describe('Media Streams handshake (derived-wss-handshake)', () => {
  const v = vector('derived-wss-handshake');

  it('validates wss://example.com/media with empty params', () => {
    expect(v.url).toBe('wss://example.com/media');
    expect(validateTwilioSignature(v.authToken, v.expectedSignature, 'wss://example.com/media', {})).toBe(true);
  });

  it('trailing-slash form documented in the note', () => {
    const m = /(wss:\/\/\S+\/) -> ([A-Za-z0-9+/]{27}=)/.exec(v.note);
    expect(m).not.toBeNull();
    const [, slashUrl, slashSig] = m as unknown as [string, string, string];
    expect(slashUrl).toBe('wss://example.com/media/');
    expect(computeTwilioSignature(v.authToken, slashUrl, {})).toBe(slashSig);
    expect(validateTwilioSignature(v.authToken, slashSig, slashUrl, {})).toBe(true);
    // a trailing-slash rewrite breaks validation in both directions
    expect(validateTwilioSignature(v.authToken, slashSig, v.url, {})).toBe(false);
    expect(validateTwilioSignature(v.authToken, v.expectedSignature, slashUrl, {})).toBe(false);
  });
});

describe('rejections', () => {
  const url = basic.url;
  const params = basic.params as Record<string, string>;

  it('sanity: the untouched request validates', () => {
    expect(validateTwilioSignature(TOKEN, SIG, url, params)).toBe(true);
  });

  it('tampered parameter value', () => {
    expect(validateTwilioSignature(TOKEN, SIG, url, { ...params, Digits: '1235' })).toBe(false);
  });

  it('added parameter', () => {
    expect(validateTwilioSignature(TOKEN, SIG, url, { ...params, Extra: 'x' })).toBe(false);
  });

  it('removed parameter', () => {
    const { Digits: _d, ...rest } = params;
    expect(validateTwilioSignature(TOKEN, SIG, url, rest)).toBe(false);
  });

  it('tampered URL', () => {
    expect(validateTwilioSignature(TOKEN, SIG, url.replace('foo=1', 'foo=2'), params)).toBe(false);
    expect(validateTwilioSignature(TOKEN, SIG, url.replace('mycompany', 'evil'), params)).toBe(false);
  });

  it('wrong token', () => {
    expect(validateTwilioSignature('12346', SIG, url, params)).toBe(false);
    expect(validateTwilioSignature('', SIG, url, params)).toBe(false);
  });

  it('missing header / empty string', () => {
    expect(validateTwilioSignature(TOKEN, undefined, url, params)).toBe(false);
    expect(validateTwilioSignature(TOKEN, '', url, params)).toBe(false);
  });

  it('garbage base64 and non-canonical encodings', () => {
    expect(validateTwilioSignature(TOKEN, '!!!!!!!!!!!!!!!!!!!!!!!!!!!=', url, params)).toBe(false);
    expect(validateTwilioSignature(TOKEN, 'not base64 at all', url, params)).toBe(false);
    // Buffer's base64 decoder skips junk; a signature with a junk char must still fail
    expect(validateTwilioSignature(TOKEN, `${SIG.slice(0, 5)}*${SIG.slice(6)}`, url, params)).toBe(false);
    // same 20 bytes, non-zero padding bits in the last char
    const last = SIG.charAt(26);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const bumped = alphabet.charAt(alphabet.indexOf(last) + 1);
    const nonCanonical = `${SIG.slice(0, 26)}${bumped}=`;
    expect(Buffer.from(nonCanonical, 'base64').equals(Buffer.from(SIG, 'base64'))).toBe(true);
    expect(validateTwilioSignature(TOKEN, nonCanonical, url, params)).toBe(false);
    // URL-safe alphabet / whitespace variants
    expect(validateTwilioSignature(TOKEN, ` ${SIG}`, url, params)).toBe(false);
  });

  it('signature of a different length', () => {
    expect(validateTwilioSignature(TOKEN, SIG.slice(0, -1), url, params)).toBe(false);
    expect(validateTwilioSignature(TOKEN, `${SIG}A`, url, params)).toBe(false);
    expect(validateTwilioSignature(TOKEN, SIG + SIG, url, params)).toBe(false);
    const sha256 = createHmac('sha256', TOKEN).update(url).digest('base64');
    expect(validateTwilioSignature(TOKEN, sha256, url, params)).toBe(false);
  });

  it('never throws on garbage URLs or inputs', () => {
    for (const bad of ['', 'not a url', 'http://[', '://x', 'https://', '%%%', 'http://a b/']) {
      expect(() => validateTwilioSignature(TOKEN, SIG, bad, params)).not.toThrow();
      expect(validateTwilioSignature(TOKEN, SIG, bad, params)).toBe(false);
      expect(validateTwilioBodySignature(TOKEN, SIG, bad, '{}')).toBe(false);
    }
    const anyValidate = validateTwilioSignature as (...a: unknown[]) => boolean;
    expect(anyValidate(TOKEN, 42, url, params)).toBe(false);
    expect(anyValidate(TOKEN, SIG, undefined, params)).toBe(false);
    expect(anyValidate(undefined, SIG, url, params)).toBe(false);
    expect(anyValidate(TOKEN, SIG, url, null)).toBe(false);
  });

  it('body variant: missing / malformed bodySHA256 → false', () => {
    const v = vector('node-bodysha256');
    const body = v.body as string;
    const noHash = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const sigNoHash = computeTwilioSignature(TOKEN, noHash, {});
    expect(validateTwilioBodySignature(TOKEN, sigNoHash, noHash, body)).toBe(false);
    const upper = v.url.replace(/bodySHA256=([0-9a-f]+)/, (_m, h: string) => `bodySHA256=${h.toUpperCase()}`);
    const sigUpper = computeTwilioSignature(TOKEN, upper, {});
    expect(validateTwilioBodySignature(TOKEN, sigUpper, upper, body)).toBe(false);
    expect(validateTwilioBodySignature(TOKEN, undefined, v.url, body)).toBe(false);
    expect(validateTwilioBodySignature(TOKEN, '', v.url, body)).toBe(false);
  });
});

describe('URL variants', () => {
  const params = basic.params;

  it('strips a #fragment (connection overrides) before validating', () => {
    expect(validateTwilioSignature(TOKEN, SIG, `${basic.url}#ct=5000&rc=2`, params)).toBe(true);
    const v = vector('node-bodysha256');
    expect(validateTwilioBodySignature(TOKEN, v.expectedSignature, `${v.url}#rp=all`, v.body as string)).toBe(true);
  });

  it('accepts a legacy-querystring re-encoded signature', () => {
    const seen = 'https://mycompany.com/app?q=a%20b*c&x=(1)';
    const legacy = 'https://mycompany.com/app?q=a%20b*c&x=(1)';
    const sig = computeTwilioSignature(TOKEN, legacy, params);
    expect(validateTwilioSignature(TOKEN, sig, seen, params)).toBe(true);
    const seen2 = "https://mycompany.com/app?Body=It's+amazing";
    const legacy2 = "https://mycompany.com/app?Body=It's%20amazing";
    const sig2 = computeTwilioSignature(TOKEN, legacy2, params);
    expect(validateTwilioSignature(TOKEN, sig2, seen2, params)).toBe(true);
    expect(twilio.validateRequest(TOKEN, sig2, seen2, params)).toBe(true);
  });

  it('IPv6 hosts: port toggling respects brackets', () => {
    const sig = computeTwilioSignature(TOKEN, 'https://[::1]/hook', params);
    expect(validateTwilioSignature(TOKEN, sig, 'https://[::1]:8443/hook', params)).toBe(true);
  });
});

describe('cross-check with twilio@6.2.0', () => {
  const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9.]{0,11}$/);
  const value = fc.string({ maxLength: 12, unit: 'grapheme' });
  const paramsArb = fc.dictionary(name, fc.oneof(value, fc.array(fc.constantFrom('a', 'b', 'B', '1', '+1 2'), { minLength: 1, maxLength: 4 })), {
    maxKeys: 8,
  });
  const queryChar = fc.constantFrom('a', 'Z', '0', "'", ' ', '+', '%20', '%27', '*', '(', '!', '~', '=', '&', 'é', '"', '|');
  const urlArb = fc.record({
    scheme: fc.constantFrom('https', 'http', 'wss'),
    user: fc.constantFrom('', 'user:pass@'),
    host: fc.constantFrom('example.com', 'mycompany.com', 'Api.Example.COM', '127.0.0.1'),
    port: fc.constantFrom('', ':443', ':80', ':8443', ':1234'),
    path: fc.constantFrom('', '/', '/twilio/voice', '/a b', "/it's"),
    query: fc.array(queryChar, { maxLength: 10 }).map((cs) => cs.join('')),
  }).map(({ scheme, user, host, port, path, query }) => `${scheme}://${user}${host}${port}${path}${query ? `?${query}` : ''}`);

  it('computeTwilioSignature === getExpectedTwilioSignature', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 32 }), urlArb, paramsArb, (token, url, params) => {
        expect(computeTwilioSignature(token, url, params)).toBe(twilio.getExpectedTwilioSignature(token, url, params));
      }),
      { numRuns: 200 },
    );
  });

  it('validateTwilioSignature agrees with validateRequest (signed over any variant, tampered or not)', () => {
    fc.assert(
      fc.property(urlArb, urlArb, paramsArb, fc.boolean(), (seenUrl, otherUrl, params, unrelated) => {
        // half the time sign over the seen URL with its port removed, else over another random URL
        const signingUrl = unrelated ? otherUrl : seenUrl.replace(/:(443|80|8443|1234)(?=[/?]|$)/, '');
        const sig = computeTwilioSignature(TOKEN, signingUrl, params);
        const ours = validateTwilioSignature(TOKEN, sig, seenUrl, params);
        const theirs = twilio.validateRequest(TOKEN, sig, seenUrl, params);
        expect(ours).toBe(theirs);
        if (!unrelated) expect(ours).toBe(true);
        const tampered = { ...params, Injected: 'x' };
        expect(validateTwilioSignature(TOKEN, sig, seenUrl, tampered)).toBe(
          twilio.validateRequest(TOKEN, sig, seenUrl, tampered),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('agrees on a realistic form webhook posted through signForm/signedParamsFromForm', () => {
    const url = 'https://gw.example.com/twilio/voice?acct=AC1';
    const { body, signature } = signForm('tok_abc', url, {
      CallSid: 'CA123',
      From: '+14155550100',
      To: '+14155550199',
      CallStatus: 'ringing',
      Direction: 'inbound',
    });
    const parsed = signedParamsFromForm(body);
    expect(validateTwilioSignature('tok_abc', signature, url, parsed)).toBe(true);
    expect(twilio.validateRequest('tok_abc', signature, url, parsed)).toBe(true);
    expect(twilio.getExpectedTwilioSignature('tok_abc', url, parsed)).toBe(signature);
  });
});

describe('signedParamsFromForm', () => {
  it('parses single and repeated keys, decoding + and %XX', () => {
    const p = signedParamsFromForm('From=%2B14155550100&Body=hi+there&A=1&A=2&A=1&Empty=&__proto__=x&constructor=y');
    expect({ ...p }).toEqual({
      From: '+14155550100',
      Body: 'hi there',
      A: ['1', '2', '1'],
      Empty: '',
      ['__proto__']: 'x',
      constructor: 'y',
    });
    expect(Object.keys(p)).toContain('__proto__');
  });

  it('round-trips the array-param vector', () => {
    const v = vector('node-array-param');
    const body = 'MessagingBinding.Address=%2B1415xxxxxxx&MessagingBinding.Address=%2B1325xxxxxxx';
    expect(validateTwilioSignature(v.authToken, v.expectedSignature, v.url, signedParamsFromForm(body))).toBe(true);
  });

  it('empty body → no params', () => {
    expect(Object.keys(signedParamsFromForm(''))).toEqual([]);
  });
});
