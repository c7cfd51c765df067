// Card numbers never reach the gateway (it refuses them, 400 RAW_CARD_NUMBER). The card
// form is a Tokenizer's: it draws its own fields into an element the app hands it, and
// turns what was typed into a processor token with the card's brand, last 4 digits and
// expiry. Only that token goes to POST /v1/accounts/:id/payment-methods.
//
// In production a processor's hosted fields implement this interface — with Stripe
// Elements: mount() = elements.create('card').mount(el) (the number is typed inside
// Stripe's iframe, on Stripe's origin), tokenize() = stripe.createPaymentMethod({type:
// 'card', card}) → { processorToken: pm.id, brand: pm.card.brand, last4, expMonth,
// expYear }. The page's CSP then names js.stripe.com (script-src, frame-src) and
// api.stripe.com (connect-src); see docs/pending/webapp.md.
//
// In development (the gateway's dev mode) the test tokenizer below stands in: its fields
// are plain inputs of this page, checked here, and the token is made up locally (the
// gateway's dev mode takes any well-formed processor token; nothing is charged).
export interface CardToken {
  processorToken: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

export interface Tokenizer {
  /** Shown above the fields. */
  label: string;
  /** Draws the card fields into el (an empty element the app owns). */
  mount(el: HTMLElement): void | Promise<void>;
  /** Removes the fields (and forgets what was typed). */
  unmount(): void;
  /** A token for what was typed; rejects with TokenizeError (a sentence) if it is not a card. */
  tokenize(): Promise<CardToken>;
}

export class TokenizeError extends Error {
  override name = 'TokenizeError';
}

/** The brand a card number's first digits name (the gateway's list of brands). */
export function brandOf(digits: string): string {
  if (/^4/.test(digits)) return 'visa';
  if (/^(5[1-5]|2[2-7])/.test(digits)) return 'mastercard';
  if (/^3[47]/.test(digits)) return 'amex';
  if (/^(6011|65|64[4-9])/.test(digits)) return 'discover';
  if (/^3(0[0-5]|[689])/.test(digits)) return 'diners';
  if (/^35/.test(digits)) return 'jcb';
  if (/^62/.test(digits)) return 'unionpay';
  return 'other';
}

/** The Luhn check every card number passes. */
export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return digits.length >= 12 && sum % 10 === 0;
}

/** "12/34" or "12/2034" → month and year, or null. */
export function parseExpiry(raw: string): { month: number; year: number } | null {
  const m = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(raw);
  if (!m) return null;
  const month = Number(m[1]);
  const year = m[2]!.length === 2 ? 2000 + Number(m[2]) : Number(m[2]);
  if (month < 1 || month > 12) return null;
  return { month, year };
}

function field(label: string, attrs: Record<string, string>): { wrap: HTMLLabelElement; input: HTMLInputElement } {
  const wrap = document.createElement('label');
  wrap.className = 'field';
  const span = document.createElement('span');
  span.textContent = label;
  const input = document.createElement('input');
  for (const [k, v] of Object.entries(attrs)) input.setAttribute(k, v);
  wrap.append(span, input);
  return { wrap, input };
}

/** Development only: a local tokenizer whose token the gateway's dev mode accepts. */
export function testTokenizer(now: () => Date = () => new Date()): Tokenizer {
  let inputs: { number: HTMLInputElement; exp: HTMLInputElement; cvc: HTMLInputElement } | null = null;
  let host: HTMLElement | null = null;
  return {
    label: 'Test card — development mode only, nothing is charged',
    mount(el) {
      host = el;
      el.replaceChildren();
      const number = field('Card number', { inputmode: 'numeric', autocomplete: 'cc-number', value: '4242 4242 4242 4242' });
      const exp = field('Expiry (MM/YY)', { inputmode: 'numeric', autocomplete: 'cc-exp', value: '12/34' });
      const cvc = field('Security code', { inputmode: 'numeric', autocomplete: 'cc-csc', value: '123' });
      el.append(number.wrap, exp.wrap, cvc.wrap);
      inputs = { number: number.input, exp: exp.input, cvc: cvc.input };
    },
    unmount() {
      host?.replaceChildren();
      host = null;
      inputs = null;
    },
    async tokenize() {
      if (!inputs) throw new TokenizeError('The card form is not open.');
      const digits = inputs.number.value.replace(/[\s-]/g, '');
      if (!/^\d{12,19}$/.test(digits) || !luhn(digits)) throw new TokenizeError('That card number is not complete or has a typo. Check the digits.');
      const exp = parseExpiry(inputs.exp.value);
      const t = now();
      if (!exp) throw new TokenizeError('Enter the expiry as month and year, like 08/29.');
      if (exp.year < t.getFullYear() || (exp.year === t.getFullYear() && exp.month < t.getMonth() + 1)) {
        throw new TokenizeError('This card has expired. Use a card that is still valid.');
      }
      if (!/^\d{3,4}$/.test(inputs.cvc.value.trim())) throw new TokenizeError('Enter the 3 or 4 digit security code from the card.');
      const rand = Array.from(crypto.getRandomValues(new Uint8Array(8)), (x) => x.toString(16).padStart(2, '0')).join('');
      return { processorToken: `tok_test_${rand}`, brand: brandOf(digits), last4: digits.slice(-4), expMonth: exp.month, expYear: exp.year };
    },
  };
}

/** The production tokenizer of this build: none is bundled (see the header above). */
export const configuredTokenizer: (() => Tokenizer) | null = null;

/** The tokenizer to use: the test one in the gateway's dev mode, else the configured one. */
export function tokenizerFor(devMode: boolean): Tokenizer | null {
  if (devMode) return testTokenizer();
  return configuredTokenizer ? configuredTokenizer() : null;
}
