import { containsCardNumber, findCardData, luhnValid } from '../../src/api/card-data';

// pathOf as it is, counted (a counter, not a jest.fn: that would keep every path it returned): a scan builds the path
// of the one finding it reports, never one per key on its way down.
jest.mock('../../src/api/value-path', () => {
  const actual = jest.requireActual<typeof import('../../src/api/value-path')>('../../src/api/value-path');
  const pathsBuilt = { count: 0 };
  return {
    ...actual,
    pathsBuilt,
    pathOf: (link: Parameters<typeof actual.pathOf>[0]) => {
      pathsBuilt.count += 1;
      return actual.pathOf(link);
    },
  };
});
const { pathsBuilt } = jest.requireMock<{ pathsBuilt: { count: number } }>('../../src/api/value-path');

describe('Module: card-data', () => {
  describe('Function: luhnValid', () => {
    it.each([
      '4242424242424242',
      '4000000000000002',
      '378282246310005',
      '5555555555554444',
      '6011111111111117',
      '79927398713',
      '0',
    ])('accepts %p', (digits) => {
      expect(luhnValid(digits)).toBe(true);
    });

    it.each(['4242424242424241', '4000000000000001', '378282246310006', '79927398710', '1'])('rejects %p', (digits) => {
      expect(luhnValid(digits)).toBe(false);
    });
  });

  describe('Function: containsCardNumber', () => {
    it.each([
      '4242424242424242',
      '4000000000000002',
      '378282246310005',
      '4242 4242 4242 4242',
      '4242-4242-4242-4242',
      '3782 822463 10005',
      '4000-0000 0000-0002',
      'my card is 4242424242424242, thanks',
      'x4242424242424242y',
      '4222222222222', // 13 digits (old Visa test number)
      '6011000990139424', // Discover
      '4242.4242.4242.4242', // other separators our identifiers allow
      '4242_4242_4242_4242',
      '4242:4242:4242:4242',
      // Any separator, repeated or not (issue: "4242--4242--4242--4242" and "4242x4242x4242x4242" were stored).
      '4242--4242--4242--4242',
      '4242  4242  4242  4242',
      '4242 - 4242 - 4242 - 4242',
      '4242/4242/4242/4242',
      '4242\n4242\t4242 4242',
      '4242\u20134242\u20134242\u20134242', // en dashes
      '4242__4242..4242::4242',
      '4242x4242x4242x4242',
      '4242X4242x4242x4242',
      '4242ab4242ab4242ab4242',
      '4242a4242b4242c4242',
      '4242-4242x4242-4242',
      '3782x822463x10005', // Amex, 4-6-5
      'card 4242x4242x4242x4242 thanks',
      'first 4242 4242 4242 4242 then 12',
    ])('flags %p', (text) => {
      expect(containsCardNumber(text)).toBe(true);
    });

    it.each([
      '',
      'pay_123',
      '1234567812345678', // non-Luhn 16 digits; no 13..15-digit window of it is valid either
      '1234567890123', // 13 digits, not Luhn
      '424242424242', // 12 digits: too short even though it looks like a card prefix
      '4242 4242 4242', // 12 digits with spaces
      '12.34',
      '100000000000.00',
      '4242424242424241', // non-Luhn 16 digits: only whole runs are judged, not their windows
      '42424242424242424242', // 20 digits: longer than any card number
      '4242 4242 4242 4242 4242', // 20 digits in card groups
      '4242     4242     4242     4242', // separators longer than 4 characters split the number
      'pay_4087a25724e9dafcd71ad707e0a38b7f', // our payment ids
      '0c341701-1283-432a-9a57-7d057ec22e55', // a UUID
      '01ARZ3NDEKTSV4RRFFQ69G5FAV', // a ULID
      '2026-11-21T17:37:26.193Z',
      'co-2025-11-21',
      'order_2025_11_21_x',
      'v1.2.3',
      'https://shop.example/return?order=123&step=2',
      '4242x4242x4242x4241', // letters between groups, not Luhn
      '42424x242424x24242', // letters between groups of uneven lengths: not a card's shape
    ])('does not flag %p', (text) => {
      expect(containsCardNumber(text)).toBe(false);
    });

    it('checks that the 16-digit non-Luhn sample really has no Luhn window (guards the test above)', () => {
      const digits = '1234567812345678';
      const windows: string[] = [];
      for (let length = 13; length <= 16; length++) {
        for (let start = 0; start + length <= digits.length; start++) windows.push(digits.slice(start, start + length));
      }
      expect(windows).toHaveLength(10);
      expect(luhnValid(digits)).toBe(false);
      expect(windows.filter(luhnValid)).toEqual([]);
    });

    it('flags few random hex and UUID identifiers (letters between digits are only separators in a card shape)', () => {
      // Prepare: a seeded generator, so that the count is the same on every run.
      let seed = 12345;
      const next = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed;
      };
      const hex = (length: number) => Array.from({ length }, () => '0123456789abcdef'.charAt(next() % 16)).join('');
      const ids = Array.from({ length: 20_000 }, (_, i) =>
        i % 2 === 0 ? `pay_${hex(32)}` : `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
      );

      // Act
      const flagged = ids.filter(containsCardNumber);

      // Assess: 13+ digits in a row happen in about 0.2 % of 32-digit hex ids (as before these separators).
      expect(flagged.length / ids.length).toBeLessThan(0.003);
    });

    it('stays linear on long texts', () => {
      const text = '4 '.repeat(500_000);
      const started = Date.now();
      expect(containsCardNumber(text)).toBe(false);
      expect(containsCardNumber(`${'1a'.repeat(300_000)} 4242x4242x4242x4242`)).toBe(true);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('judges the whole run: a 16-digit run with a Luhn-valid 15-digit window is not a card number', () => {
      // Searching windows would flag most long numeric identifiers (about 6 in 10 random 16-digit runs).
      expect(luhnValid('424242424242424')).toBe(true);
      expect(containsCardNumber('4242424242424241')).toBe(false);
    });
  });

  describe('Function: findCardData', () => {
    it('returns undefined for a clean body', () => {
      expect(
        findCardData({
          checkout_id: 'co_1',
          buyer: { id: 'b_1', country: 'FR' },
          payment_orders: [{ payment_order_id: 'po_1', amount: '12.34' }],
          quantity: 3,
          flag: true,
          nothing: null,
        }),
      ).toBeUndefined();
    });

    it.each([
      ['card', { card: { x: 1 } }],
      ['card_number', { card_number: 'x' }],
      ['cardNumber', { cardNumber: 'x' }],
      ['CardNumber', { CardNumber: 'x' }],
      ['pan', { pan: 'x' }],
      ['cvc', { cvc: '123' }],
      ['cvv', { cvv: '123' }],
      ['cvv2', { cvv2: '123' }],
      ['exp_month', { exp_month: 12 }],
      ['expYear', { expYear: 2030 }],
      ['expiry', { expiry: '12/30' }],
      ['number', { number: 'x' }],
      ['security_code', { security_code: 'x' }],
    ])('flags the card-like field name %s', (path, body) => {
      expect(findCardData(body)).toBe(path);
    });

    it('does not flag field names that only contain a card-like word', () => {
      expect(findCardData({ card_holder_country: 'FR', span: 'x', panel: 'y', phone_number: '+33 1 23 45 67' })).toBe(
        undefined,
      );
    });

    it('reports the path of a card-like field name deep in objects and arrays', () => {
      // Prepare
      const body = { a: { b: [{ ok: 1 }, { c: { cvc: '123' } }] } };

      // Act & Assess
      expect(findCardData(body)).toBe('a.b[1].c.cvc');
    });

    it('reports the path of a card number value in a nested array, never the value', () => {
      // Prepare
      const body = {
        checkout_id: 'co_1',
        payment_orders: [
          { payment_order_id: 'po_1' },
          { payment_order_id: 'po_2', note: ['ok', 'pay 4242 4242 4242 4242'] },
        ],
      };

      // Act
      const path = findCardData(body);

      // Assess
      expect(path).toBe('payment_orders[1].note[1]');
      expect(path).not.toMatch(/\d{4}/);
    });

    it('flags a card number in buyer.id', () => {
      expect(findCardData({ buyer: { id: '4000000000000002', country: 'FR' } })).toBe('buyer.id');
    });

    it('flags a card number given as a JSON number', () => {
      expect(findCardData({ reference: 4242424242424242 })).toBe('reference');
    });

    it('flags a bare string or a top-level array', () => {
      expect(findCardData('378282246310005')).toBe('(body)');
      expect(findCardData(['x', '4242424242424242'])).toBe('[1]');
    });

    it('returns the first offending field in document order', () => {
      expect(findCardData({ first: 'ok', second: '4242424242424242', cvc: '1' })).toBe('second');
    });

    it('scans a deeply nested value without recursion (no stack overflow)', () => {
      // Prepare: the 20 KB body of the issue, 10,000 arrays deep, then far deeper.
      const deep = JSON.parse(`{"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
      const deeper = JSON.parse(`{"x":${'['.repeat(200_000)}"4242 4242 4242 4242"${']'.repeat(200_000)}}`);

      // Act & Assess
      expect(findCardData(deep)).toBeUndefined();
      expect(findCardData(deeper)).toMatch(/^x(\[0\]){200000}$/);
    });

    it.each([
      ['a card number value', { note: 'pay 4242 4242 4242 4242' }, 'note'],
      ['a card-like field name', { cvc: '123' }, 'cvc'],
      ['a card number as a field name', { '4242424242424242': 'x' }, '(field name)'],
    ])('reports %s under 20,000 nested objects with its full path, built once', (_, bottom, last) => {
      // Prepare: built in code (no JSON.parse), one object per level, each under its own key.
      const depth = 20_000;
      let body: unknown = bottom;
      for (let level = depth - 1; level >= 0; level--) body = { [`k${level}`]: body };
      const keys = Array.from({ length: depth }, (__, level) => `k${level}`);
      pathsBuilt.count = 0;

      // Act
      const path = findCardData(body);

      // Assess: no stack overflow, the whole path, and one path built (not one per key scanned on the way down)
      expect(path).toBe(`${keys.join('.')}.${last}`);
      expect(pathsBuilt.count).toBe(1);
    });

    it('never includes the digits in the returned path', () => {
      // Prepare
      const numbers = ['4242424242424242', '4000000000000002', '378282246310005'];

      for (const number of numbers) {
        // Act
        const path = findCardData({ x: [{ y: `card ${number}` }] });

        // Assess
        expect(path).toBe('x[0].y');
        expect(path).not.toContain(number);
        expect(path).not.toContain(number.slice(0, 6));
      }
    });
  });
});
