/**
 * Money: decimal strings at the API, integer minor units inside, per ISO 4217 exponent.
 * Amounts are never floats. Minor units are kept as JS safe integers, bounded by MAX_MINOR_UNITS
 * (so any sum of a checkout's orders stays far below Number.MAX_SAFE_INTEGER).
 */

/** ISO 4217 currencies with an exponent other than 2. */
const EXPONENT_EXCEPTIONS: Record<string, number> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};

/** ISO 4217 currencies with the default exponent 2 that the platform accepts. */
const TWO_DECIMAL = (
  'AED AUD BGN BRL CAD CHF CNY CZK DKK EGP EUR GBP HKD HUF IDR ILS INR MAD MXN MYR NOK NZD PEN PHP PLN QAR RON ' +
  'SAR SEK SGD THB TRY TWD UAH USD ZAR'
).split(' ');

const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...Object.entries(EXPONENT_EXCEPTIONS),
  ...TWO_DECIMAL.map((code) => [code, 2] as [string, number]),
]);

/** Largest amount accepted in minor units (10^13: 100 billion USD, 10 trillion JPY). */
export const MAX_MINOR_UNITS = 10_000_000_000_000;

export class MoneyError extends Error {
  override readonly name = 'MoneyError';
}

export function isSupportedCurrency(code: string): boolean {
  return EXPONENTS.has(code);
}

export function currencyExponent(currency: string): number {
  const exponent = EXPONENTS.get(currency);
  if (exponent === undefined) throw new MoneyError(`unsupported currency '${currency}' (ISO 4217, upper case)`);
  return exponent;
}

const DECIMAL = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/**
 * Parses a positive decimal string ("12.34") into integer minor units for the currency.
 * Refuses anything that is not a plain string of digits with an optional fraction: numbers (floats),
 * signs, exponents, spaces, too many decimals, zero and absurd sizes.
 */
export function toMinorUnits(amount: unknown, currency: string): number {
  const exponent = currencyExponent(currency);
  if (typeof amount !== 'string') throw new MoneyError('must be a decimal string such as "12.34", not a number');
  const match = DECIMAL.exec(amount);
  if (!match) throw new MoneyError(`'${amount.slice(0, 32)}' is not a plain positive decimal such as "12.34"`);
  const whole = match[1] ?? '';
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) {
    throw new MoneyError(`${currency} allows at most ${exponent} decimal place${exponent === 1 ? '' : 's'}`);
  }
  if (whole.length > 16) throw new MoneyError('is too large');
  const minor = BigInt(whole) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');
  if (minor === 0n) throw new MoneyError('must be greater than zero');
  if (minor > BigInt(MAX_MINOR_UNITS)) throw new MoneyError('is too large');
  return Number(minor);
}

const SIGNED_DECIMAL = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/**
 * Parses a signed decimal string in major units ("-12.34", "0.00"), as the PSP's reports carry them, into integer
 * minor units. Unlike `toMinorUnits` (API input), zero and negatives are valid; the exponent rule is the same.
 */
export function signedMinorUnits(amount: string, currency: string): number {
  const exponent = currencyExponent(currency);
  const match = SIGNED_DECIMAL.exec(amount);
  if (!match) throw new MoneyError(`'${amount.slice(0, 32)}' is not a decimal such as "-12.34"`);
  const whole = match[2] ?? '';
  const fraction = match[3] ?? '';
  if (fraction.length > exponent) {
    throw new MoneyError(`${currency} allows at most ${exponent} decimal place${exponent === 1 ? '' : 's'}`);
  }
  if (whole.length > 16) throw new MoneyError('is too large');
  const minor = BigInt(whole) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');
  if (minor > BigInt(MAX_MINOR_UNITS)) throw new MoneyError('is too large');
  return match[1] === '-' && minor !== 0n ? -Number(minor) : Number(minor);
}

/** Formats integer minor units as a decimal string with exactly the currency's exponent of decimals. */
export function fromMinorUnits(minor: number, currency: string): string {
  const exponent = currencyExponent(currency);
  if (!Number.isSafeInteger(minor)) throw new MoneyError(`minor units must be a safe integer, got ${minor}`);
  const negative = minor < 0;
  const digits = Math.abs(minor)
    .toString()
    .padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = exponent > 0 ? `.${digits.slice(digits.length - exponent)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

/** Sums minor units, refusing anything that is not a safe integer. */
export function sumMinor(values: readonly number[]): number {
  let total = 0;
  for (const value of values) {
    if (!Number.isSafeInteger(value)) throw new MoneyError(`minor units must be a safe integer, got ${value}`);
    total += value;
    if (!Number.isSafeInteger(total)) throw new MoneyError('sum overflows the safe integer range');
  }
  return total;
}

/** A fee in basis points of an amount, rounded down (the seller never pays more than the rate). */
export function feeMinor(amountMinor: number, basisPoints: number): number {
  if (!Number.isSafeInteger(amountMinor) || amountMinor < 0) {
    throw new MoneyError(`minor units must be a non-negative safe integer, got ${amountMinor}`);
  }
  if (!Number.isInteger(basisPoints) || basisPoints < 0 || basisPoints > 10_000) {
    throw new MoneyError(`fee basis points must be an integer 0..10000, got ${basisPoints}`);
  }
  return Number((BigInt(amountMinor) * BigInt(basisPoints)) / 10_000n);
}
