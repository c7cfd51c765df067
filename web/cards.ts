// Adding a card: the app never sees a card number. A payment processor's hosted field
// (Stripe Elements, Adyen, Braintree…) collects it inside the processor's own iframe and
// hands back a token with the brand, last 4 digits and expiry; only that goes to
// POST /v1/accounts/:id/payment-methods. Plug a processor in by implementing CardProcessor
// (see docs/web-app.md). In development mode the gateway offers a test card instead.
export interface CardToken {
  processorToken: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

export interface CardProcessor {
  /** Shown above the field. */
  label: string;
  /** Renders the processor's hosted field into el (an empty div the app owns). */
  mount(el: HTMLElement): void | Promise<void>;
  /** Asks the processor for a token of what the user typed into its field. */
  tokenize(): Promise<CardToken>;
}

/** Development only: a token the gateway accepts like a processor's, no real card behind it. */
export const testCardProcessor: CardProcessor = {
  label: 'Test card — development mode only, nothing is charged',
  mount(el) {
    el.textContent = 'Visa ending 4242, expires 12/2034 (a test processor token is made for it)';
  },
  async tokenize() {
    const rand = Array.from(crypto.getRandomValues(new Uint8Array(8)), (x) => x.toString(16).padStart(2, '0')).join('');
    return { processorToken: `tok_test_${rand}`, brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 };
  },
};

/** The processor of this build: none is bundled; docs/web-app.md says how to plug one in. */
export const configuredProcessor: CardProcessor | null = null;
