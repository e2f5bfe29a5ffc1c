import { findCardNumbers } from '../support/card-scan';

describe('Module: card-scan', () => {
  describe('Function: findCardNumbers', () => {
    it.each([
      ['a test card', '{"note":"4242 4242 4242 4242"}'],
      ['the decline card with dashes', 'x 4000-0000-0000-0002 y'],
      ['a Luhn-valid Mastercard-like run', 'pan=5555555555554444'],
      ['an Amex-like run', '378282246310005'],
    ])('finds %s', (_, text) => {
      expect(findCardNumbers(text).length).toBeGreaterThan(0);
    });

    it.each([
      ['an epoch-milliseconds timestamp', '"startDate":1763745446193'],
      ['an ISO timestamp', '2026-11-21T17:37:26.193Z'],
      ['a non-Luhn 16-digit run', '4242424242424241'],
      ['a payment id', 'pay_4087a25724e9dafcd71ad707e0a38b7f'],
      ['digits across UUID dashes', '0c341701-1283-432a-9a57-7d057ec22e55 06054698-5646-4530-8716-0000'],
      ['an account id in an ARN', 'arn:aws:lambda:us-east-1:000000000000:function:Charge'],
    ])('does not flag %s', (_, text) => {
      expect(findCardNumbers(text)).toEqual([]);
    });
  });
});
