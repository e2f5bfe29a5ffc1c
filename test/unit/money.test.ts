import {
  currencyExponent,
  feeMinor,
  fromMinorUnits,
  isSupportedCurrency,
  MAX_MINOR_UNITS,
  MoneyError,
  sumMinor,
  toMinorUnits,
} from '../../src/core/money';

/** A small seeded generator (mulberry32), so the property tests are reproducible without a new dependency. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Module: money', () => {
  describe('Function: currencyExponent', () => {
    it.each([
      ['JPY', 0],
      ['KRW', 0],
      ['USD', 2],
      ['EUR', 2],
      ['KWD', 3],
      ['BHD', 3],
      ['CLF', 4],
    ])('gives %s the exponent %i', (currency, exponent) => {
      expect(currencyExponent(currency)).toBe(exponent);
    });

    it.each(['usd', 'Usd', 'XXX', 'US', 'USDD', ''])('refuses %p', (currency) => {
      expect(() => currencyExponent(currency)).toThrow(MoneyError);
    });
  });

  describe('Function: isSupportedCurrency', () => {
    it('accepts upper-case supported codes and nothing else', () => {
      expect(isSupportedCurrency('USD')).toBe(true);
      expect(isSupportedCurrency('JPY')).toBe(true);
      expect(isSupportedCurrency('KWD')).toBe(true);
      expect(isSupportedCurrency('usd')).toBe(false);
      expect(isSupportedCurrency('ZZZ')).toBe(false);
      expect(isSupportedCurrency('')).toBe(false);
    });
  });

  describe('Function: toMinorUnits', () => {
    it.each([
      ['1', 'JPY', 1],
      ['1500', 'JPY', 1500],
      ['1', 'USD', 100],
      ['1.5', 'USD', 150],
      ['1.50', 'USD', 150],
      ['0.01', 'USD', 1],
      ['12.34', 'USD', 1234],
      ['0.5', 'USD', 50],
      ['1', 'KWD', 1000],
      ['1.5', 'KWD', 1500],
      ['1.005', 'KWD', 1005],
      ['0.001', 'KWD', 1],
      ['1.0001', 'CLF', 10001],
    ])('parses %p %s to %i minor units', (amount, currency, expected) => {
      expect(toMinorUnits(amount, currency)).toBe(expected);
    });

    it('accepts exactly MAX_MINOR_UNITS in every exponent', () => {
      // Prepare
      const maxUsd = '100000000000.00';
      const maxJpy = '10000000000000';
      const maxKwd = '10000000000.000';

      // Act & Assess
      expect(toMinorUnits(maxUsd, 'USD')).toBe(MAX_MINOR_UNITS);
      expect(toMinorUnits(maxJpy, 'JPY')).toBe(MAX_MINOR_UNITS);
      expect(toMinorUnits(maxKwd, 'KWD')).toBe(MAX_MINOR_UNITS);
    });

    it.each([
      ['100000000000.01', 'USD'],
      ['10000000000001', 'JPY'],
      ['10000000000.001', 'KWD'],
      ['99999999999999999999', 'JPY'],
      ['12345678901234567890', 'USD'],
      ['12345678901234567890.5', 'USD'],
      ['9007199254740993', 'JPY'],
    ])('refuses the absurd size %p %s', (amount, currency) => {
      expect(() => toMinorUnits(amount, currency)).toThrow(new MoneyError('is too large'));
    });

    it.each([
      [1, 'JPY'],
      [1.5, 'USD'],
      [12.34, 'USD'],
      [100, 'USD'],
      [0.1 + 0.2, 'USD'],
      [10n, 'JPY'],
      [null, 'USD'],
      [undefined, 'USD'],
      [{ amount: '1' }, 'USD'],
      [['1'], 'USD'],
    ])('refuses the non-string %p', (amount, currency) => {
      expect(() => toMinorUnits(amount, currency)).toThrow(
        new MoneyError('must be a decimal string such as "12.34", not a number'),
      );
    });

    it.each([
      '-1',
      '-0.01',
      '1e3',
      '1E3',
      '1e-2',
      '+1',
      '+1.00',
      ' 1',
      '1 ',
      '1 000',
      '1\n',
      '.5',
      '1.',
      '01.00',
      '01',
      '00',
      '0x10',
      '1,00',
      '1,000.00',
      '1_000',
      'NaN',
      'Infinity',
      '',
      '１２', // full-width digits
      '1.2.3',
    ])('refuses the malformed %p', (amount) => {
      expect(() => toMinorUnits(amount, 'USD')).toThrow(MoneyError);
      expect(() => toMinorUnits(amount, 'USD')).toThrow(/is not a plain positive decimal/);
    });

    it.each(['0', '0.00', '0.0', '0.000'])('refuses the zero amount %p', (amount) => {
      expect(() => toMinorUnits(amount, 'KWD')).toThrow(new MoneyError('must be greater than zero'));
    });

    it.each([
      ['1.5', 'JPY', 'JPY allows at most 0 decimal places'],
      ['1.0', 'JPY', 'JPY allows at most 0 decimal places'],
      ['12.345', 'USD', 'USD allows at most 2 decimal places'],
      ['1.005', 'USD', 'USD allows at most 2 decimal places'],
      ['1.500', 'USD', 'USD allows at most 2 decimal places'],
      ['1.0005', 'KWD', 'KWD allows at most 3 decimal places'],
    ])('refuses %p in %s (too many decimals)', (amount, currency, message) => {
      expect(() => toMinorUnits(amount, currency)).toThrow(new MoneyError(message));
    });

    it.each(['usd', 'jpy', 'XXX', 'EURO', ''])(
      'refuses the unsupported currency %p before looking at the amount',
      (c) => {
        expect(() => toMinorUnits('1.00', c)).toThrow(/unsupported currency/);
      },
    );

    it('does not echo more than 32 characters of a malformed amount', () => {
      // Prepare
      const long = `x${'9'.repeat(100)}`;

      // Act
      let message = '';
      try {
        toMinorUnits(long, 'USD');
      } catch (error) {
        message = (error as Error).message;
      }

      // Assess
      expect(message).toBe(`'${long.slice(0, 32)}' is not a plain positive decimal such as "12.34"`);
    });
  });

  describe('Function: fromMinorUnits', () => {
    it.each([
      [1, 'JPY', '1'],
      [1500, 'JPY', '1500'],
      [0, 'JPY', '0'],
      [1, 'USD', '0.01'],
      [150, 'USD', '1.50'],
      [100, 'USD', '1.00'],
      [0, 'USD', '0.00'],
      [-5, 'USD', '-0.05'],
      [-12345, 'USD', '-123.45'],
      [1, 'KWD', '0.001'],
      [1005, 'KWD', '1.005'],
      [1500, 'KWD', '1.500'],
      [MAX_MINOR_UNITS, 'USD', '100000000000.00'],
      [Number.MAX_SAFE_INTEGER, 'USD', '90071992547409.91'],
    ])('formats %i %s as %p', (minor, currency, expected) => {
      expect(fromMinorUnits(minor, currency)).toBe(expected);
    });

    it.each([1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1])('refuses %p', (minor) => {
      expect(() => fromMinorUnits(minor, 'USD')).toThrow(MoneyError);
    });

    it('refuses an unsupported currency', () => {
      expect(() => fromMinorUnits(100, 'usd')).toThrow(/unsupported currency 'usd'/);
    });
  });

  describe('Property: round trip', () => {
    it.each(['JPY', 'USD', 'KWD', 'CLF'])('toMinorUnits(fromMinorUnits(x)) === x for random %s amounts', (currency) => {
      // Prepare
      const random = seeded(20240601 + currencyExponent(currency));
      const samples: number[] = [1, 9, 10, 99, 100, 101, 999, 1000, 1001, MAX_MINOR_UNITS, MAX_MINOR_UNITS - 1];
      for (let i = 0; i < 2_000; i++) {
        // Spread over every order of magnitude, not only large numbers.
        const digits = 1 + Math.floor(random() * 13);
        samples.push(1 + Math.floor(random() * 10 ** digits));
      }

      // Act & Assess
      for (const minor of samples) {
        const text = fromMinorUnits(minor, currency);
        expect(toMinorUnits(text, currency)).toBe(minor);
        const exponent = currencyExponent(currency);
        if (exponent > 0) expect(text.split('.')[1]).toHaveLength(exponent);
        else expect(text).not.toContain('.');
      }
    });

    it('fromMinorUnits(toMinorUnits(s)) normalises to the currency exponent for random decimal strings', () => {
      // Prepare
      const random = seeded(7);

      for (let i = 0; i < 2_000; i++) {
        const whole = String(Math.floor(random() * 1_000_000));
        const fractionDigits = Math.floor(random() * 3); // 0..2 decimals for USD
        const fraction = Array.from({ length: fractionDigits }, () => Math.floor(random() * 10)).join('');
        const text = fractionDigits > 0 ? `${whole}.${fraction}` : whole;
        const expected = `${whole}.${fraction.padEnd(2, '0')}`;
        if (/^0\.?0*$/.test(text)) continue; // zero is refused

        // Act
        const minor = toMinorUnits(text, 'USD');

        // Assess
        expect(minor).toBe(Number(whole) * 100 + Number(fraction.padEnd(2, '0')));
        expect(fromMinorUnits(minor, 'USD')).toBe(expected);
      }
    });
  });

  describe('Function: sumMinor', () => {
    it('sums integers exactly', () => {
      expect(sumMinor([])).toBe(0);
      expect(sumMinor([1, 2, 3])).toBe(6);
      expect(sumMinor([MAX_MINOR_UNITS, MAX_MINOR_UNITS])).toBe(2 * MAX_MINOR_UNITS);
      expect(sumMinor([150, -150])).toBe(0);
    });

    it('accepts a sum of exactly Number.MAX_SAFE_INTEGER', () => {
      expect(sumMinor([Number.MAX_SAFE_INTEGER - 1, 1])).toBe(Number.MAX_SAFE_INTEGER);
    });

    it('refuses a sum that overflows the safe integer range', () => {
      expect(() => sumMinor([Number.MAX_SAFE_INTEGER, 1])).toThrow(
        new MoneyError('sum overflows the safe integer range'),
      );
      expect(() => sumMinor([Number.MAX_SAFE_INTEGER, 2])).toThrow(
        new MoneyError('sum overflows the safe integer range'),
      );
      expect(() => sumMinor([-Number.MAX_SAFE_INTEGER, -1])).toThrow(
        new MoneyError('sum overflows the safe integer range'),
      );
    });

    it.each([1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1])(
      'refuses the non-safe-integer %p',
      (value) => {
        expect(() => sumMinor([1, value])).toThrow(MoneyError);
        expect(() => sumMinor([1, value])).toThrow(/must be a safe integer/);
      },
    );
  });

  describe('Function: feeMinor', () => {
    it.each([
      [10_000, 250, 250],
      [1234, 250, 30], // 30.85 rounded down
      [1999, 100, 19], // 19.99 rounded down
      [99, 100, 0], // 0.99 rounded down
      [1, 9_999, 0],
      [1, 10_000, 1],
      [1234, 0, 0],
      [1234, 10_000, 1234],
      [MAX_MINOR_UNITS, 299, 299_000_000_000],
      [Number.MAX_SAFE_INTEGER, 10_000, Number.MAX_SAFE_INTEGER],
    ])('fee of %i at %i bps is %i (rounded down)', (amount, bps, expected) => {
      expect(feeMinor(amount, bps)).toBe(expected);
    });

    it('never exceeds the rate for random amounts', () => {
      const random = seeded(99);
      for (let i = 0; i < 1_000; i++) {
        const amount = 1 + Math.floor(random() * 1_000_000_000);
        const bps = Math.floor(random() * 10_001);
        const fee = feeMinor(amount, bps);
        expect(Number.isSafeInteger(fee)).toBe(true);
        expect(fee * 10_000).toBeLessThanOrEqual(amount * bps);
        expect((fee + 1) * 10_000).toBeGreaterThan(amount * bps);
      }
    });

    it.each([-1, 10_001, 2.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses %p basis points', (bps) => {
      expect(() => feeMinor(1000, bps)).toThrow(
        new MoneyError(`fee basis points must be an integer 0..10000, got ${bps}`),
      );
    });
  });
});
