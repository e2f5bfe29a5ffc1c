// Currency and amount rules Stripe applies to charges (a subset of its ~135 currencies).

import { invalidRequest } from './errors';

const SUPPORTED = new Set(
  (
    'usd aed aud brl cad chf cny czk dkk eur gbp hkd huf idr ils inr jpy krw mxn myr nok nzd php pln ron sar sek sgd ' +
    'thb try twd zar kwd bhd jod omr tnd clp vnd isk ugx xof xaf'
  ).split(' '),
);

const ZERO_DECIMAL = new Set(['jpy', 'krw', 'clp', 'vnd', 'isk', 'ugx', 'xof', 'xaf']);

/** Stripe takes three-decimal currencies in minor units whose last digit must be 0. */
const THREE_DECIMAL = new Set(['kwd', 'bhd', 'jod', 'omr', 'tnd']);

// Minimum charge amounts in the smallest unit (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
const MINIMUM_AMOUNT: Record<string, number> = Object.fromEntries(
  (
    'usd:50 aed:200 aud:50 brl:50 cad:50 chf:50 czk:1500 dkk:250 eur:50 gbp:30 hkd:400 huf:17500 inr:50 jpy:50 ' +
    'mxn:1000 myr:200 nok:300 nzd:50 pln:200 ron:200 sek:300 sgd:50 thb:1000'
  )
    .split(' ')
    .map((pair) => {
      const [currency, amount] = pair.split(':');
      return [currency, Number(amount)];
    }),
);

const MAXIMUM_AMOUNT = 99_999_999;

/** Stripe accepts any case and answers with the lowercase ISO code. */
export function normalizeCurrency(raw: string): string {
  const currency = raw.toLowerCase();
  if (!SUPPORTED.has(currency)) {
    throw invalidRequest(
      `Invalid currency: ${raw}. Stripe currently supports these currencies: ${[...SUPPORTED].join(', ')}`,
      { param: 'currency' },
    );
  }
  return currency;
}

export function assertChargeableAmount(amount: number, currency: string): void {
  const minimum = MINIMUM_AMOUNT[currency];
  if (minimum !== undefined && amount < minimum) {
    throw invalidRequest(`Amount must be at least ${formatAmount(minimum, currency)} ${currency}`, {
      param: 'amount',
      code: 'amount_too_small',
    });
  }
  if (THREE_DECIMAL.has(currency) && amount % 10 !== 0) {
    throw invalidRequest(
      `Amounts in ${currency} must be a multiple of 10 in the smallest unit (the last digit must be 0)`,
      {
        param: 'amount',
        code: 'invalid_amount',
      },
    );
  }
  if (amount > MAXIMUM_AMOUNT) {
    throw invalidRequest(`Amount must be no more than ${formatAmount(MAXIMUM_AMOUNT, currency)}`, {
      param: 'amount',
      code: 'amount_too_large',
    });
  }
}

/** How many decimals the currency's major unit has: 0 (jpy...), 3 (kwd...) or 2. */
export function currencyExponent(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  return THREE_DECIMAL.has(currency) ? 3 : 2;
}

/**
 * An amount in the smallest unit as a decimal string in major units, as Stripe's reports write amounts:
 * 1234 eur -> "12.34", -65 eur -> "-0.65", 1200 jpy -> "1200", 12340 kwd -> "12.340".
 */
export function majorUnits(amount: number, currency: string): string {
  const exponent = currencyExponent(currency);
  const digits = String(Math.abs(amount)).padStart(exponent + 1, '0');
  const sign = amount < 0 ? '-' : '';
  if (exponent === 0) return `${sign}${digits}`;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** An amount in the smallest unit as a display string, e.g. 2599 usd -> "$25.99". */
export function formatAmount(amount: number, currency: string): string {
  const units = ZERO_DECIMAL.has(currency) ? amount : amount / (THREE_DECIMAL.has(currency) ? 1000 : 100);
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(units);
}
