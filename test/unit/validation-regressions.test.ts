/** Regression tests of bugs found by review: wrong-type messages, card numbers as field names or with other separators. */

import { validateCheckout } from '../../src/api/checkout';
import { HttpError } from '../../src/api/http';

const base = {
  checkout_id: 'co_1',
  buyer: { id: 'b1', country: 'FR' },
  currency: 'USD',
  payment_method: 'pm_card_visa',
  payment_orders: [{ payment_order_id: 'o1', seller_account: 's1', amount: '10.00' }],
};

function rejection(body: unknown): HttpError {
  try {
    validateCheckout(body, 0, { paymentId: 'pay_1', now: 'now' });
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected an HttpError');
}

describe('zodErrors reports a present value of the wrong type as "is required"', () => {
  it('amount given as a number gets the schema message, not "is required"', () => {
    const error = rejection({
      ...base,
      payment_orders: [{ payment_order_id: 'o1', seller_account: 's1', amount: 12.34 }],
    });
    expect(error.details.errors).toEqual([
      { field: 'payment_orders[0].amount', message: 'amount must be a decimal string such as "12.34", not a number' },
    ]);
  });

  it('currency given as a number gets the schema message, not "is required"', () => {
    const error = rejection({ ...base, currency: 840 });
    expect(error.details.errors).toEqual([{ field: 'currency', message: 'currency must be a string' }]);
  });
});

describe('a card number used as a field NAME is echoed back in the 400', () => {
  it('refuses it as card data without echoing the digits', () => {
    const error = rejection({ ...base, '4242424242424242': 'x' });
    expect(error.message).toMatch(/^card data is never accepted/);
    expect(JSON.stringify({ m: error.message, d: error.details })).not.toContain('4242424242424242');
  });
});

describe('Gap: a card number with . _ or : separators passes as an identifier', () => {
  it.each(['4242.4242.4242.4242', '4242_4242_4242_4242', '4242:4242:4242:4242'])('refuses buyer.id %p', (id) => {
    const error = rejection({ ...base, buyer: { id, country: 'FR' } });
    expect(error.message).toMatch(/^card data is never accepted/);
  });
});
