import { validateCheckout } from '../../src/api/checkout';
import { HttpError } from '../../src/api/http';
import { createPaymentSchema, MAX_ORDERS_PER_CHECKOUT } from '../../src/api/schemas';

const NOW = '2025-01-02T03:04:05.000Z';
const IDS = { paymentId: 'pay_test_1', now: NOW };
const FEE_BPS = 250; // 2.5 %

function checkout(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    checkout_id: 'co_1001',
    buyer: { id: 'buyer_42', country: 'FR' },
    currency: 'USD',
    payment_method: 'pm_card_visa',
    payment_orders: [
      { payment_order_id: 'po_a', seller_account: 'seller_a', amount: '10.00' },
      { payment_order_id: 'po_b', seller_account: 'seller_b', amount: '0.99' },
      { payment_order_id: 'po_c', seller_account: 'seller_c', amount: '1234.56' },
    ],
    ...overrides,
  };
}

const order = (id: string, amount: unknown, seller = `seller_${id}`) => ({
  payment_order_id: id,
  seller_account: seller,
  amount,
});

/** The HttpError thrown by validateCheckout (fails the test when nothing or something else is thrown). */
function rejection(body: unknown, feeBps = FEE_BPS): HttpError {
  try {
    validateCheckout(body, feeBps, IDS);
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected validateCheckout to throw an HttpError');
}

const fields = (error: HttpError) => (error.details.errors ?? []).map((e) => e.field);

describe('Module: create-payment', () => {
  describe('Function: validateCheckout', () => {
    it('accepts a valid 3-seller checkout with minor units, total, fees and NOT_STARTED statuses', () => {
      // Act
      const { event, orders } = validateCheckout(checkout(), FEE_BPS, IDS);

      // Assess
      expect(event).toEqual({
        payment_id: 'pay_test_1',
        checkout_id: 'co_1001',
        buyer: { id: 'buyer_42', country: 'FR' },
        currency: 'USD',
        mode: 'token',
        total_minor: 124_555,
        payment_method: 'pm_card_visa',
        status: 'NOT_STARTED',
        order_ids: ['po_a', 'po_b', 'po_c'],
        created_at: NOW,
        updated_at: NOW,
      });
      const base = {
        payment_id: 'pay_test_1',
        currency: 'USD',
        status: 'NOT_STARTED',
        wallet_updated: false,
        ledger_updated: false,
        created_at: NOW,
        updated_at: NOW,
      };
      expect(orders).toEqual([
        { ...base, payment_order_id: 'po_a', seller_account: 'seller_a', amount_minor: 1000, fee_minor: 25 },
        { ...base, payment_order_id: 'po_b', seller_account: 'seller_b', amount_minor: 99, fee_minor: 2 }, // 2.475
        { ...base, payment_order_id: 'po_c', seller_account: 'seller_c', amount_minor: 123_456, fee_minor: 3086 }, // 3086.4
      ]);
    });

    it('has zero fees at 0 basis points', () => {
      const { orders } = validateCheckout(checkout(), 0, IDS);
      expect(orders.map((o) => o.fee_minor)).toEqual([0, 0, 0]);
    });

    it('parses amounts in the checkout currency (JPY: 0 decimals, KWD: 3)', () => {
      // Act
      const jpy = validateCheckout(
        checkout({ currency: 'JPY', payment_orders: [order('a', '1500'), order('b', '1')] }),
        FEE_BPS,
        IDS,
      );
      const kwd = validateCheckout(
        checkout({ currency: 'KWD', payment_orders: [order('a', '1.005'), order('b', '2')] }),
        FEE_BPS,
        IDS,
      );

      // Assess
      expect(jpy.orders.map((o) => [o.amount_minor, o.fee_minor, o.currency])).toEqual([
        [1500, 37, 'JPY'],
        [1, 0, 'JPY'],
      ]);
      expect(jpy.event.total_minor).toBe(1501);
      expect(kwd.orders.map((o) => [o.amount_minor, o.fee_minor])).toEqual([
        [1005, 25],
        [2000, 50],
      ]);
      expect(kwd.event.total_minor).toBe(3005);
    });

    it(`accepts exactly ${MAX_ORDERS_PER_CHECKOUT} orders`, () => {
      // Prepare
      const orders = Array.from({ length: MAX_ORDERS_PER_CHECKOUT }, (_, i) => order(`po_${i}`, '1.00'));

      // Act
      const { event } = validateCheckout(checkout({ payment_orders: orders }), FEE_BPS, IDS);

      // Assess
      expect(event.order_ids).toHaveLength(40);
      expect(event.total_minor).toBe(4000);
    });

    it.each([
      ['missing checkout_id', checkout({ checkout_id: undefined }), 'checkout_id'],
      ['checkout_id with #', checkout({ checkout_id: 'co#1' }), 'checkout_id'],
      ['checkout_id with a space', checkout({ checkout_id: 'co 1' }), 'checkout_id'],
      ['empty checkout_id', checkout({ checkout_id: '' }), 'checkout_id'],
      ['checkout_id of 129 characters', checkout({ checkout_id: 'c'.repeat(129) }), 'checkout_id'],
      ['lower-case buyer.country', checkout({ buyer: { id: 'b1', country: 'fr' } }), 'buyer.country'],
      ['3-letter buyer.country', checkout({ buyer: { id: 'b1', country: 'FRA' } }), 'buyer.country'],
      ['buyer.id with #', checkout({ buyer: { id: 'b#1', country: 'FR' } }), 'buyer.id'],
      ['missing buyer', checkout({ buyer: undefined }), 'buyer'],
      ['unsupported currency', checkout({ currency: 'XXX' }), 'currency'],
      ['lower-case currency', checkout({ currency: 'usd' }), 'currency'],
      ['payment_method not pm_...', checkout({ payment_method: 'tok_visa' }), 'payment_method'],
      ['payment_method pm_ alone', checkout({ payment_method: 'pm_' }), 'payment_method'],
      ['empty payment_orders', checkout({ payment_orders: [] }), 'payment_orders'],
      ['payment_orders not an array', checkout({ payment_orders: { po: 1 } }), 'payment_orders'],
      [
        `${MAX_ORDERS_PER_CHECKOUT + 1} orders`,
        checkout({ payment_orders: Array.from({ length: 41 }, (_, i) => order(`po_${i}`, '1.00')) }),
        'payment_orders',
      ],
      ['amount as a number', checkout({ payment_orders: [order('a', 12.34)] }), 'payment_orders[0].amount'],
      ['amount as an integer number', checkout({ payment_orders: [order('a', 12)] }), 'payment_orders[0].amount'],
      [
        'missing amount',
        checkout({ payment_orders: [{ payment_order_id: 'a', seller_account: 's' }] }),
        'payment_orders[0].amount',
      ],
      ['"12.345" in USD', checkout({ payment_orders: [order('a', '12.345')] }), 'payment_orders[0].amount'],
      ['"1.5" in JPY', checkout({ currency: 'JPY', payment_orders: [order('a', '1.5')] }), 'payment_orders[0].amount'],
      [
        '"1.0005" in KWD',
        checkout({ currency: 'KWD', payment_orders: [order('a', '1.0005')] }),
        'payment_orders[0].amount',
      ],
      [
        'a negative amount',
        checkout({ payment_orders: [order('a', '1.00'), order('b', '-5.00')] }),
        'payment_orders[1].amount',
      ],
      ['a zero amount', checkout({ payment_orders: [order('a', '0.00')] }), 'payment_orders[0].amount'],
      ['an exponent amount', checkout({ payment_orders: [order('a', '1e3')] }), 'payment_orders[0].amount'],
      [
        'a duplicate payment_order_id',
        checkout({ payment_orders: [order('po_x', '1.00'), order('po_x', '2.00')] }),
        'payment_orders[1].payment_order_id',
      ],
      [
        'payment_order_id with a space',
        checkout({ payment_orders: [order('po 1', '1.00', 'seller_1')] }),
        'payment_orders[0].payment_order_id',
      ],
      [
        'seller_account with #',
        checkout({ payment_orders: [order('po_1', '1.00', 'sel#1')] }),
        'payment_orders[0].seller_account',
      ],
      ['an unknown top-level field', checkout({ coupon: 'FREE' }), '(body)'],
      ['an unknown field in buyer', checkout({ buyer: { id: 'b1', country: 'FR', email: 'a@b.c' } }), 'buyer'],
      [
        'an unknown field in an order',
        checkout({ payment_orders: [{ ...order('a', '1.00'), tip: '1.00' }] }),
        'payment_orders[0]',
      ],
      [
        'a checkout total above the maximum',
        checkout({ payment_orders: [order('a', '100000000000.00'), order('b', '0.01')] }),
        'payment_orders',
      ],
    ])('refuses %s with a 400 naming the field', (_label, body, field) => {
      // Act
      const error = rejection(body);

      // Assess
      expect(error.statusCode).toBe(400);
      expect(error.code).toBe('invalid_request');
      expect(error.message).toBe('the checkout is not valid');
      expect([...new Set(fields(error))]).toEqual([field]);
    });

    it('names the unknown field in the message', () => {
      const error = rejection(checkout({ coupon: 'FREE' }));
      expect(error.details.errors).toEqual([{ field: '(body)', message: 'unknown field: coupon' }]);
    });

    it('says a missing field is required', () => {
      const error = rejection(checkout({ checkout_id: undefined }));
      expect(error.details.errors).toEqual([{ field: 'checkout_id', message: 'checkout_id is required' }]);
    });

    it('explains a duplicate payment_order_id', () => {
      const error = rejection(checkout({ payment_orders: [order('po_x', '1.00'), order('po_x', '2.00')] }));
      expect(error.details.errors).toEqual([
        { field: 'payment_orders[1].payment_order_id', message: 'payment_order_id is repeated in this checkout' },
      ]);
    });

    it('explains a bad amount with the money rule', () => {
      const usd = rejection(checkout({ payment_orders: [order('a', '12.345')] }));
      const jpy = rejection(checkout({ currency: 'JPY', payment_orders: [order('a', '1.5')] }));
      const zero = rejection(checkout({ payment_orders: [order('a', '0')] }));
      expect(usd.details.errors).toEqual([
        { field: 'payment_orders[0].amount', message: 'amount USD allows at most 2 decimal places' },
      ]);
      expect(jpy.details.errors).toEqual([
        { field: 'payment_orders[0].amount', message: 'amount JPY allows at most 0 decimal places' },
      ]);
      expect(zero.details.errors).toEqual([
        { field: 'payment_orders[0].amount', message: 'amount must be greater than zero' },
      ]);
    });

    it('reports every problem of the checkout, not only the first', () => {
      // Act
      const schemaErrors = rejection(checkout({ checkout_id: 'a b', currency: 'usd', payment_method: 'x' }));
      const orderErrors = rejection(
        checkout({ payment_orders: [order('po_1', '1.001'), order('po_1', '-1'), order('po_3', '2.00')] }),
      );

      // Assess
      expect(fields(schemaErrors)).toEqual(['checkout_id', 'currency', 'payment_method']);
      expect(fields(orderErrors)).toEqual([
        'payment_orders[0].amount',
        'payment_orders[1].payment_order_id',
        'payment_orders[1].amount',
      ]);
    });

    it.each([
      ['a card_number field', checkout({ card_number: '4242 4242 4242 4242' }), 'card_number'],
      ['a card number in buyer.id', checkout({ buyer: { id: '4242424242424242', country: 'FR' } }), 'buyer.id'],
      [
        'a card number as a payment_order_id',
        checkout({ payment_orders: [order('4000-0000-0000-0002', '1.00')] }),
        'payment_orders[0].payment_order_id',
      ],
      ['a cvc field in buyer', checkout({ buyer: { id: 'b1', country: 'FR', cvc: '123' } }), 'buyer.cvc'],
      ['an Amex number as the checkout id', checkout({ checkout_id: '378282246310005' }), 'checkout_id'],
      ['a card number given as a JSON number', checkout({ checkout_id: 4242424242424242 }), 'checkout_id'],
    ])('refuses %s: card data is never accepted, and the digits are not echoed', (_label, body, field) => {
      // Act
      const error = rejection(body);

      // Assess
      expect(error.statusCode).toBe(400);
      expect(error.message).toMatch(/^card data is never accepted/);
      expect(error.details).toEqual({ errors: [{ field, message: 'looks like card data' }] });
      const shown = JSON.stringify({ message: error.message, details: error.details });
      expect(shown).not.toMatch(/\d{4}[ -]?\d{4}/);
      expect(shown).not.toMatch(/4242|378282|4000/);
    });

    it('checks card data before the schema, so even an otherwise invalid body is refused as card data', () => {
      const error = rejection({ pan: '4242424242424242', currency: 'nope' });
      expect(error.message).toMatch(/^card data is never accepted/);
      expect(error.details.errors).toEqual([{ field: 'pan', message: 'looks like card data' }]);
    });
  });

  describe('Schema: createPaymentSchema', () => {
    it('parses a valid checkout unchanged', () => {
      const body = checkout();
      expect(createPaymentSchema.parse(body)).toEqual(body);
    });

    it.each([
      ['checkout_id', checkout({ checkout_id: 'x#y' })],
      ['buyer.country', checkout({ buyer: { id: 'b', country: 'F1' } })],
      ['currency', checkout({ currency: 'ZZZ' })],
      ['payment_method', checkout({ payment_method: 'pm-visa' })],
      ['payment_orders[0].amount', checkout({ payment_orders: [order('a', 5)] })],
    ])('refuses a bad %s at the right path', (field, body) => {
      // Act
      const result = createPaymentSchema.safeParse(body);

      // Assess
      expect(result.success).toBe(false);
      const paths = result.error?.issues.map((issue) =>
        issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join(''),
      );
      expect(paths).toEqual([field]);
    });

    it('keeps the custom messages of the schema', () => {
      const result = createPaymentSchema.safeParse(checkout({ payment_method: 'tok_visa' }));
      expect(result.error?.issues.map((i) => i.message)).toEqual([
        'payment_method must be a PSP payment method token such as "pm_card_visa"',
      ]);
    });
  });
});
