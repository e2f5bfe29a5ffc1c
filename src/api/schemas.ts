/** Request schemas of the public API (zod), each exporting the schema and its inferred type. */
import * as z from 'zod';
import { isSupportedCurrency, MAX_MINOR_UNITS } from '../core/money';
import { IDENTIFIER_PATTERN, isCountryCode, MAX_ORDERS_PER_CHECKOUT } from './identifiers';

export { IDENTIFIER_PATTERN, ISO_3166_ALPHA2, isCountryCode, MAX_ORDERS_PER_CHECKOUT } from './identifiers';

/** Our own identifiers in request bodies: at most 128 characters of the identifier set. */
const identifier = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .max(128, `${what} must be at most 128 characters`)
    .regex(IDENTIFIER_PATTERN, `${what} may contain only letters, digits and _ . : -`);

export const createPaymentSchema = z
  .strictObject({
    checkout_id: identifier('checkout_id'),
    buyer: z.strictObject({
      id: identifier('buyer.id'),
      country: z
        .string({ error: 'buyer.country must be a string' })
        .refine(isCountryCode, 'buyer.country must be an ISO 3166-1 alpha-2 code such as "FR"'),
    }),
    currency: z
      .string({ error: 'currency must be a string' })
      .refine(isSupportedCurrency, 'currency must be a supported ISO 4217 code in upper case, such as "USD"'),
    /** A PSP payment-method token; without one, the buyer pays on the PSP's hosted payment page. */
    payment_method: z
      .string({ error: 'payment_method must be a string' })
      .regex(/^pm_[A-Za-z0-9_]{1,100}$/, 'payment_method must be a PSP payment method token such as "pm_card_visa"')
      .optional(),
    /** Where the buyer returns after the hosted page or 3-D Secure; required without payment_method. */
    return_url: z
      .url({ protocol: /^https?$/, error: 'return_url must be an http(s) URL' })
      .max(2000, 'return_url must be at most 2000 characters')
      .optional(),
    payment_orders: z
      .array(
        z.strictObject({
          payment_order_id: identifier('payment_order_id'),
          seller_account: identifier('seller_account'),
          // Parsed to minor units by the money module once the currency is known.
          amount: z.string({ error: 'amount must be a decimal string such as "12.34", not a number' }),
        }),
        { error: 'payment_orders must be an array' },
      )
      .min(1, 'payment_orders needs at least one payment order')
      .max(MAX_ORDERS_PER_CHECKOUT, `payment_orders allows at most ${MAX_ORDERS_PER_CHECKOUT} orders per checkout`),
  })
  .refine((request) => request.payment_method !== undefined || request.return_url !== undefined, {
    path: ['return_url'],
    message: 'return_url is required when no payment_method is given (the buyer pays on the hosted payment page)',
  });

export type CreatePaymentRequest = z.infer<typeof createPaymentSchema>;

export { MAX_MINOR_UNITS };
