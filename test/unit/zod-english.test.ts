/**
 * The schemas checked with zod/mini (the PSP's events, the seller and pay-out requests: their functions' bundles stay
 * small) say what full zod says, in English. This file loads no full zod: without src/core/zod-english.ts zod/mini
 * would answer "Invalid input" for every problem.
 */
import { validatePayoutRequest, validateSeller } from '../../src/api/payouts';
import { parsePspEvent } from '../../src/psp/events';

describe('zod/mini in English', () => {
  it("names the PSP event's problems as full zod does", () => {
    const parsed = parsePspEvent('{"id":"","type":5,"data":{"object":{"object":"payment_intent"}}}');
    expect(parsed).toEqual({
      ok: false,
      eventId: '',
      reason:
        'id: Too small: expected string to have >=1 characters; type: Invalid input: expected string, received number',
    });
  });

  it('a seller with unknown fields and a missing one: each named', () => {
    expect(() => validateSeller('acct_1', { country: 'FR', default_currency: 'EUR', extra: 1 })).toThrow(
      expect.objectContaining({
        details: {
          errors: [
            { field: 'email', message: 'email is required' },
            { field: '(body)', message: 'unknown field: extra' },
          ],
        },
      }),
    );
  });

  it('a payout request: our own messages, every check run', () => {
    expect(() => validatePayoutRequest({ seller_account: `${'x'.repeat(130)}!`, currency: 'eur', amount: 5 })).toThrow(
      expect.objectContaining({
        details: {
          errors: [
            { field: 'seller_account', message: 'seller_account must be at most 128 characters' },
            { field: 'seller_account', message: 'seller_account may contain only letters, digits and _ . : -' },
            { field: 'currency', message: 'currency must be a supported ISO 4217 code in upper case, such as "EUR"' },
            { field: 'amount', message: 'amount must be a decimal string such as "12.34", not a number' },
          ],
        },
      }),
    );
  });
});
