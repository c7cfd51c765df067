// Spots raw card numbers (PANs) in what clients send, so that only payment-processor
// tokens are ever kept: a card number must never reach Redis or a log line. It errs on the
// side of refusing — a refused body costs the client one retry without the number; a
// stored one is a PCI incident.
//
// A candidate is 13–19 digits passing the Luhn check, written anywhere in the text: alone,
// inside a longer string ("tok_4242424242424242x"), or in groups split by separators: spaces,
// dashes, dots, underscores, colons or slashes, mixed or not ("4242 4242 4242 4242",
// "4242-4242-4242-4242", "4242.4242_4242:4242"), Unicode spaces and dashes included (issue
// #16: a processor token may itself contain '.', '_' and ':'). Groups are combined at group boundaries
// (a number written in groups is still found when other digit groups stand around it), and
// an unbroken run longer than 19 digits is searched window by window.

const MIN_DIGITS = 13;
const MAX_DIGITS = 19;

/** Luhn (mod 10) check of a string of digits. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i -= 1) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const isCard = (digits: string) => digits.length >= MIN_DIGITS && digits.length <= MAX_DIGITS && luhnValid(digits);

/** What may stand between two digit groups of one number: any whitespace (Unicode spaces
 *  too), ASCII and Unicode dashes and minus, '.', '_', ':' and '/'. */
const SEPARATOR = '[\\s\\-._:/\\u2010-\\u2015\\u2212]';
/** Runs of digits joined by at most three separator characters at a time. */
const RUN = new RegExp(`\\d+(?:${SEPARATOR}{1,3}\\d+)*`, 'g');
const SEPARATORS = new RegExp(`${SEPARATOR}+`);

function runHasCard(run: string): boolean {
  const groups = run.split(SEPARATORS);
  for (const g of groups) {
    if (g.length > MAX_DIGITS) {
      for (let len = MIN_DIGITS; len <= MAX_DIGITS; len += 1) {
        for (let i = 0; i + len <= g.length; i += 1) if (luhnValid(g.slice(i, i + len))) return true;
      }
    }
  }
  for (let i = 0; i < groups.length; i += 1) {
    let digits = '';
    for (let j = i; j < groups.length; j += 1) {
      digits += groups[j];
      if (digits.length > MAX_DIGITS) break;
      if (isCard(digits)) return true;
    }
  }
  return false;
}

/** True when the text carries anything that looks like a card number. */
export function containsCardNumber(text: string): boolean {
  for (const m of text.matchAll(RUN)) {
    const digitCount = m[0].replace(/\D/g, '').length;
    if (digitCount >= MIN_DIGITS && runHasCard(m[0])) return true;
  }
  return false;
}

/** Searches every string (keys too) and number of a parsed JSON value: catches numbers
 *  hidden from the raw text by JSON escapes such as "\u0034\u0032…". */
export function jsonContainsCardNumber(value: unknown, depth = 0): boolean {
  if (depth > 32) return false;
  if (typeof value === 'string') return containsCardNumber(value);
  if (typeof value === 'number') return containsCardNumber(String(value));
  if (Array.isArray(value)) return value.some((v) => jsonContainsCardNumber(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => containsCardNumber(k) || jsonContainsCardNumber(v, depth + 1));
  }
  return false;
}
