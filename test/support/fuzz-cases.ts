/**
 * Generators of bad requests for the fuzz test (test/integration/fuzz.test.ts): each case is a plain description of
 * one HTTP request that the API must refuse, with why it is bad and what an acceptable answer looks like. Every case
 * breaks at least one rule of the API; a case that could be a valid request is never generated (the base checkouts
 * are valid, every mutation makes them invalid, and later mutations never undo earlier ones).
 *
 * Cases hold placeholders filled in when they are sent (see fuzz-http.ts), so a seed replays the same cases on any
 * stack: `{{DEV_KEY}}` (the stack's dev key), `{{DEV_KEY_WRONG_SECRET}}` (its key id with another secret),
 * `{{FRESH_KEY}}` (a new Idempotency-Key), `FZRUN` in identifiers (a fresh token, so a checkout or order id wrongly
 * accepted once cannot mask a later case with a 409), and webhook signatures computed at send time.
 */
import * as fc from 'fast-check';

export interface FuzzCase {
  /** The class of bad request (one fast-check property per class). */
  kind: string;
  /** What makes it bad. */
  why: string[];
  method: string;
  /** The request target, sent as is (no dot-segment or percent normalisation). */
  path: string;
  /** Header values (lower-case names); an absent name is not sent. */
  headers: Record<string, string>;
  body?: string;
  /** The raw body as hex, when it is not valid UTF-8. */
  bodyHex?: string;
  /** A Stripe-Signature built when the request is sent: `template` with `{t}` and `{sig}` filled in. */
  sign?: {
    /** `{{WEBHOOK_SECRET}}` (the stack's) or another secret. */
    secret: string;
    /** Seconds added to the clock for `{t}` (and the signed payload). */
    offsetSeconds: number;
    template: string;
    /** The body that was signed, when another one is sent (a tampered body). */
    signedBody?: string;
  };
  expect: {
    /** Acceptable statuses (all 4xx). */
    statuses: number[];
    /** A 400 must name one of these (in error.header, error.errors[].field or error.message), case-insensitive. */
    names: string[];
    /** Text that must never be echoed in the answer (card numbers). */
    noEcho?: string[];
  };
}

export const MAX_BODY_BYTES = 64 * 1024;
/** Depth past which a JSON body is refused. */
export const MAX_JSON_DEPTH = 32;

// ---------------------------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------------------------

const LOWER = 'abcdefghijklmnopqrstuvwxyz'.split('');
const DIGITS = '0123456789'.split('');
const HEX = '0123456789abcdef'.split('');

const letters = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...LOWER), minLength, maxLength });
const digits = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...DIGITS), minLength, maxLength });
const hex = (length: number) => fc.string({ unit: fc.constantFrom(...HEX), minLength: length, maxLength: length });

/** A payment id of the right shape that no payment has (letters only: no digit run that looks like a card). */
const unknownPaymentId = fc
  .string({ unit: fc.constantFrom(...'abcdef'.split('')), minLength: 32, maxLength: 32 })
  .map((h) => `pay_${h}`);

/** Our identifier rule (src/api/schemas.ts): what bad identifiers must break. */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
/** Anything that could be printed as a card number must not appear outside the card cases (logs are scanned). */
const LONG_DIGIT_RUN = /(?:\d\D{0,2}){13,}/;

const CURRENCIES: [string, number][] = [
  ['JPY', 0],
  ['KRW', 0],
  ['EUR', 2],
  ['USD', 2],
  ['GBP', 2],
  ['KWD', 3],
  ['BHD', 3],
  ['CLF', 4],
];
const COUNTRIES = ['FR', 'DE', 'US', 'JP', 'KW', 'GB', 'ES', 'IT'];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Path = (string | number)[];

interface Base {
  checkout: JsonObject;
  currency: string;
  exponent: number;
  mode: 'token' | 'hosted';
  orders: number;
}

/** A valid amount with exactly the currency's decimals ("12.34", "1234", "1.234"). */
function validAmountArb(exponent: number) {
  return fc
    .tuple(fc.integer({ min: 1, max: 99_999 }), fc.nat({ max: 10 ** exponent - 1 }))
    .map(([whole, fraction]) =>
      exponent === 0 ? String(whole) : `${whole}.${String(fraction).padStart(exponent, '0')}`,
    );
}

/** A valid checkout: ids carry FZRUN (a fresh token at send time), amounts the currency's exact decimals. */
const baseArb: fc.Arbitrary<Base> = fc
  .record({
    currency: fc.constantFrom(...CURRENCIES),
    checkout: letters(1, 10),
    buyer: letters(1, 10),
    country: fc.constantFrom(...COUNTRIES),
    mode: fc.constantFrom<'token' | 'hosted'>('token', 'hosted'),
    method: fc.constantFrom('pm_card_visa', 'pm_card_mastercard'),
    returnPath: letters(1, 10),
    orders: fc.integer({ min: 1, max: 3 }),
  })
  .chain((r) =>
    fc
      .array(fc.tuple(letters(1, 8), validAmountArb(r.currency[1])), { minLength: r.orders, maxLength: r.orders })
      .map((orders): Base => {
        const [currency, exponent] = r.currency;
        const checkoutId = `FZRUN_${r.checkout}`;
        const checkout: JsonObject = {
          checkout_id: checkoutId,
          buyer: { id: `FZRUN_buyer_${r.buyer}`, country: r.country },
          currency,
          ...(r.mode === 'token'
            ? { payment_method: r.method }
            : { return_url: `https://shop.example/return/${r.returnPath}` }),
          payment_orders: orders.map(([seller, amount], i) => ({
            payment_order_id: `${checkoutId}_po${i + 1}`,
            seller_account: `acct_${seller}`,
            amount,
          })),
        };
        return { checkout, currency, exponent, mode: r.mode, orders: orders.length };
      }),
  );

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The field path as the API prints it: `buyer.id`, `payment_orders[1].amount`; the root is `(body)`. */
export function fieldName(path: Path): string {
  const text = path.reduce<string>(
    (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
    '',
  );
  return text || '(body)';
}

const GENERIC = new Set(['id', '(body)']);
/** What a 400 may name for a problem at `path`: the path itself and its last key (unless too generic). */
function namesFor(path: Path): string[] {
  const last = [...path].reverse().find((p) => typeof p === 'string');
  const names = [fieldName(path)];
  if (path.length === 0) names.push('body');
  if (typeof last === 'string' && !GENERIC.has(last) && last !== names[0]) names.push(last);
  return names;
}

function getAt(root: Json, path: Path): Json | undefined {
  let node: Json | undefined = root;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, Json>)[part];
  }
  return node;
}

/** Sets (or with `undefined` deletes) the value at `path`; false when a parent is missing or not a container. */
function setAt(root: Json, path: Path, value: Json | undefined): boolean {
  if (path.length === 0) return false;
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1] as string | number;
  if (parent === null || typeof parent !== 'object' || parent === undefined) return false;
  if (value === undefined) {
    delete (parent as Record<string | number, Json>)[key];
  } else {
    // defineProperty: `__proto__` becomes an own (serialised) key, not the prototype.
    Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return true;
}

/** The string fields of a checkout, by path. */
function stringPaths(base: Base): Path[] {
  const paths: Path[] = [['checkout_id'], ['buyer', 'id'], ['buyer', 'country'], ['currency']];
  paths.push(base.mode === 'token' ? ['payment_method'] : ['return_url']);
  for (let i = 0; i < base.orders; i++) {
    paths.push(['payment_orders', i, 'payment_order_id'], ['payment_orders', i, 'seller_account']);
    paths.push(['payment_orders', i, 'amount']);
  }
  return paths;
}

/** The objects of a checkout where an unknown key can go. */
function objectPaths(base: Base): Path[] {
  const paths: Path[] = [[], ['buyer']];
  for (let i = 0; i < base.orders; i++) paths.push(['payment_orders', i]);
  return paths;
}

const pathIn = (paths: Path[]) => fc.constantFrom(...paths);

/** One change that makes a checkout invalid. */
interface Mutation {
  why: string;
  names: string[];
  apply(checkout: JsonObject): void;
  /** Text substituted for DEEP_SENTINEL after serialisation (too-deep JSON). */
  deep?: string;
  noEcho?: string[];
}

const DEEP_SENTINEL = '__FUZZ_DEEP_VALUE__';

// ---------------------------------------------------------------------------------------------------------------
// Checkout mutations
// ---------------------------------------------------------------------------------------------------------------

const KNOWN_KEYS = new Set([
  'checkout_id',
  'buyer',
  'currency',
  'payment_method',
  'return_url',
  'payment_orders',
  'id',
  'country',
  'payment_order_id',
  'seller_account',
  'amount',
]);

const notAString: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.constantFrom<Json>(true, false, null, [], ['x'], {}, { value: 'x' }),
);
const notAnObject: fc.Arbitrary<Json> = fc.oneof(
  fc.integer(),
  fc.constantFrom<Json>('x', '', true, false, null, [], [{}]),
);
const notAnArray: fc.Arbitrary<Json> = fc.oneof(fc.integer(), fc.constantFrom<Json>({}, { '0': {} }, '[]', true, null));

function wrongTypeArb(base: Base): fc.Arbitrary<Mutation> {
  const orderPaths: Path[] = [];
  for (let i = 0; i < base.orders; i++) orderPaths.push(['payment_orders', i]);
  return fc
    .oneof(
      fc.tuple(pathIn(stringPaths(base)), notAString).map(([path, value]) => ({ path, value, expected: 'a string' })),
      fc
        .tuple(fc.constant<Path>(['buyer']), notAnObject)
        .map(([path, value]) => ({ path, value, expected: 'an object' })),
      fc.tuple(pathIn(orderPaths), notAnObject).map(([path, value]) => ({ path, value, expected: 'an object' })),
      fc
        .tuple(fc.constant<Path>(['payment_orders']), notAnArray)
        .map(([path, value]) => ({ path, value, expected: 'an array' })),
    )
    .map(
      ({ path, value, expected }): Mutation => ({
        why: `${fieldName(path)} is ${JSON.stringify(value)}, not ${expected}`,
        names: namesFor(path),
        apply: (checkout) => {
          setAt(checkout, path, value);
        },
      }),
    );
}

/** Amounts the currency does not allow: too many decimals for its exponent, zero, signs, floats, junk, too large. */
function badAmountArb(base: Base): fc.Arbitrary<Mutation> {
  const e = base.exponent;
  const nonZeroDigit = fc.integer({ min: 1, max: 9 }).map(String);
  const whole = fc.integer({ min: 0, max: 99_999 }).map(String);
  const tooManyDecimals = fc
    .tuple(whole, fc.integer({ min: e + 1, max: e + 4 }), digits(0, 6), nonZeroDigit)
    .map(([w, n, ds, last]) => `${w}.${(ds + '0'.repeat(n)).slice(0, n - 1)}${last}`);
  const zero = fc.constantFrom('0', '00', ...(e > 0 ? [`0.${'0'.repeat(e)}`] : []), '0.', '.0', '-0');
  const tooLarge = fc.oneof(
    // More than 10^13 minor units.
    fc.integer({ min: 1, max: 9_999 }).map((k) => String(10 ** (13 - e) + k)),
    digits(17, 24).map((d) => `9${d}`),
  );
  const malformed = fc.constantFrom(
    '',
    ' ',
    '-5',
    '-0.01',
    '+5',
    '1e3',
    '1E2',
    '1e-2',
    ' 5',
    '5 ',
    '5\n',
    '05',
    '.5',
    '5.',
    '5,00',
    '5.0.0',
    '1_000',
    '0x10',
    'NaN',
    'Infinity',
    '-Infinity',
    'null',
    'five',
    '\uff15',
    '\u0665',
    '5\u00a0',
    '\u20ac5',
    '5 EUR',
    '$5',
  );
  const amountOf = fc.oneof(
    { arbitrary: tooManyDecimals, weight: 4 },
    { arbitrary: zero, weight: 1 },
    { arbitrary: tooLarge, weight: 1 },
    { arbitrary: malformed, weight: 3 },
  );
  const single = fc.tuple(fc.integer({ min: 0, max: base.orders - 1 }), amountOf).map(([i, amount]): Mutation => {
    const path: Path = ['payment_orders', i, 'amount'];
    return {
      why: `${fieldName(path)} "${amount}" is not a valid ${base.currency} amount (${e} decimals)`,
      names: [...namesFor(path)],
      apply: (checkout) => {
        setAt(checkout, path, amount);
      },
    };
  });
  // Each order at the maximum: the total is too large.
  const max = e === 0 ? String(10 ** 13) : `${10 ** (13 - e)}.${'0'.repeat(e)}`;
  const total: fc.Arbitrary<Mutation> = fc.constant({
    why: `two orders of ${max} ${base.currency}: the total exceeds the maximum`,
    names: ['payment_orders', 'amount', 'total'],
    apply: (checkout) => {
      const orders = checkout.payment_orders;
      const first = Array.isArray(orders) ? orders[0] : undefined;
      // After another mutation broke the orders, that one already makes the checkout invalid.
      if (!first || typeof first !== 'object' || Array.isArray(first)) return;
      checkout.payment_orders = [
        { ...first, amount: max },
        { ...first, payment_order_id: `${String(first.payment_order_id)}_x`, amount: max },
      ];
    },
  });
  return fc.oneof({ arbitrary: single, weight: 9 }, { arbitrary: total, weight: 1 });
}

const unknownKeyArb = fc.oneof(
  { arbitrary: letters(1, 12).filter((k) => !KNOWN_KEYS.has(k)), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      'Checkout_Id',
      'CURRENCY',
      'checkout_id ',
      ' currency',
      'amount\u0000',
      'buyer.id',
      'payment_orders[0]',
      '$where',
      'metadata',
      'status',
      'payment_id',
      'fee',
      'amount_minor',
    ),
    weight: 3,
  },
  { arbitrary: fc.constantFrom('', ' ', '\t', '\u00e9', '\ud83d\udcb3'), weight: 1 },
);

/** A small JSON value (no digit runs that could look like a card number). */
const smallJson: fc.Arbitrary<Json> = fc
  .jsonValue({ maxDepth: 2 })
  .filter((v) => !LONG_DIGIT_RUN.test(JSON.stringify(v))) as fc.Arbitrary<Json>;

function unknownFieldArb(base: Base): fc.Arbitrary<Mutation> {
  return fc
    .tuple(pathIn(objectPaths(base)), unknownKeyArb, smallJson)
    .filter(([path, key]) => !(path.length === 0 && KNOWN_KEYS.has(key)))
    .filter(([path, key]) => {
      // A known key at the wrong level is still unknown there; only the right level's own keys are excluded.
      const own =
        path.length === 0
          ? []
          : path[0] === 'buyer'
            ? ['id', 'country']
            : Object.keys((base.checkout.payment_orders as JsonObject[])[0] as JsonObject);
      return !own.includes(key);
    })
    .map(([path, key, value]): Mutation => {
      const names = namesFor(path);
      if (key.trim() && key !== '__proto__') names.push(key.trim());
      return {
        why: `unknown field ${JSON.stringify(key)} in ${fieldName(path)}`,
        names,
        apply: (checkout) => {
          setAt(checkout, [...path, key], value);
        },
      };
    });
}

function missingFieldArb(base: Base): fc.Arbitrary<Mutation> {
  const required: Path[] = [['checkout_id'], ['buyer'], ['buyer', 'id'], ['buyer', 'country'], ['currency']];
  required.push(['payment_orders']);
  for (let i = 0; i < base.orders; i++) {
    for (const key of ['payment_order_id', 'seller_account', 'amount']) required.push(['payment_orders', i, key]);
  }
  const field = pathIn(required).map(
    (path): Mutation => ({
      why: `${fieldName(path)} is missing`,
      names: namesFor(path),
      apply: (checkout) => {
        setAt(checkout, path, undefined);
      },
    }),
  );
  // Without a payment method the buyer pays on the hosted page, which needs a return_url.
  const neither: Mutation = {
    why: 'neither payment_method nor return_url',
    names: ['return_url', 'payment_method'],
    apply: (checkout) => {
      delete checkout.payment_method;
      delete checkout.return_url;
    },
  };
  const emptyOrders: Mutation = {
    why: 'payment_orders is empty',
    names: ['payment_orders'],
    apply: (checkout) => {
      checkout.payment_orders = [];
    },
  };
  const emptyBody: Mutation = {
    why: 'the body is {}',
    names: ['checkout_id', 'buyer', 'currency', 'payment_orders', 'body'],
    apply: (checkout) => {
      for (const key of Object.keys(checkout)) delete checkout[key];
    },
  };
  return fc.oneof(
    { arbitrary: field, weight: 8 },
    { arbitrary: fc.constantFrom(neither, emptyOrders, emptyBody), weight: 2 },
  );
}

/** Identifiers, countries, currencies, payment methods and return URLs of the wrong format. */
function badValueArb(base: Base): fc.Arbitrary<Mutation> {
  const identifierPaths: Path[] = [['checkout_id'], ['buyer', 'id']];
  for (let i = 0; i < base.orders; i++) {
    identifierPaths.push(['payment_orders', i, 'payment_order_id'], ['payment_orders', i, 'seller_account']);
  }
  const badIdentifier = fc.oneof(
    fc.constantFrom(
      '',
      ' ',
      'a b',
      'a#b',
      'a/b',
      '../x',
      '..',
      '-x',
      '.x',
      '_x',
      ':x',
      '\u00e9t\u00e9',
      'a\u0000b',
      'a\nb',
      'a\r\nb',
      'a%2Fb',
      '\u202eabc',
      'a\\b',
      '<script>',
      "a'b",
      'a;b',
      'a,b',
      '\ud83d\udcb3',
    ),
    fc.integer({ min: 129, max: 400 }).map((n) => 'a'.repeat(n)),
    fc
      .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 })
      .filter((s) => !IDENTIFIER.test(s) && !LONG_DIGIT_RUN.test(s)),
  );
  const identifier = fc.tuple(pathIn(identifierPaths), badIdentifier);
  const country = fc.tuple(
    fc.constant<Path>(['buyer', 'country']),
    // User-assigned codes (never a country) and format errors.
    fc.constantFrom('ZZ', 'XX', 'AA', 'QM', 'QZ', 'XA', 'XZ', 'fr', 'Fr', 'FRA', 'F', '', '12', 'F1', ' FR', 'FR '),
  );
  const currency = fc.tuple(
    fc.constant<Path>(['currency']),
    fc.constantFrom('eur', 'Eur', 'EURO', 'EU', 'XXX', 'ZZZ', '', ' EUR', 'EUR ', 'BTC', 'XAU', '\u20ac', 'E1R'),
  );
  const method = fc.tuple(
    fc.constant<Path>(['payment_method']),
    fc.constantFrom(
      'card_visa',
      'pm_',
      'pm-card',
      'PM_card_visa',
      'pm_card visa',
      `pm_${'a'.repeat(101)}`,
      'tok_visa',
      '',
      'pm_card_visa\n',
      'pm_card_visa;',
    ),
  );
  const returnUrl = fc.tuple(
    fc.constant<Path>(['return_url']),
    fc.constantFrom(
      'ftp://shop.example/return',
      'javascript:alert(1)',
      'not a url',
      '',
      `https://shop.example/${'a'.repeat(2000)}`,
      'shop.example/return',
      'data:text/html,x',
      'file:///etc/passwd',
      'http://',
      'mailto:a@b.example',
    ),
  );
  const options: fc.Arbitrary<[Path, string]>[] = [identifier, country, currency];
  options.push(base.mode === 'token' ? method : returnUrl);
  return fc.oneof(...options).map(
    ([path, value]): Mutation => ({
      why: `${fieldName(path)} ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...(${value.length})` : value)} has the wrong format`,
      names: namesFor(path),
      apply: (checkout) => {
        setAt(checkout, path, value);
      },
    }),
  );
}

// Card numbers --------------------------------------------------------------------------------------------------

/** Completes 15 digits with their Luhn check digit. */
export function withLuhnDigit(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = payload.charCodeAt(payload.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return `${payload}${(10 - (sum % 10)) % 10}`;
}

/** Luhn-valid 16-digit numbers in the card brands' ranges (2, 4, 5, 6). */
const cardDigitsArb = fc
  .tuple(fc.constantFrom('2', '4', '5', '6'), digits(14, 14))
  .map(([first, rest]) => withLuhnDigit(first + rest));

export const CLASSIC_SEPARATORS = ['', ' ', '-', '.', '_', ':', '/'];
export const UNUSUAL_SEPARATORS = ['--', '  ', 'x', ' - ', '\t', '*', '|', ',', '+', '\n', '. ', '#', '~', '\u00a0'];

/**
 * A card number as people type it: groups of 4 with one separator (any, letters included: "4242x4242x4242x4242"), or
 * a separator between every two digits (not letters there: "4a2b4c2d..." is not a card number's shape).
 */
function formattedCardArb(separators: string[]) {
  const sep = fc.constantFrom(...separators);
  const notLetter = fc.constantFrom(...separators.filter((s) => !/\p{L}/u.test(s)));
  return fc
    .record({
      digits: cardDigitsArb,
      style: fc.constantFrom('groups of 4', 'every digit'),
      group: sep,
      gaps: fc.array(notLetter, { minLength: 15, maxLength: 15 }),
    })
    .map(({ digits: d, style, group, gaps }) => {
      const text =
        style === 'groups of 4'
          ? [d.slice(0, 4), d.slice(4, 8), d.slice(8, 12), d.slice(12)].join(group)
          : d
              .split('')
              .map((c, i) => (i === 0 ? c : `${gaps[i - 1]}${c}`))
              .join('');
      return { digits: d, text };
    });
}

function cardNumberArb(base: Base, separators: string[]): fc.Arbitrary<Mutation> {
  const card = formattedCardArb(separators);
  // Letters around the number, apart from it (never digits: they would make another, longer run).
  const around = fc.tuple(letters(0, 4), fc.constantFrom(' ', '_', '-', '=', ':'), letters(0, 4));
  const noEcho = (c: { digits: string; text: string }) => [c.digits, c.text, JSON.stringify(c.text).slice(1, -1)];
  const inField = fc.tuple(pathIn(stringPaths(base)), card, around).map(([path, c, [pre, sep, post]]): Mutation => {
    const value =
      path[path.length - 1] === 'return_url'
        ? `https://shop.example/return?ref=${c.text}${post ? `&n=${post}` : ''}`
        : `${pre}${pre ? sep : ''}${c.text}${post ? sep : ''}${post}`;
    return {
      why: `card number ${JSON.stringify(c.text)} in ${fieldName(path)}`,
      names: namesFor(path),
      noEcho: noEcho(c),
      apply: (checkout) => {
        setAt(checkout, path, value);
      },
    };
  });
  const noteKey = letters(3, 10).filter((k) => !KNOWN_KEYS.has(k));
  const inUnknownField = fc
    .tuple(pathIn(objectPaths(base)), noteKey, card, fc.constantFrom('value', 'array', 'object'))
    .map(([path, key, c, shape]): Mutation => {
      const value: Json = shape === 'value' ? c.text : shape === 'array' ? ['x', c.text] : { ref: { note: c.text } };
      return {
        why: `card number ${JSON.stringify(c.text)} in the unknown field ${fieldName([...path, key])} (${shape})`,
        names: [...namesFor(path), key],
        noEcho: noEcho(c),
        apply: (checkout) => {
          setAt(checkout, [...path, key], value);
        },
      };
    });
  const asKey = fc.tuple(pathIn(objectPaths(base)), card).map(
    ([path, c]): Mutation => ({
      why: `card number ${JSON.stringify(c.text)} as a field name in ${fieldName(path)}`,
      names: [...namesFor(path), 'field name'],
      noEcho: noEcho(c),
      apply: (checkout) => {
        setAt(checkout, [...path, c.text], 'x');
      },
    }),
  );
  const asNumber = fc.tuple(pathIn(objectPaths(base)), noteKey, cardDigitsArb).map(
    ([path, key, d]): Mutation => ({
      why: `card number ${d} as a JSON number in the unknown field ${fieldName([...path, key])}`,
      names: [...namesFor(path), key],
      noEcho: [d],
      apply: (checkout) => {
        setAt(checkout, [...path, key], Number(d));
      },
    }),
  );
  const options = [
    { arbitrary: inField, weight: 6 },
    { arbitrary: inUnknownField, weight: 2 },
    { arbitrary: asKey, weight: 1 },
  ];
  if (separators.includes('')) options.push({ arbitrary: asNumber, weight: 1 });
  return fc.oneof(...options);
}

// Too-deep JSON ---------------------------------------------------------------------------------------------------

const depthArb = fc.oneof(
  { arbitrary: fc.integer({ min: MAX_JSON_DEPTH + 1, max: 64 }), weight: 4 },
  { arbitrary: fc.integer({ min: 65, max: 2_000 }), weight: 3 },
  { arbitrary: fc.integer({ min: 2_001, max: 10_000 }), weight: 2 },
);

/** JSON text nested `depth` levels deep (arrays, objects or both). */
export function deepJson(depth: number, shape: 'array' | 'object' | 'mixed'): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    const array = shape === 'array' || (shape === 'mixed' && i % 2 === 0);
    open += array ? '[' : '{"a":';
    close += array ? ']' : '}';
  }
  return `${open}1${close}`;
}

function deepArb(base: Base): fc.Arbitrary<Mutation> {
  const where = fc.oneof(
    pathIn(stringPaths(base)).map((path) => ({ path, what: 'as the value of' })),
    fc.tuple(pathIn(objectPaths(base)), letters(3, 8)).map(([path, key]) => ({
      path: [...path, `x${key}`],
      what: 'in the unknown field',
    })),
    fc.constant({ path: ['payment_orders', base.orders] as Path, what: 'as an extra element of' }),
    fc.constant({ path: ['buyer'] as Path, what: 'as the value of' }),
  );
  return fc.tuple(where, depthArb, fc.constantFrom<'array' | 'object' | 'mixed'>('array', 'object', 'mixed')).map(
    ([{ path, what }, depth, shape]): Mutation => ({
      why: `JSON ${depth} levels deep (${shape}) ${what} ${fieldName(path)}`,
      names: [...namesFor(path), 'body', 'depth', 'deep', 'nest'],
      deep: deepJson(depth, shape),
      apply: (checkout) => {
        setAt(checkout, path, DEEP_SENTINEL);
      },
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

const JSON_HEADERS = { 'content-type': 'application/json' };
const AUTHORIZED = { authorization: 'Bearer {{DEV_KEY}}' };

function postPayment(
  kind: string,
  why: string[],
  body: string,
  names: string[],
  extra: { headers?: Record<string, string>; noEcho?: string[]; statuses?: number[] } = {},
): FuzzCase {
  const large = Buffer.byteLength(body) > MAX_BODY_BYTES;
  return {
    kind,
    why,
    method: 'POST',
    path: '/v1/payments',
    headers: extra.headers ?? { ...AUTHORIZED, ...JSON_HEADERS, 'idempotency-key': '{{FRESH_KEY}}' },
    body,
    expect: {
      statuses: extra.statuses ?? (large ? [400, 413] : [400]),
      names,
      ...(extra.noEcho ? { noEcho: extra.noEcho } : {}),
    },
  };
}

function checkoutCase(kind: string, base: Base, mutations: Mutation[]): FuzzCase {
  const checkout = clone(base.checkout);
  for (const m of mutations) m.apply(checkout);
  let body = JSON.stringify(checkout);
  const deep = mutations.find((m) => m.deep)?.deep;
  if (deep) body = body.replace(JSON.stringify(DEEP_SENTINEL), deep);
  const noEcho = mutations.flatMap((m) => m.noEcho ?? []);
  return postPayment(
    kind,
    mutations.map((m) => m.why),
    body,
    [...new Set(mutations.flatMap((m) => m.names))],
    noEcho.length > 0 ? { noEcho } : {},
  );
}

const validBodyArb = baseArb.map((b) => JSON.stringify(b.checkout));

/** Bodies that are not a JSON object: broken syntax, other JSON values, bad bytes, too large. */
function malformedArb(): fc.Arbitrary<FuzzCase> {
  const names = ['body', 'json'];
  const make = (why: string, body: string, statuses?: number[]) =>
    postPayment('checkout.malformed-json', [why], body, names, statuses ? { statuses } : {});
  const truncated = fc.tuple(validBodyArb, fc.double({ min: 0, max: 1, noNaN: true })).map(([text, f]) => {
    const cut = Math.min(text.length - 1, Math.floor(f * text.length));
    return make(`the JSON is cut after ${cut} of ${text.length} characters`, text.slice(0, cut));
  });
  const inserted = fc
    .tuple(
      validBodyArb,
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', "'", '\u0001', 'x', '}{', ',,', '/*'),
    )
    .map(([text, f, junk]) => {
      const at = Math.floor(f * text.length);
      return { text: `${text.slice(0, at)}${junk}${text.slice(at)}`, at, junk };
    })
    .filter(({ text }) => !parses(text))
    .map(({ text, at, junk }) => make(`${JSON.stringify(junk)} inserted at ${at}`, text));
  const rewritten = fc
    .tuple(
      validBodyArb,
      fc.constantFrom(
        'trailing comma',
        'single quotes',
        'unquoted key',
        'comment',
        'NaN amount',
        'trailing garbage',
        'two objects',
        'leading garbage',
        'invalid escape',
        'raw control character',
        'hex number',
      ),
    )
    .map(([text, how]) => {
      const edits: Record<string, () => string> = {
        'trailing comma': () => `${text.slice(0, -1)},}`,
        'single quotes': () => text.replace(/"/g, "'"),
        'unquoted key': () => text.replace('"checkout_id":', 'checkout_id:'),
        comment: () => `/* checkout */${text}`,
        'NaN amount': () => text.replace(/"amount":"[^"]*"/, '"amount":NaN'),
        'trailing garbage': () => `${text}x`,
        'two objects': () => `${text}${text}`,
        'leading garbage': () => `)]}',\n${text}`,
        'invalid escape': () => text.replace('"FZRUN', '"\\qFZRUN'),
        'raw control character': () => text.replace('FZRUN', 'FZ\u0001RUN'),
        'hex number': () => text.replace(/"amount":"[^"]*"/, '"amount":0x10'),
      };
      return make(`JSON with a ${how}`, (edits[how] as () => string)());
    });
  const notObject = fc
    .constantFrom('null', 'true', 'false', '0', '-1', '1.5', '"checkout"', '""', '[]', '[{}]', '[null]')
    .map((body) => make(`the body is ${body}, not an object`, body));
  const wrapped = validBodyArb.map((text) => make('the checkout wrapped in an array', `[${text}]`));
  const empty = fc
    .constantFrom('', ' ', '\n', '\t\r\n')
    .map((body) => make(`the body is ${JSON.stringify(body)}`, body));
  const badBytes = fc
    .tuple(validBodyArb, fc.constantFrom('ff', 'c0af', 'fe', 'eda080', '80'))
    .map(([text, bytes]): FuzzCase => {
      const hexBody = `7b${bytes}${Buffer.from(text.slice(1)).toString('hex')}`;
      return { ...make(`invalid UTF-8 (0x${bytes}) after the opening brace`, ''), body: undefined, bodyHex: hexBody };
    });
  const tooLarge = fc
    .tuple(validBodyArb, fc.integer({ min: MAX_BODY_BYTES + 1, max: MAX_BODY_BYTES + 4096 }))
    .map(([text, size]) =>
      make(
        `a valid checkout padded to ${size} bytes`,
        `${text.slice(0, -1)}${' '.repeat(size - text.length)}}`,
        [413, 400],
      ),
    );
  return fc.oneof(
    { arbitrary: truncated, weight: 3 },
    { arbitrary: inserted, weight: 3 },
    { arbitrary: rewritten, weight: 3 },
    { arbitrary: notObject, weight: 2 },
    { arbitrary: wrapped, weight: 1 },
    { arbitrary: empty, weight: 1 },
    { arbitrary: badBytes, weight: 1 },
    { arbitrary: tooLarge, weight: 1 },
  );
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const mutationKinds: Record<string, (base: Base) => fc.Arbitrary<Mutation>> = {
  'wrong type': wrongTypeArb,
  'bad amount': badAmountArb,
  'unknown field': unknownFieldArb,
  'missing field': missingFieldArb,
  'bad value': badValueArb,
  'card number': (base) => cardNumberArb(base, CLASSIC_SEPARATORS),
  'too deep': deepArb,
};

function singleMutation(kind: string, mutation: (base: Base) => fc.Arbitrary<Mutation>): fc.Arbitrary<FuzzCase> {
  return baseArb.chain((base) => mutation(base).map((m) => checkoutCase(kind, base, [m])));
}

/** Two or three mutations of different kinds at once (at most one too-deep value). */
const combinedArb: fc.Arbitrary<FuzzCase> = baseArb.chain((base) =>
  fc
    .uniqueArray(fc.constantFrom(...Object.keys(mutationKinds)), { minLength: 2, maxLength: 3 })
    .chain(
      (names) =>
        fc.tuple(...names.map((n) => (mutationKinds[n] as (b: Base) => fc.Arbitrary<Mutation>)(base))) as fc.Arbitrary<
          Mutation[]
        >,
    )
    .map((mutations) => checkoutCase('checkout.combined', base, mutations)),
);

// Headers -----------------------------------------------------------------------------------------------------------

const contentTypeArb: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    validBodyArb,
    fc.constantFrom(
      null,
      '',
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=fz',
      'application/xml',
      'text/html',
      'application/octet-stream',
      'application/jsonp',
      'application/javascript',
      'image/png',
      'json',
      'application',
      '*/*',
    ),
  )
  .map(([body, type]) => {
    const headers: Record<string, string> = { ...AUTHORIZED, 'idempotency-key': '{{FRESH_KEY}}' };
    if (type !== null) headers['content-type'] = type;
    return postPayment(
      'header.content-type',
      [type === null ? 'no Content-Type' : `Content-Type ${JSON.stringify(type)}`],
      body,
      ['content-type'],
      { headers, statuses: [415, 400] },
    );
  });

const idempotencyKeyArb: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    validBodyArb,
    fc.oneof(
      fc.constantFrom(null, '', '   ', 'ab cd', 'ab\tcd', 'cl\u00e9', '\u00ff\u00fe', 'a b c'),
      fc.integer({ min: 256, max: 600 }).map((n) => 'k'.repeat(n)),
      fc
        .tuple(letters(1, 20), fc.constantFrom(' ', '\t', '\u00a0', '\u00e9'), letters(1, 20))
        .map(([a, s, b]) => `${a}${s}${b}`),
    ),
  )
  .map(([body, key]) => {
    const headers: Record<string, string> = { ...AUTHORIZED, ...JSON_HEADERS };
    if (key !== null) headers['idempotency-key'] = key;
    const shown = key === null ? 'no Idempotency-Key' : `Idempotency-Key ${JSON.stringify(key.slice(0, 40))}`;
    return postPayment(
      'header.idempotency-key',
      [key !== null && key.length > 40 ? `${shown}...(${key.length})` : shown],
      body,
      ['idempotency-key'],
      { headers },
    );
  });

const authorizationArb: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    fc.oneof(
      { arbitrary: fc.constantFrom(null, '', 'Bearer', 'Bearer ', 'Bearer  ', 'bearer'), weight: 3 },
      {
        arbitrary: fc.constantFrom(
          '{{DEV_KEY}}',
          'Token {{DEV_KEY}}',
          'Basic {{DEV_KEY}}',
          'Bearer {{DEV_KEY}}x',
          'Bearer x{{DEV_KEY}}',
          'Bearer {{DEV_KEY}} {{DEV_KEY}}',
          'Bearer {{DEV_KEY}},{{DEV_KEY}}',
          'Bearer {{DEV_KEY_UPPER}}',
          'Bearer sk_test_integration_simulator',
        ),
        weight: 4,
      },
      // Same key id, another secret: the authorizer runs scrypt for each, so fewer of them.
      { arbitrary: fc.constant('Bearer {{DEV_KEY_WRONG_SECRET}}'), weight: 1 },
      {
        arbitrary: fc
          .tuple(
            hex(16),
            fc.string({ unit: fc.constantFrom(...'abcXYZ019_-'.split('')), minLength: 43, maxLength: 43 }),
          )
          .map(([id, secret]) => `Bearer mpk_${id}_${secret}`),
        weight: 3,
      },
      {
        arbitrary: fc
          .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 60 })
          .filter((s) => !LONG_DIGIT_RUN.test(s))
          .map((s) => `Bearer ${s}`),
        weight: 2,
      },
      {
        arbitrary: fc
          .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 60 })
          .filter((s) => !LONG_DIGIT_RUN.test(s) && !s.trim().toLowerCase().startsWith('bearer')),
        weight: 1,
      },
    ),
    fc.constantFrom('create', 'payment', 'ledger', 'wallet', 'review'),
    baseArb,
    unknownPaymentId,
  )
  .map(([auth, route, base, paymentId]): FuzzCase => {
    const headers: Record<string, string> = {};
    if (auth !== null) headers.authorization = auth;
    const why = [auth === null ? 'no Authorization' : `Authorization ${JSON.stringify(auth)}`];
    const expect = { statuses: [401, 403, 400], names: ['authorization'] };
    const kind = 'header.authorization';
    switch (route) {
      case 'create':
        return {
          kind,
          why,
          method: 'POST',
          path: '/v1/payments',
          headers: { ...headers, ...JSON_HEADERS, 'idempotency-key': '{{FRESH_KEY}}' },
          body: JSON.stringify(base.checkout),
          expect,
        };
      case 'review':
        return {
          kind,
          why,
          method: 'POST',
          path: `/v1/payments/${paymentId}/review`,
          headers: { ...headers, ...JSON_HEADERS },
          body: '{"decision":"approve"}',
          expect,
        };
      default: {
        const path = {
          payment: `/v1/payments/${paymentId}`,
          ledger: `/v1/payments/${paymentId}/ledger`,
          wallet: '/v1/wallets/acct_fuzz',
        }[route];
        return { kind, why, method: 'GET', path, headers, expect };
      }
    }
  });

// Paths -------------------------------------------------------------------------------------------------------------

/** Path segments no payment id or seller account can be (all ASCII-printable, so they are sent as they are). */
const badSegmentArb = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      '..',
      '.',
      '..%2F..%2Fwallets%2Fx',
      '..%2f',
      '%2E%2E',
      '%2e%2e%2f%2e%2e',
      'a%2Fb',
      '..%5C..%5C',
      '%0D%0A',
      'a%0D%0AX-Injected:%201',
      'a%0Ab',
      '%00',
      'a%00b',
      '%',
      '%Z',
      '%ZZ',
      'a%E0%A4%A',
      '%C0%AF',
      '%FF',
      '%ED%A0%80',
      '%C3%A9',
      '%F0%9F%92%B3',
      'a%20b',
      '%20',
      'a%23b',
      'a%3Fb',
      "a'b",
      'a;b',
      'a%3Cb%3E',
      '-x',
      '.x',
      '_x',
      '%25',
      'a%25b',
      '~',
      '*',
      'a,b',
      '$x',
      'a%09b',
    ),
    weight: 6,
  },
  // Longer than any identifier (path ids allow up to 255 characters).
  { arbitrary: fc.integer({ min: 256, max: 400 }).map((n) => 'a'.repeat(n)), weight: 1 },
  { arbitrary: fc.constant(`pay_${'0'.repeat(296)}`), weight: 1 },
  {
    arbitrary: fc
      .string({ unit: 'binary', minLength: 1, maxLength: 24 })
      .filter((s) => !IDENTIFIER.test(s) && !LONG_DIGIT_RUN.test(s))
      .map((s) => encodeURIComponent(s)),
    weight: 3,
  },
);

const badPathArb: fc.Arbitrary<FuzzCase> = fc
  .tuple(fc.constantFrom('payment', 'ledger', 'wallet', 'review'), badSegmentArb)
  .map(([route, segment]): FuzzCase => {
    const param = route === 'wallet' ? 'seller_account' : 'payment_id';
    const path = {
      payment: `/v1/payments/${segment}`,
      ledger: `/v1/payments/${segment}/ledger`,
      wallet: `/v1/wallets/${segment}`,
      review: `/v1/payments/${segment}/review`,
    }[route];
    // A dot segment changes the route itself (URLs are resolved): no route is a 403 (API Gateway) or 404.
    const rerouted = new URL(path, 'http://localhost').pathname !== path;
    const expect = { statuses: rerouted ? [400, 403, 404] : [400, 404], names: [param, 'path'] };
    const why = [`${param} ${JSON.stringify(segment.length > 60 ? `${segment.slice(0, 60)}...` : segment)}`];
    return route === 'review'
      ? {
          kind: 'path.bad-id',
          why,
          method: 'POST',
          path,
          headers: { ...AUTHORIZED, ...JSON_HEADERS },
          body: '{"decision":"approve"}',
          expect,
        }
      : { kind: 'path.bad-id', why, method: 'GET', path, headers: { ...AUTHORIZED }, expect };
  });

const unknownRouteArb: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    fc.oneof(
      fc
        .constantFrom<[string, string]>(
          ['GET', '/v1/payments'],
          ['DELETE', '/v1/payments/pay_x'],
          ['PUT', '/v1/payments'],
          ['PATCH', '/v1/payments/pay_x'],
          ['PATCH', '/v1/wallets/acct_x'],
          ['POST', '/v1/wallets/acct_x'],
          ['GET', '/v1/webhooks/psp'],
          ['DELETE', '/v1/webhooks/psp'],
          ['GET', '/v2/payments/pay_x'],
          ['GET', '/'],
          ['GET', '/v1'],
          ['GET', '/v1/'],
          ['GET', '/v1/payments/pay_x/refunds'],
          ['DELETE', '/v1/payments/pay_x/refunds'],
          ['POST', '/v1/refunds/rf_x'],
          ['DELETE', '/v1/sellers/acct_x'],
          ['PUT', '/v1/payouts/po_x'],
          ['POST', '/v1/disputes'],
          ['GET', '/v1/payments/pay_x/review'],
          ['GET', '/V1/PAYMENTS/pay_x'],
          ['GET', '/v1/payments/pay_x/ledger/x'],
          ['GET', '/v1/wallets'],
          ['GET', '/v1/wallets/'],
          ['GET', '/v1/payments//ledger'],
          ['TRACE', '/v1/payments'],
        )
        .map(([method, path]): [string, string, string] => [method, path, `${method} ${path} is not a route`]),
      fc
        .tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), letters(1, 12))
        .filter(([, name]) => !['payments', 'wallets', 'webhooks'].includes(name))
        .map(([method, name]): [string, string, string] => [method, `/v1/${name}`, `${method} of an unknown /v1 path`]),
    ),
  )
  .map(
    ([[method, path, why]]): FuzzCase => ({
      kind: 'path.unknown-route',
      why: [why],
      method,
      path,
      headers: { ...AUTHORIZED, ...(method === 'GET' || method === 'DELETE' ? {} : JSON_HEADERS) },
      ...(method === 'GET' || method === 'DELETE' || method === 'TRACE' ? {} : { body: '{}' }),
      expect: { statuses: [403, 404, 405], names: [] },
    }),
  );

// Webhooks ------------------------------------------------------------------------------------------------------------

const webhookBodyArb = fc
  .record({
    id: letters(6, 14),
    type: fc.constantFrom(
      'payment_intent.succeeded',
      'payment_intent.payment_failed',
      'charge.succeeded',
      'checkout.session.completed',
    ),
    intent: letters(6, 14),
    payment: letters(32, 32),
    amount: fc.integer({ min: 2, max: 1_000_000 }),
    created: fc.integer({ min: 1_700_000_000, max: 1_900_000_000 }),
  })
  .map((e) =>
    JSON.stringify({
      id: `evt_fz_${e.id}`,
      object: 'event',
      type: e.type,
      created: e.created,
      livemode: false,
      data: {
        object: {
          id: `pi_fz_${e.intent}`,
          object: 'payment_intent',
          amount: e.amount,
          currency: 'eur',
          status: 'succeeded',
          metadata: { payment_id: `pay_${e.payment}` },
        },
      },
    }),
  );

const webhookArb: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    webhookBodyArb,
    fc.oneof(
      fc.constant({ why: 'no Stripe-Signature', header: null as string | null }),
      fc.constantFrom('', 'garbage', 't=,v1=', 'v1=', '0', 'null').map((header) => ({
        why: `Stripe-Signature ${JSON.stringify(header)}`,
        header: header as string | null,
      })),
      fc
        .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 80 })
        .filter((s) => !LONG_DIGIT_RUN.test(s))
        .map((header) => ({ why: `Stripe-Signature ${JSON.stringify(header)}`, header: header as string | null })),
    ),
    fc.oneof(
      fc.tuple(fc.integer({ min: 360, max: 10_000_000 }), fc.boolean()).map(([seconds, future]) => ({
        why: `signed ${seconds} s ${future ? 'in the future' : 'ago'}`,
        offsetSeconds: future ? seconds : -seconds,
        secret: '{{WEBHOOK_SECRET}}',
        template: 't={t},v1={sig}',
      })),
      hex(32).map((s) => ({
        why: 'signed with another secret',
        offsetSeconds: 0,
        secret: `whsec_${s}`,
        template: 't={t},v1={sig}',
      })),
      fc
        .constantFrom(
          'v1={sig}',
          't={t}',
          't={t},v0={sig}',
          't=abc,v1={sig}',
          't={t},v1={sig}x',
          't={t},v1=',
          't={t};v1={sig}',
          't={t} v1={sig}',
          '{sig}',
          't={t},v1={sig8}',
          't={t-1},v1={sig}',
          't={t},v2={sig}',
          't={t},s1={sig}',
          'T={t},V1={sig}',
        )
        .map((template) => ({
          why: `Stripe-Signature shaped ${template}`,
          offsetSeconds: 0,
          secret: '{{WEBHOOK_SECRET}}',
          template,
        })),
    ),
    fc.constantFrom('appended space', 'amount changed', 'type changed', 'field added', 'body replaced'),
    fc.nat({ max: 99 }),
  )
  .map(([body, unsigned, signed, tamper, pick]): FuzzCase => {
    const kind = 'webhook';
    const base = {
      kind,
      method: 'POST',
      path: '/v1/webhooks/psp',
      expect: { statuses: [400, 401, 403], names: ['stripe-signature'] },
    };
    const tampered = {
      'appended space': `${body} `,
      'amount changed': body.replace(/"amount":\d+/, '"amount":1'),
      'type changed': body.replace(/"type":"[^"]+"/, '"type":"payment_intent.canceled"'),
      'field added': body.replace(/^\{/, '{"fz":1,'),
      'body replaced': '{"id":"evt_fz_other","object":"event","type":"charge.refunded","data":{"object":{}}}',
    }[tamper];
    const options: FuzzCase[] = [
      {
        ...base,
        why: [unsigned.why],
        headers: { ...JSON_HEADERS, ...(unsigned.header === null ? {} : { 'stripe-signature': unsigned.header }) },
        body,
      },
      {
        ...base,
        why: [signed.why],
        headers: { ...JSON_HEADERS, 'stripe-signature': '{{SIGNATURE}}' },
        body,
        sign: { secret: signed.secret, offsetSeconds: signed.offsetSeconds, template: signed.template },
      },
      {
        ...base,
        why: [`body tampered after signing (${tamper})`],
        headers: { ...JSON_HEADERS, 'stripe-signature': '{{SIGNATURE}}' },
        body: tampered,
        sign: { secret: '{{WEBHOOK_SECRET}}', offsetSeconds: 0, template: 't={t},v1={sig}', signedBody: body },
      },
      {
        ...base,
        why: ['a correctly signed body that is not JSON'],
        headers: { ...JSON_HEADERS, 'stripe-signature': '{{SIGNATURE}}' },
        body: body.slice(0, -1),
        sign: { secret: '{{WEBHOOK_SECRET}}', offsetSeconds: 0, template: 't={t},v1={sig}' },
        expect: { statuses: [400], names: ['stripe-signature', 'body', 'json'] },
      },
    ];
    // Mostly signature problems; a few unsigned-garbage and not-JSON cases.
    const index = pick < 25 ? 0 : pick < 70 ? 1 : pick < 92 ? 2 : 3;
    return options[index] as FuzzCase;
  });

// Review decisions ----------------------------------------------------------------------------------------------------

const reviewArb: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    unknownPaymentId,
    fc.oneof(
      fc
        .constantFrom<Json>(
          {},
          { decision: 'APPROVE' },
          { decision: 'approve ' },
          { decision: 'maybe' },
          { decision: '' },
          { decision: 1 },
          { decision: true },
          { decision: null },
          { decision: ['approve'] },
          { decision: { value: 'approve' } },
          { decision: 'approve', extra: 1 },
          { decision: 'reject', reason: 'x' },
          { Decision: 'approve' },
          null,
          'approve',
          ['approve'],
          1,
        )
        .map((body) => ({
          why: `decision body ${JSON.stringify(body)}`,
          body: JSON.stringify(body),
          type: 'application/json',
        })),
      fc
        .tuple(fc.constantFrom<'array' | 'object' | 'mixed'>('array', 'object', 'mixed'), depthArb)
        .map(([shape, d]) => ({
          why: `decision ${d} levels deep`,
          body: `{"decision":"approve","x":${deepJson(d, shape)}}`,
          type: 'application/json',
        })),
      fc.constantFrom('', '{', '{"decision":}', "{'decision':'approve'}", '{"decision":"approve",}').map((body) => ({
        why: `malformed decision body ${JSON.stringify(body)}`,
        body,
        type: 'application/json',
      })),
      fc
        .constantFrom('text/plain', 'application/x-www-form-urlencoded', '')
        .map((type) => ({ why: `Content-Type ${JSON.stringify(type)}`, body: 'decision=approve', type })),
    ),
  )
  .map(
    ([paymentId, { why, body, type }]): FuzzCase => ({
      kind: 'review.bad-body',
      why: [why],
      method: 'POST',
      path: `/v1/payments/${paymentId}/review`,
      headers: { ...AUTHORIZED, 'content-type': type },
      body,
      expect: {
        statuses: Buffer.byteLength(body) > MAX_BODY_BYTES ? [400, 404, 413, 415] : [400, 404, 415],
        names: ['decision', 'body', 'content-type'],
      },
    }),
  );

// ---------------------------------------------------------------------------------------------------------------
// The classes
// ---------------------------------------------------------------------------------------------------------------

export interface FuzzKind {
  name: string;
  /** Requests per run of this class (fast-check runs, one request each). */
  runs: number;
  arbitrary: fc.Arbitrary<FuzzCase>;
}

export const fuzzKinds: FuzzKind[] = [
  { name: 'checkout.wrong-type', runs: 450, arbitrary: singleMutation('checkout.wrong-type', wrongTypeArb) },
  { name: 'checkout.bad-amount', runs: 600, arbitrary: singleMutation('checkout.bad-amount', badAmountArb) },
  { name: 'checkout.unknown-field', runs: 350, arbitrary: singleMutation('checkout.unknown-field', unknownFieldArb) },
  { name: 'checkout.missing-field', runs: 300, arbitrary: singleMutation('checkout.missing-field', missingFieldArb) },
  { name: 'checkout.bad-value', runs: 350, arbitrary: singleMutation('checkout.bad-value', badValueArb) },
  {
    name: 'checkout.card-number',
    runs: 350,
    arbitrary: singleMutation('checkout.card-number', (b) => cardNumberArb(b, CLASSIC_SEPARATORS)),
  },
  {
    name: 'checkout.card-number-other-separators',
    runs: 250,
    arbitrary: singleMutation('checkout.card-number-other-separators', (b) => cardNumberArb(b, UNUSUAL_SEPARATORS)),
  },
  { name: 'checkout.deep-json', runs: 250, arbitrary: singleMutation('checkout.deep-json', deepArb) },
  { name: 'checkout.malformed-json', runs: 400, arbitrary: malformedArb() },
  { name: 'checkout.combined', runs: 300, arbitrary: combinedArb },
  { name: 'header.content-type', runs: 250, arbitrary: contentTypeArb },
  { name: 'header.idempotency-key', runs: 250, arbitrary: idempotencyKeyArb },
  { name: 'header.authorization', runs: 350, arbitrary: authorizationArb },
  { name: 'path.bad-id', runs: 500, arbitrary: badPathArb },
  { name: 'path.unknown-route', runs: 150, arbitrary: unknownRouteArb },
  { name: 'webhook', runs: 500, arbitrary: webhookArb },
  { name: 'review.bad-body', runs: 250, arbitrary: reviewArb },
];
