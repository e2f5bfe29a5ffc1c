/** Request schemas of the public API (zod), each exporting the schema and its inferred type. */
import * as z from 'zod';
import { isSupportedCurrency, MAX_MINOR_UNITS } from '../core/money';

/**
 * The characters of our identifiers, in bodies and in paths: letters, digits and `_ . : -`, starting with a letter or
 * a digit; no spaces, no `/`, no `#` (used in our table keys), no control characters.
 */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

/** Our own identifiers in request bodies: at most 128 characters of the identifier set. */
const identifier = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .max(128, `${what} must be at most 128 characters`)
    .regex(IDENTIFIER_PATTERN, `${what} may contain only letters, digits and _ . : -`);

/**
 * The officially assigned ISO 3166-1 alpha-2 codes (249), as the ISO 3166 Maintenance Agency lists them. Reserved
 * and user-assigned codes (UK, EU, XK, ZZ...) are not countries.
 */
export const ISO_3166_ALPHA2: ReadonlySet<string> = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO ' +
    'FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE ' +
    'JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO ' +
    'MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW ' +
    'PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM ' +
    'TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);

export const isCountryCode = (code: string): boolean => ISO_3166_ALPHA2.has(code);

export const MAX_ORDERS_PER_CHECKOUT = 40;

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
