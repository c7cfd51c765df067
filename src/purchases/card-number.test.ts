import { describe, expect, it } from 'vitest';
import { containsCardNumber, jsonContainsCardNumber, luhnValid } from './card-number.js';

// Public test numbers of the card networks (all pass Luhn).
const VISA = '4242424242424242';
const AMEX = '378282246310005'; // 15 digits
const DINERS = '30569309025904'; // 14 digits
const VISA13 = '4222222222222'; // 13 digits
const MAESTRO19 = '6759649826438453000'.slice(0, 18) + '5'; // made valid below

describe('luhnValid', () => {
  it('accepts network test numbers and refuses a changed digit', () => {
    for (const n of [VISA, AMEX, DINERS, VISA13, '5555555555554444', '6011111111111117']) expect(luhnValid(n)).toBe(true);
    expect(luhnValid('4242424242424241')).toBe(false);
    expect(luhnValid('')).toBe(false);
    expect(luhnValid('42a2')).toBe(false);
  });
});

describe('containsCardNumber', () => {
  it('finds 13 to 19 digit numbers passing Luhn, alone or inside longer strings', () => {
    expect(containsCardNumber(VISA)).toBe(true);
    expect(containsCardNumber(AMEX)).toBe(true);
    expect(containsCardNumber(DINERS)).toBe(true);
    expect(containsCardNumber(VISA13)).toBe(true);
    expect(containsCardNumber(`tok_${VISA}`)).toBe(true);
    expect(containsCardNumber(`card:${VISA}xyz`)).toBe(true);
    expect(containsCardNumber(`{"processorToken":"pm_${VISA}"}`)).toBe(true);
  });

  it('finds numbers written in groups with spaces or dashes, also among other digit groups', () => {
    expect(containsCardNumber('4242 4242 4242 4242')).toBe(true);
    expect(containsCardNumber('4242-4242-4242-4242')).toBe(true);
    expect(containsCardNumber('4242 - 4242 - 4242 - 4242')).toBe(true);
    expect(containsCardNumber('3782 822463 10005')).toBe(true);
    expect(containsCardNumber('card 4242 4242 4242 4242 12 2030 cvc 123')).toBe(true);
  });

  it('treats dots, underscores, colons and slashes between digit groups like spaces and dashes, mixed too', () => {
    for (const s of [
      '4242.4242.4242.4242',
      '4242_4242_4242_4242',
      '6011:1111:1111:1117',
      '3782.822463.10005',
      '4242/4242/4242/4242',
      '4242.4242-4242_4242',
      '4242 / 4242 : 4242 . 4242',
      '4242._4242:/4242-_4242',
      'tok_4242.4242.4242.4242',
      'pm_4242_4242_4242_4242',
      'card:6011:1111:1111:1117:exp',
      // Unicode spaces and dashes a pasted number may carry.
      '4242\u20134242\u20144242\u22124242',
      '4242\u20094242\u202f4242\u30004242',
    ]) {
      expect(containsCardNumber(s), s).toBe(true);
    }
  });

  it('searches unbroken runs longer than 19 digits window by window', () => {
    expect(containsCardNumber(`999${VISA}99999`)).toBe(true);
  });

  it('leaves alone what is not a card number', () => {
    expect(containsCardNumber('4242424242424241')).toBe(false); // fails Luhn
    expect(containsCardNumber('424242424242')).toBe(false); // 12 digits
    expect(containsCardNumber('pm_1NirD82eZvKYlo2CIvbtLWuY')).toBe(false);
    // Processor tokens and what stands around them on these routes stay accepted.
    for (const s of ['tok_1MvoA2LkdIwHu7ixYz9Ab3Cd', 'pm_card_visa', 'tok_visa_test_abc123', 'src_2030_12_31', 'seti_1Q2w3E4r5T6y:v2.1', 'exp 12/2030']) {
      expect(containsCardNumber(s), s).toBe(false);
    }
    // Groups too far apart (four separators or more) are not read as one number.
    expect(containsCardNumber('4242 .:. 4242 .:. 4242 .:. 4242')).toBe(false);
    expect(containsCardNumber('{"brand":"visa","last4":"4242","expMonth":12,"expYear":2030}')).toBe(false);
    expect(containsCardNumber('')).toBe(false);
  });

  it('checks a 19-digit number', () => {
    // Make a 19-digit Luhn-valid number by fixing the check digit.
    const body = MAESTRO19.slice(0, 18);
    const check = [...'0123456789'].find((d) => luhnValid(body + d))!;
    expect(containsCardNumber(body + check)).toBe(true);
  });
});

describe('jsonContainsCardNumber', () => {
  it('finds numbers in decoded strings, keys and numbers of a parsed body', () => {
    const escaped = JSON.parse(`{"processorToken":"${[...VISA].map((d) => `\\u00${d.charCodeAt(0).toString(16)}`).join('')}"}`);
    expect(containsCardNumber(JSON.stringify(escaped).replace(/\d/g, (d) => `\\u00${d.charCodeAt(0).toString(16)}`))).toBe(false);
    expect(jsonContainsCardNumber(escaped)).toBe(true);
    expect(jsonContainsCardNumber({ nested: [{ [VISA]: 1 }] })).toBe(true);
    expect(jsonContainsCardNumber({ n: Number(VISA) })).toBe(true);
    expect(jsonContainsCardNumber({ brand: 'visa', last4: '4242', expMonth: 1, expYear: 2031 })).toBe(false);
  });
});
