import * as fc from 'fast-check';
import {
  accounts,
  allocate,
  assertBalanced,
  balanceByCurrency,
  type LedgerEntry,
  type LedgerTransaction,
  payInTransaction,
  payInTransactionId,
  refundFeeShare,
  signedAmount,
  UnbalancedTransactionError,
} from '../../src/ledger/postings';

const order = (overrides: Partial<Parameters<typeof payInTransaction>[0]> = {}) => ({
  payment_id: 'pay_1',
  payment_order_id: 'po_1',
  seller_account: 'seller_a',
  currency: 'USD',
  amount_minor: 10_000,
  fee_minor: 250,
  ...overrides,
});

const txn = (entries: LedgerEntry[]): LedgerTransaction => ({
  transaction_id: 'txn_1',
  reference: 'pay_1',
  description: 'test',
  entries,
});

const entry = (
  direction: 'DEBIT' | 'CREDIT',
  amount_minor: number,
  currency = 'USD',
  account = 'acc',
): LedgerEntry => ({
  account,
  direction,
  amount_minor,
  currency,
});

describe('Module: ledger', () => {
  describe('Function: payInTransaction', () => {
    it('debits PSP clearing and credits the seller and the platform fee', () => {
      // Act
      const transaction = payInTransaction(order());

      // Assess
      expect(transaction).toEqual({
        transaction_id: 'payin:po_1',
        reference: 'pay_1',
        description: 'pay-in of payment order po_1',
        entries: [
          { account: 'asset:psp_clearing', direction: 'DEBIT', amount_minor: 10_000, currency: 'USD' },
          { account: 'liability:seller_payable:seller_a', direction: 'CREDIT', amount_minor: 9_750, currency: 'USD' },
          { account: 'revenue:platform_fees', direction: 'CREDIT', amount_minor: 250, currency: 'USD' },
        ],
      });
      expect(balanceByCurrency(transaction.entries)).toEqual(new Map([['USD', 0]]));
    });

    it('has no fee entry when the fee is zero', () => {
      // Act
      const transaction = payInTransaction(order({ currency: 'JPY', amount_minor: 1500, fee_minor: 0 }));

      // Assess
      expect(transaction.entries).toEqual([
        { account: 'asset:psp_clearing', direction: 'DEBIT', amount_minor: 1500, currency: 'JPY' },
        { account: 'liability:seller_payable:seller_a', direction: 'CREDIT', amount_minor: 1500, currency: 'JPY' },
      ]);
      expect(balanceByCurrency(transaction.entries)).toEqual(new Map([['JPY', 0]]));
    });

    it('has no zero seller entry when the fee equals the amount', () => {
      // Act
      const transaction = payInTransaction(order({ amount_minor: 300, fee_minor: 300 }));

      // Assess
      expect(transaction.entries).toEqual([
        { account: 'asset:psp_clearing', direction: 'DEBIT', amount_minor: 300, currency: 'USD' },
        { account: 'revenue:platform_fees', direction: 'CREDIT', amount_minor: 300, currency: 'USD' },
      ]);
      expect(transaction.entries.every((e) => e.amount_minor > 0)).toBe(true);
    });

    it('is deterministic: the same order gives the same transaction id and entries', () => {
      expect(payInTransaction(order())).toEqual(payInTransaction(order()));
      expect(payInTransaction(order()).transaction_id).toBe(payInTransactionId('po_1'));
      expect(payInTransactionId('po_1')).toBe('payin:po_1');
      expect(payInTransaction(order({ payment_order_id: 'po_2' })).transaction_id).toBe('payin:po_2');
    });

    it('refuses a fee larger than the amount (it could not balance)', () => {
      expect(() => payInTransaction(order({ amount_minor: 100, fee_minor: 150 }))).toThrow(UnbalancedTransactionError);
    });

    it('refuses a negative fee', () => {
      expect(() => payInTransaction(order({ amount_minor: 100, fee_minor: -10 }))).toThrow(UnbalancedTransactionError);
    });

    it('refuses a zero amount', () => {
      expect(() => payInTransaction(order({ amount_minor: 0, fee_minor: 0 }))).toThrow(UnbalancedTransactionError);
    });
  });

  describe('Function: signedAmount', () => {
    it('is positive for a debit and negative for a credit', () => {
      expect(signedAmount({ direction: 'DEBIT', amount_minor: 5 })).toBe(5);
      expect(signedAmount({ direction: 'CREDIT', amount_minor: 5 })).toBe(-5);
    });
  });

  describe('Function: balanceByCurrency', () => {
    it('sums signed amounts per currency', () => {
      // Prepare
      const entries = [
        entry('DEBIT', 1000, 'USD'),
        entry('CREDIT', 700, 'USD'),
        entry('DEBIT', 5000, 'JPY'),
        entry('CREDIT', 300, 'USD'),
        entry('CREDIT', 4000, 'JPY'),
      ];

      // Act
      const balances = balanceByCurrency(entries);

      // Assess
      expect(balances).toEqual(
        new Map([
          ['USD', 0],
          ['JPY', 1000],
        ]),
      );
    });

    it('is empty for no entries', () => {
      expect(balanceByCurrency([]).size).toBe(0);
    });
  });

  describe('Function: assertBalanced', () => {
    it('accepts a transaction balanced in each of two currencies', () => {
      expect(() =>
        assertBalanced(
          txn([
            entry('DEBIT', 100, 'USD'),
            entry('CREDIT', 100, 'USD'),
            entry('DEBIT', 7, 'JPY'),
            entry('CREDIT', 7, 'JPY'),
          ]),
        ),
      ).not.toThrow();
    });

    it('rejects an unbalanced transaction, saying by how much', () => {
      expect(() => assertBalanced(txn([entry('DEBIT', 100), entry('CREDIT', 99)]))).toThrow(
        new UnbalancedTransactionError('txn_1: USD does not balance (off by 1)'),
      );
    });

    it('rejects a transaction balanced in total but not per currency', () => {
      expect(() => assertBalanced(txn([entry('DEBIT', 100, 'USD'), entry('CREDIT', 100, 'EUR')]))).toThrow(
        UnbalancedTransactionError,
      );
    });

    it('rejects a single-entry transaction', () => {
      expect(() => assertBalanced(txn([entry('DEBIT', 100)]))).toThrow(
        new UnbalancedTransactionError('txn_1: a transaction needs at least two entries'),
      );
      expect(() => assertBalanced(txn([]))).toThrow(UnbalancedTransactionError);
    });

    it.each([0, -100, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])('rejects the entry amount %p', (amount) => {
      // A debit of `amount` against a credit of the same: balanced in sign, refused on the amount itself.
      expect(() => assertBalanced(txn([entry('DEBIT', amount), entry('CREDIT', amount)]))).toThrow(
        new UnbalancedTransactionError('txn_1: entry amounts must be positive integers'),
      );
    });

    it('rejects negative amounts even when they would make the signed sum zero', () => {
      expect(() => assertBalanced(txn([entry('DEBIT', 100), entry('DEBIT', -100)]))).toThrow(
        new UnbalancedTransactionError('txn_1: entry amounts must be positive integers'),
      );
    });
  });

  describe('Constant: accounts', () => {
    it('names the seller payable per seller', () => {
      expect(accounts.sellerPayable('s_9')).toBe('liability:seller_payable:s_9');
      expect(accounts.pspClearing).toBe('asset:psp_clearing');
      expect(accounts.platformRevenue).toBe('revenue:platform_fees');
    });
  });
});

describe('Refund fee shares and dispute allocation', () => {
  it('returns the whole fee over full refunds, whatever the order of partial and failed refunds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(fc.record({ part: fc.integer({ min: 1, max: 1_000 }), fails: fc.boolean() }), { maxLength: 12 }),
        (amount, bps, steps) => {
          const fee = Math.floor((amount * bps) / 10_000);
          const order = { amount_minor: amount, fee_minor: fee };
          let refunded = 0;
          let feeRefunded = 0;
          for (const { part, fails } of steps) {
            const left = amount - refunded;
            if (left === 0) break;
            const x = Math.min(left, part);
            const share = refundFeeShare(order, refunded, feeRefunded, x);
            expect(share).toBeGreaterThanOrEqual(0);
            expect(share).toBeLessThanOrEqual(x);
            refunded += x;
            feeRefunded += share;
            expect(feeRefunded).toBeLessThanOrEqual(fee);
            if (fails) {
              refunded -= x;
              feeRefunded -= share;
            }
          }
          // The rest, in one refund: the live refunds then return exactly the fee.
          const last = refundFeeShare(order, refunded, feeRefunded, amount - refunded);
          expect(feeRefunded + last).toBe(fee);
        },
      ),
    );
  });

  it('splits an amount over weights exactly, in proportion', () => {
    expect(allocate(100, [1, 1, 1])).toEqual([34, 33, 33]);
    expect(allocate(50, [5000, 0])).toEqual([50, 0]);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 40 }),
        (amount, weights) => {
          const shares = allocate(amount, weights);
          expect(shares.reduce((a, b) => a + b, 0)).toBe(amount);
          const total = weights.reduce((a, b) => a + b, 0);
          for (const [i, share] of shares.entries()) {
            expect(Math.abs(share - (amount * (weights[i] ?? 0)) / total)).toBeLessThan(1);
          }
        },
      ),
    );
  });
});
