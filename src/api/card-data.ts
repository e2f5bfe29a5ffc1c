/**
 * Raw card data is never accepted. A request body is refused when any field name looks like card data
 * or any value contains a Luhn-valid run of 13-19 digits (spaces and dashes allowed between digits).
 * Only the field's path is reported, never its value.
 */

const CARD_FIELD =
  /^(card|card_?number|cardnumber|pan|cvc|cvv|cvv2|cvc2|exp_?month|exp_?year|expiry|number|security_?code)$/i;
// Digits with at most one separator between them (space, dash, dot, underscore, colon, slash).
const DIGIT_RUN = /\d(?:[ ._:/-]?\d){12,}/g;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
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

/**
 * True when the text holds a Luhn-valid run of 13 to 19 digits. A longer run is not a card number (card numbers
 * have at most 19 digits), and is not searched for windows: that would flag most long numeric identifiers.
 */
export function containsCardNumber(text: string): boolean {
  for (const match of text.matchAll(DIGIT_RUN)) {
    const digits = match[0].replace(/[^0-9]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return true;
  }
  return false;
}

/** The path of the first field that holds or names card data, or undefined. */
export function findCardData(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return containsCardNumber(value) ? path || '(body)' : undefined;
  if (typeof value === 'number') return containsCardNumber(String(value)) ? path || '(body)' : undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findCardData(item, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const childPath = path ? `${path}.${key}` : key;
      // A card number used as a field name is reported without its digits.
      if (containsCardNumber(key)) return path ? `${path}.(field name)` : '(field name)';
      if (CARD_FIELD.test(key)) return childPath;
      const found = findCardData(item, childPath);
      if (found) return found;
    }
  }
  return undefined;
}
