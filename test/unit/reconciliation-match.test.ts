/**
 * Matching a settlement file against our ledger (src/reconciliation/domain/match.ts): the join of one shard, the
 * classification of what is left on either side, and a property over random days with injected faults, in the way
 * src/reconciliation/run.ts drives them (rows and ledger transactions split by the same shard function).
 */
import * as fc from 'fast-check';
import { fromMinorUnits } from '../../src/core/money';
import {
  clearingMovement,
  disputeReinstatementTransaction,
  disputeWithdrawalTransaction,
  type LedgerTransaction,
  payInTransaction,
  payoutTransferPosting,
  refundPosting,
  refundReversalPosting,
  SETTLEMENT_SHARDS,
  settlementKeyOf,
  settlementShardOf,
  transferReversalPosting,
} from '../../src/ledger/postings';
import {
  addToTotals,
  type BookedTransaction,
  bookingsOf,
  type CurrencyTotals,
  classifyOurs,
  classifyRow,
  compare,
  feeToBook,
  type Lookup,
  matchShard,
  mergeTotals,
  type OurBooking,
} from '../../src/reconciliation/domain/match';
import { CLASS_OF, type Finding, mismatchIdOf } from '../../src/reconciliation/domain/mismatch';
import {
  parseRow,
  rowSettlementKey,
  SETTLEMENT_COLUMNS,
  type SettlementRow,
} from '../../src/reconciliation/domain/settlement-row';

const DATE = '2024-05-01';
const NEXT_DAY = '2024-05-02';
const PREVIOUS_DAY = '2024-04-30';

type Column = (typeof SETTLEMENT_COLUMNS)[number];
type Category =
  | 'charge'
  | 'refund'
  | 'refund_failure'
  | 'transfer'
  | 'transfer_reversal'
  | 'dispute'
  | 'dispute_reversal'
  | 'fee';

/** A row of the file, written as the PSP simulator writes it (major units), then read with parseRow. */
function fileRow(spec: {
  id: string;
  line: number;
  category: Category;
  currency: string;
  gross: number;
  fee?: number;
  /** Our id in the row's metadata (payment, refund, payout) or the dispute's id (source). */
  ours?: string;
  /** The payment a refund or dispute belongs to. */
  payment?: string;
  day?: string;
}): SettlementRow {
  const fee = spec.fee ?? 0;
  const cells: Partial<Record<Column, string>> = {
    balance_transaction_id: spec.id,
    created_utc: `${spec.day ?? DATE} 12:00:00`,
    currency: spec.currency.toLowerCase(),
    gross: fromMinorUnits(spec.gross, spec.currency),
    fee: fromMinorUnits(fee, spec.currency),
    net: fromMinorUnits(spec.gross - fee, spec.currency),
    reporting_category: spec.category,
    source_id: spec.category === 'fee' ? '' : `src_${spec.id}`,
  };
  switch (spec.category) {
    case 'charge':
      if (spec.ours) cells['payment_metadata[payment_id]'] = spec.ours;
      cells.payment_intent_id = `pi_${spec.id}`;
      break;
    case 'refund':
    case 'refund_failure':
      cells['refund_metadata[refund_id]'] = spec.ours ?? '';
      cells['payment_metadata[payment_id]'] = spec.payment ?? '';
      break;
    case 'transfer':
    case 'transfer_reversal':
      cells['transfer_metadata[payout_id]'] = spec.ours ?? '';
      break;
    case 'dispute':
    case 'dispute_reversal':
      cells.source_id = spec.ours ?? '';
      cells['payment_metadata[payment_id]'] = spec.payment ?? '';
      break;
    case 'fee':
      cells.description = 'Monthly platform fee';
      break;
  }
  return parseRow(
    SETTLEMENT_COLUMNS.map((column) => cells[column] ?? ''),
    spec.line,
  );
}

/** A ledger transaction as the by-day index gives it (as src/ledger/ledger-table.ts writes it). */
function booked(transaction: LedgerTransaction, day = DATE): BookedTransaction {
  const key = settlementKeyOf(transaction.transaction_id, transaction.reference);
  const clearing = [...clearingMovement(transaction)];
  return {
    transaction_id: transaction.transaction_id,
    reference: transaction.reference,
    day,
    ...(key !== undefined && { settlement_key: key }),
    ...(clearing.length === 1 && { clearing_minor: clearing[0]?.[1], currency: clearing[0]?.[0] }),
  };
}

const payIn = (payment: string, order: string, amount: number, currency = 'EUR') =>
  payInTransaction({
    payment_id: payment,
    payment_order_id: order,
    seller_account: 'seller_a',
    currency,
    amount_minor: amount,
    fee_minor: 0,
  });
const refund = (id: string, amount: number, currency = 'EUR') =>
  refundPosting({
    refund_id: id,
    payment_id: 'pay_r',
    seller_account: 'seller_a',
    currency,
    amount_minor: amount,
    fee_share_minor: 0,
  }).transaction;
const transfer = (id: string, amount: number, currency = 'EUR') =>
  payoutTransferPosting({ payout_id: id, seller_account: 'seller_a', currency, amount_minor: amount }).transaction;
const withdrawal = (id: string, amount: number, fee: number, currency = 'EUR') =>
  disputeWithdrawalTransaction({ dispute_id: id, payment_id: 'pay_d', currency, amount_minor: amount, fee_minor: fee });

describe('bookingsOf', () => {
  it('groups a charge split across two orders under its payment, amounts summed, the earliest day', () => {
    const bookings = bookingsOf([
      booked(payIn('pay_1', 'po_a', 800), DATE),
      booked(payIn('pay_1', 'po_b', 434), PREVIOUS_DAY),
    ]);
    expect([...bookings.values()]).toEqual<OurBooking[]>([
      {
        key: 'charge:pay_1',
        reference: 'pay_1',
        currency: 'EUR',
        amount_minor: 1234,
        day: PREVIOUS_DAY,
        transaction_ids: ['payin:po_a', 'payin:po_b'],
      },
    ]);
  });

  it('ignores transactions that moved no money at the PSP (no settlement key or no clearing movement)', () => {
    const bookings = bookingsOf([
      { transaction_id: 'dispute:du_1:loss', reference: 'pay_1', day: DATE },
      {
        transaction_id: 'psp-fee:txn_1',
        reference: 'settlement:txn_1',
        day: DATE,
        clearing_minor: -66,
        currency: 'EUR',
      },
      { transaction_id: 'x', reference: 'y', day: DATE, settlement_key: 'charge:pay_9', currency: 'EUR' },
      booked(refund('rf_1', 500)),
    ]);
    expect([...bookings.keys()]).toEqual(['refund:rf_1']);
    expect(bookings.get('refund:rf_1')?.amount_minor).toBe(-500);
  });
});

describe('matchShard', () => {
  const cleanDay = () => {
    const ours = bookingsOf(
      [
        payIn('pay_1', 'po_1', 1234),
        payIn('pay_2', 'po_2a', 800),
        payIn('pay_2', 'po_2b', 434),
        payIn('pay_3', 'po_3', 1200, 'JPY'),
        refund('rf_1', 500),
        transfer('po_x', 9000),
        withdrawal('du_1', 1000, 1500),
      ].map((t) => booked(t)),
    );
    const rows = [
      fileRow({ id: 'txn_1', line: 2, category: 'charge', currency: 'EUR', gross: 1234, fee: 66, ours: 'pay_1' }),
      fileRow({ id: 'txn_2', line: 3, category: 'charge', currency: 'EUR', gross: 1234, fee: 66, ours: 'pay_2' }),
      fileRow({ id: 'txn_3', line: 4, category: 'charge', currency: 'JPY', gross: 1200, fee: 65, ours: 'pay_3' }),
      fileRow({ id: 'txn_4', line: 5, category: 'refund', currency: 'EUR', gross: -500, ours: 'rf_1' }),
      fileRow({ id: 'txn_5', line: 6, category: 'transfer', currency: 'EUR', gross: -9000, ours: 'po_x' }),
      fileRow({ id: 'txn_6', line: 7, category: 'dispute', currency: 'EUR', gross: -1000, fee: 1500, ours: 'du_1' }),
      fileRow({ id: 'txn_7', line: 8, category: 'fee', currency: 'EUR', gross: -2500 }),
    ];
    return { ours, rows };
  };

  it('a clean shard: every row matched, the fee row apart, nothing left on either side', () => {
    const { ours, rows } = cleanDay();
    const result = matchShard(rows, ours);
    expect(result.matched.map(({ row, booking }) => [row.balance_transaction_id, booking.key])).toEqual([
      ['txn_1', 'charge:pay_1'],
      ['txn_2', 'charge:pay_2'],
      ['txn_3', 'charge:pay_3'],
      ['txn_4', 'refund:rf_1'],
      ['txn_5', 'transfer:po_x'],
      ['txn_6', 'dispute:du_1'],
    ]);
    expect(result.feeRows.map((row) => row.balance_transaction_id)).toEqual(['txn_7']);
    expect(result.findings).toEqual([]);
    expect(result.unmatchedRows).toEqual([]);
    expect(result.unmatchedOurs).toEqual([]);
  });

  it('counts a duplicate row once, reporting it at the later line (auto_fixed, count_once)', () => {
    const { ours, rows } = cleanDay();
    const again = { ...(rows[0] as SettlementRow), line: 9 };
    const feeAgain = { ...(rows[6] as SettlementRow), line: 10 };
    const result = matchShard([...rows, again, feeAgain], ours);
    expect(result.matched).toHaveLength(6);
    expect(result.feeRows).toHaveLength(1);
    expect(result.unmatchedRows).toEqual([]);
    expect(result.unmatchedOurs).toEqual([]);
    expect(result.findings.map(({ finding }) => finding)).toEqual([
      expect.objectContaining({
        type: 'duplicate_row',
        class: 'auto_fixed',
        balance_transaction_id: 'txn_1',
        line: 9,
        fix: { kind: 'count_once' },
      }),
      expect.objectContaining({ type: 'duplicate_row', balance_transaction_id: 'txn_7', line: 10 }),
    ]);
    expect(result.findings[0]?.finding.detail).toContain('line 9');
  });

  it('an amount mismatch: manual, with both amounts', () => {
    const ours = bookingsOf([booked(payIn('pay_1', 'po_1', 1234))]);
    const row = fileRow({
      id: 'txn_1',
      line: 4,
      category: 'charge',
      currency: 'EUR',
      gross: 1235,
      fee: 66,
      ours: 'pay_1',
    });
    const result = matchShard([row], ours);
    expect(result.matched).toEqual([]);
    expect(result.unmatchedRows).toEqual([]);
    expect(result.unmatchedOurs).toEqual([]);
    expect(result.findings).toEqual([
      {
        row,
        finding: expect.objectContaining({
          type: 'amount_mismatch',
          class: 'manual',
          key: 'charge:pay_1',
          balance_transaction_id: 'txn_1',
          line: 4,
          currency: 'EUR',
          psp_amount_minor: 1235,
          our_amount_minor: 1234,
          payment_id: 'pay_1',
        }),
      },
    ]);
  });

  it('a currency mismatch: manual, both currencies and amounts (the currency decides before the amount)', () => {
    const ours = bookingsOf([booked(payIn('pay_1', 'po_1', 1234))]);
    const row = fileRow({ id: 'txn_1', line: 2, category: 'charge', currency: 'USD', gross: 1299, ours: 'pay_1' });
    const [found] = matchShard([row], ours).findings;
    expect(found?.finding).toMatchObject({
      type: 'currency_mismatch',
      class: 'manual',
      currency: 'USD',
      our_currency: 'EUR',
      psp_amount_minor: 1299,
      our_amount_minor: 1234,
    });
  });

  it('compares a dispute on its net (amount and fee), a charge on its gross', () => {
    const dispute = fileRow({
      id: 'txn_d',
      line: 2,
      category: 'dispute',
      currency: 'EUR',
      gross: -1000,
      fee: 1500,
      ours: 'du_1',
    });
    const charge = fileRow({
      id: 'txn_c',
      line: 3,
      category: 'charge',
      currency: 'EUR',
      gross: 1234,
      fee: 66,
      ours: 'pay_1',
    });
    // Our withdrawal books amount and fee; our pay-in books the gross.
    const ours = bookingsOf([booked(withdrawal('du_1', 1000, 1500)), booked(payIn('pay_1', 'po_1', 1234))]);
    expect(matchShard([dispute, charge], ours).findings).toEqual([]);
    expect(matchShard([dispute, charge], ours).matched).toHaveLength(2);

    // A dispute booked without its fee, a charge booked at its net: both differ.
    const wrong = bookingsOf([booked(withdrawal('du_1', 1000, 0)), booked(payIn('pay_1', 'po_1', 1168))]);
    expect(matchShard([dispute, charge], wrong).findings.map(({ finding }) => finding)).toEqual([
      expect.objectContaining({ type: 'amount_mismatch', psp_amount_minor: -2500, our_amount_minor: -1000 }),
      expect.objectContaining({ type: 'amount_mismatch', psp_amount_minor: 1234, our_amount_minor: 1168 }),
    ]);
  });

  it('a dispute reversal is compared on its net too', () => {
    const row = fileRow({
      id: 'txn_r',
      line: 2,
      category: 'dispute_reversal',
      currency: 'EUR',
      gross: 1000,
      fee: -1500,
      ours: 'du_1',
    });
    const reinstated = disputeReinstatementTransaction({
      dispute_id: 'du_1',
      payment_id: 'pay_d',
      currency: 'EUR',
      amount_minor: 1000,
      fee_minor: 1500,
    });
    const result = matchShard([row], bookingsOf([booked(reinstated)]));
    expect(result.findings).toEqual([]);
    expect(result.matched).toHaveLength(1);
  });

  it('matches one charge row to a payment split across two orders (two ledger transactions, one key)', () => {
    const ours = bookingsOf([booked(payIn('pay_2', 'po_a', 800)), booked(payIn('pay_2', 'po_b', 434))]);
    const row = fileRow({
      id: 'txn_2',
      line: 2,
      category: 'charge',
      currency: 'EUR',
      gross: 1234,
      fee: 66,
      ours: 'pay_2',
    });
    const result = matchShard([row], ours);
    expect(result.findings).toEqual([]);
    expect(result.matched).toHaveLength(1);
    expect(result.matched[0]?.booking.transaction_ids).toEqual(['payin:po_a', 'payin:po_b']);
    expect(result.unmatchedOurs).toEqual([]);
  });

  it('returns the rows with no booking of the day and the bookings no row matched', () => {
    const ours = bookingsOf([
      booked(payIn('pay_1', 'po_1', 1234)),
      booked(refund('rf_9', 700)),
      booked(
        refundReversalPosting({
          refund_id: 'rf_8',
          payment_id: 'pay_r',
          seller_account: 'seller_a',
          currency: 'EUR',
          amount_minor: 300,
          fee_share_minor: 0,
        }).transaction,
      ),
    ]);
    const matchedRow = fileRow({
      id: 'txn_1',
      line: 2,
      category: 'charge',
      currency: 'EUR',
      gross: 1234,
      ours: 'pay_1',
    });
    const otherKey = fileRow({
      id: 'txn_2',
      line: 3,
      category: 'charge',
      currency: 'EUR',
      gross: 500,
      ours: 'pay_other',
    });
    const noKey = fileRow({ id: 'txn_3', line: 4, category: 'charge', currency: 'EUR', gross: 500 });
    const result = matchShard([matchedRow, otherKey, noKey], ours);
    expect(result.matched.map(({ row }) => row.balance_transaction_id)).toEqual(['txn_1']);
    expect(result.unmatchedRows.map((row) => row.balance_transaction_id)).toEqual(['txn_2', 'txn_3']);
    expect(result.unmatchedOurs.map((b) => b.key).sort()).toEqual(['refund:rf_9', 'refund_failure:rf_8']);
    expect(result.findings).toEqual([]);
  });

  it('a second row under a key already matched is left over (not matched twice)', () => {
    const ours = bookingsOf([booked(payIn('pay_1', 'po_1', 1234))]);
    const first = fileRow({ id: 'txn_1', line: 2, category: 'charge', currency: 'EUR', gross: 1234, ours: 'pay_1' });
    const second = fileRow({ id: 'txn_2', line: 3, category: 'charge', currency: 'EUR', gross: 1234, ours: 'pay_1' });
    const result = matchShard([first, second], ours);
    expect(result.matched).toHaveLength(1);
    expect(result.unmatchedRows.map((row) => row.balance_transaction_id)).toEqual(['txn_2']);
  });
});

describe('compare', () => {
  const booking: OurBooking = {
    key: 'charge:pay_1',
    reference: 'pay_1',
    currency: 'EUR',
    amount_minor: 1234,
    day: DATE,
    transaction_ids: ['payin:po_1'],
  };
  it('agrees when currency and amount agree', () => {
    expect(
      compare(fileRow({ id: 't', line: 2, category: 'charge', currency: 'EUR', gross: 1234, ours: 'pay_1' }), booking),
    ).toBeUndefined();
  });
  it('a difference of one minor unit is a mismatch', () => {
    expect(
      compare(fileRow({ id: 't', line: 2, category: 'charge', currency: 'EUR', gross: 1233, ours: 'pay_1' }), booking)
        ?.type,
    ).toBe('amount_mismatch');
  });
});

describe('classifyRow', () => {
  const charge = fileRow({
    id: 'txn_c',
    line: 5,
    category: 'charge',
    currency: 'EUR',
    gross: 1234,
    fee: 66,
    ours: 'pay_1',
  });

  it.each(['UNKNOWN', 'EXECUTING', 'PENDING', 'NOT_STARTED'])(
    'a charge for a payment we hold %s: missed_outcome, settled through the recovery decision',
    (status) => {
      const result = classifyRow(charge, {
        kind: 'payment',
        payment_id: 'pay_1',
        status,
        currency: 'EUR',
        total_minor: 1234,
      });
      expect(result).toEqual({
        finding: expect.objectContaining({
          type: 'missed_outcome',
          class: 'auto_fixed',
          key: 'charge:pay_1',
          balance_transaction_id: 'txn_c',
          line: 5,
          currency: 'EUR',
          psp_amount_minor: 1234,
          our_amount_minor: 0,
          payment_id: 'pay_1',
          fix: { kind: 'settle_payment', payment_id: 'pay_1' },
        }),
      });
    },
  );

  it.each(['FAILED', 'CANCELED'])(
    'a charge for a payment we recorded %s: charged_but_failed, manual, no fix',
    (status) => {
      const result = classifyRow(charge, {
        kind: 'payment',
        payment_id: 'pay_1',
        status,
        currency: 'EUR',
        total_minor: 1234,
      });
      expect('finding' in result && result.finding).toMatchObject({
        type: 'charged_but_failed',
        class: 'manual',
        payment_id: 'pay_1',
      });
      expect('finding' in result && result.finding.fix).toBeUndefined();
    },
  );

  it('a charge for a SUCCESS payment whose pay-in is not booked: unbooked_order, manual', () => {
    const result = classifyRow(charge, {
      kind: 'payment',
      payment_id: 'pay_1',
      status: 'SUCCESS',
      currency: 'EUR',
      total_minor: 1234,
    });
    expect('finding' in result && result.finding).toMatchObject({ type: 'unbooked_order', class: 'manual' });
    expect('finding' in result && result.finding.fix).toBeUndefined();
  });

  it('a refund failure we have not booked: unbooked_reversal, settle_refund', () => {
    const row = fileRow({
      id: 'txn_rf',
      line: 3,
      category: 'refund_failure',
      currency: 'EUR',
      gross: 500,
      ours: 'rf_1',
      payment: 'pay_1',
    });
    expect(classifyRow(row, { kind: 'refund', refund_id: 'rf_1', status: 'SUCCEEDED' })).toEqual({
      finding: expect.objectContaining({
        type: 'unbooked_reversal',
        class: 'auto_fixed',
        key: 'refund_failure:rf_1',
        refund_id: 'rf_1',
        psp_amount_minor: 500,
        fix: { kind: 'settle_refund', refund_id: 'rf_1' },
      }),
    });
  });

  it('a dispute we have not booked: unbooked_reversal, apply_dispute, on its net', () => {
    const row = fileRow({
      id: 'txn_du',
      line: 3,
      category: 'dispute',
      currency: 'EUR',
      gross: -1000,
      fee: 1500,
      ours: 'du_1',
      payment: 'pay_1',
    });
    for (const known of [true, false]) {
      const result = classifyRow(row, { kind: 'dispute', dispute_id: 'du_1', payment_id: 'pay_1', known });
      expect(result).toEqual({
        finding: expect.objectContaining({
          type: 'unbooked_reversal',
          class: 'auto_fixed',
          key: 'dispute:du_1',
          dispute_id: 'du_1',
          payment_id: 'pay_1',
          psp_amount_minor: -2500,
          fix: { kind: 'apply_dispute', dispute_id: 'du_1' },
        }),
      });
    }
  });

  it('a transfer of a payout we hold unsettled: missed_outcome, settle_payout', () => {
    const row = fileRow({ id: 'txn_tr', line: 3, category: 'transfer', currency: 'EUR', gross: -9000, ours: 'po_1' });
    expect(classifyRow(row, { kind: 'payout', payout_id: 'po_1', status: 'UNKNOWN' })).toEqual({
      finding: expect.objectContaining({
        type: 'missed_outcome',
        class: 'auto_fixed',
        key: 'transfer:po_1',
        payout_id: 'po_1',
        fix: { kind: 'settle_payout', payout_id: 'po_1' },
      }),
    });
  });

  it('a row linked to nothing of ours: unknown_row, unclassifiable, no fix', () => {
    const noKey = fileRow({ id: 'txn_u', line: 7, category: 'charge', currency: 'EUR', gross: 999 });
    const result = classifyRow(noKey, { kind: 'none' });
    expect('finding' in result && result.finding).toMatchObject({
      type: 'unknown_row',
      class: 'unclassifiable',
      balance_transaction_id: 'txn_u',
      line: 7,
      psp_amount_minor: 999,
    });
    expect('finding' in result && result.finding.fix).toBeUndefined();
    expect('finding' in result && result.finding.key).toBeUndefined();
    expect('finding' in result && result.finding.detail).toContain('no id of ours');

    const unknownId = classifyRow(charge, { kind: 'none' });
    expect('finding' in unknownId && unknownId.finding).toMatchObject({ type: 'unknown_row', key: 'charge:pay_1' });
    expect('finding' in unknownId && unknownId.finding.detail).toContain('no record under charge:pay_1');
  });

  it('a row booked on another day: matched when it agrees, compared when it does not', () => {
    const booking: OurBooking = {
      key: 'charge:pay_1',
      reference: 'pay_1',
      currency: 'EUR',
      amount_minor: 1234,
      day: PREVIOUS_DAY,
      transaction_ids: ['payin:po_1'],
    };
    expect(classifyRow(charge, { kind: 'booked', booking })).toEqual({ matched: booking });
    expect(classifyRow(charge, { kind: 'booked', booking: { ...booking, amount_minor: 1000 } })).toEqual({
      finding: expect.objectContaining({ type: 'amount_mismatch', psp_amount_minor: 1234, our_amount_minor: 1000 }),
    });
    expect(classifyRow(charge, { kind: 'booked', booking: { ...booking, currency: 'USD' } })).toEqual({
      finding: expect.objectContaining({ type: 'currency_mismatch', our_currency: 'USD' }),
    });
  });
});

describe('classifyOurs', () => {
  const booking: OurBooking = {
    key: 'refund:rf_1',
    reference: 'pay_1',
    currency: 'EUR',
    amount_minor: -500,
    day: DATE,
    transaction_ids: ['refund:rf_1'],
  };

  it('the PSP dates it a later day: timing, auto_fixed, carried forward', () => {
    expect(classifyOurs(booking, NEXT_DAY, DATE)).toEqual(
      expect.objectContaining({
        type: 'timing',
        class: 'auto_fixed',
        key: 'refund:rf_1',
        currency: 'EUR',
        our_amount_minor: -500,
        refund_id: 'rf_1',
        payment_id: 'pay_1',
        fix: { kind: 'carry_forward' },
      }),
    );
  });

  it('the PSP dates it the same day, yet no row: missing_in_settlement, manual', () => {
    const found = classifyOurs(booking, DATE, DATE);
    expect(found).toMatchObject({ type: 'missing_in_settlement', class: 'manual', key: 'refund:rf_1' });
    expect(found?.fix).toBeUndefined();
    expect(found?.detail).toContain(`the PSP dates it ${DATE}`);
  });

  it('the PSP has no record of it: missing_in_settlement', () => {
    const found = classifyOurs(booking, null, DATE);
    expect(found).toMatchObject({ type: 'missing_in_settlement', class: 'manual' });
    expect(found?.detail).toContain('the PSP has no record of it');
  });

  it('the PSP dates it an earlier day (an earlier file carried it): nothing', () => {
    expect(classifyOurs(booking, PREVIOUS_DAY, DATE)).toBeUndefined();
  });

  it('names our ids from the key', () => {
    expect(classifyOurs({ ...booking, key: 'charge:pay_7', reference: 'pay_7' }, null, DATE)?.payment_id).toBe('pay_7');
    expect(classifyOurs({ ...booking, key: 'transfer:po_7', reference: 'po_7' }, null, DATE)?.payout_id).toBe('po_7');
    expect(classifyOurs({ ...booking, key: 'dispute:du_7', reference: 'pay_7' }, null, DATE)).toMatchObject({
      dispute_id: 'du_7',
      payment_id: 'pay_7',
    });
  });
});

describe('mismatchIdOf', () => {
  it('is the date, the type and the subject: the balance transaction, else the key, else seller and currency', () => {
    expect(mismatchIdOf(DATE, { type: 'duplicate_row', balance_transaction_id: 'txn_1', key: 'charge:pay_1' })).toBe(
      'mm_20240501_duplicate_row_txn_1',
    );
    expect(mismatchIdOf(DATE, { type: 'timing', key: 'charge:pay_1' })).toBe('mm_20240501_timing_charge:pay_1');
    expect(mismatchIdOf(DATE, { type: 'wallet_drift', seller_account: 'seller_a', currency: 'EUR' })).toBe(
      'mm_20240501_wallet_drift_seller_a:EUR',
    );
  });
});

describe('totals', () => {
  it('adds rows per currency, matched and unmatched apart, and merges shards', () => {
    const a = fileRow({ id: 'a', line: 2, category: 'charge', currency: 'EUR', gross: 1000, fee: 30, ours: 'p' });
    const b = fileRow({ id: 'b', line: 3, category: 'refund', currency: 'EUR', gross: -200, ours: 'r' });
    const c = fileRow({ id: 'c', line: 4, category: 'charge', currency: 'JPY', gross: 500, fee: 20, ours: 'q' });
    const one = addToTotals(addToTotals({}, a, true), b, false);
    const two = addToTotals({}, c, true);
    expect(mergeTotals(mergeTotals({}, one), two)).toEqual<Record<string, CurrencyTotals>>({
      EUR: {
        rows: 2,
        gross_minor: 800,
        fee_minor: 30,
        net_minor: 770,
        matched_net_minor: 970,
        unmatched_net_minor: -200,
      },
      JPY: { rows: 1, gross_minor: 500, fee_minor: 20, net_minor: 480, matched_net_minor: 480, unmatched_net_minor: 0 },
    });
  });
});

// ---- A property: random days, random faults, every fault found once and nothing else ----------------------------

const KINDS = [
  'charge',
  'split_charge',
  'refund',
  'refund_failure',
  'transfer',
  'transfer_reversal',
  'dispute',
  'dispute_reversal',
] as const;
const CURRENCIES = ['EUR', 'USD', 'JPY', 'KWD'] as const;
/** What happens to one money movement's row. */
type Fault = 'none' | 'amount' | 'currency' | 'drop' | 'late' | 'carried';

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 10, arbitrary: fc.constant<Fault>('none') },
  { weight: 1, arbitrary: fc.constant<Fault>('amount') },
  { weight: 1, arbitrary: fc.constant<Fault>('currency') },
  { weight: 1, arbitrary: fc.constant<Fault>('drop') },
  { weight: 1, arbitrary: fc.constant<Fault>('late') },
  { weight: 1, arbitrary: fc.constant<Fault>('carried') },
);

const movementArb = fc.record({
  kind: fc.constantFrom(...KINDS),
  currency: fc.constantFrom(...CURRENCIES),
  amount: fc.integer({ min: 1, max: 5_000_000 }),
  /** Split charge: the first order's share of the amount, per mille. */
  split: fc.integer({ min: 0, max: 1000 }),
  fee: fc.integer({ min: 0, max: 5_000 }),
  fault: faultArb,
  /** About one row in five given twice. */
  duplicate: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  delta: fc.integer({ min: -10_000, max: 10_000 }).filter((d) => d !== 0),
  otherCurrency: fc.integer({ min: 1, max: CURRENCIES.length - 1 }),
  order: fc.integer({ min: 0, max: 1_000_000 }),
  duplicateAfter: fc.integer({ min: 1, max: 1_000_000 }),
});
const extraRowArb = fc.record({
  currency: fc.constantFrom(...CURRENCIES),
  amount: fc.integer({ min: 1, max: 5_000_000 }),
  /** An unknown charge: with a payment id in its metadata that we do not know, or none (made at the PSP). */
  withId: fc.boolean(),
  duplicate: fc.boolean(),
  order: fc.integer({ min: 0, max: 1_000_000 }),
  duplicateAfter: fc.integer({ min: 1, max: 1_000_000 }),
});

interface Expected {
  type: Finding['type'];
  subject: string;
  line?: number;
}

describe('property: a day with injected faults', () => {
  it('finds every injected fault once with its type and class, and nothing else; fees and totals add up', () => {
    fc.assert(
      fc.property(
        fc.array(movementArb, { maxLength: 60 }),
        fc.array(extraRowArb, { maxLength: 5 }),
        fc.array(extraRowArb, { maxLength: 5 }),
        (movements, unknownRows, feeRows) => {
          // Our side (the ledger) and the file's rows before they are ordered and numbered.
          const ourTransactions: BookedTransaction[] = [];
          /** Bookings of another day (found by the settlement-key index when a row is left over). */
          const elsewhere: BookedTransaction[] = [];
          const pspDays = new Map<string, string>();
          const expected: Expected[] = [];
          type Draft = { spec: Parameters<typeof fileRow>[0]; order: number; seq: number; duplicate?: Expected };
          const drafts: Draft[] = [];
          let expectedMatched = 0;
          let expectedFees = 0;
          const uniqueNets: Record<string, number> = {};
          const addNet = (currency: string, net: number) => {
            uniqueNets[currency] = (uniqueNets[currency] ?? 0) + net;
          };

          movements.forEach((m, i) => {
            const id = `txn_${i}`;
            let transactions: LedgerTransaction[];
            let category: Category;
            let ours: string;
            let gross: number;
            let fee = 0;
            switch (m.kind) {
              case 'charge':
                transactions = [payIn(`pay_${i}`, `po_${i}`, m.amount, m.currency)];
                [category, ours, gross, fee] = ['charge', `pay_${i}`, m.amount, m.fee];
                break;
              case 'split_charge': {
                const first = Math.max(1, Math.min(m.amount - 1, Math.floor((m.amount * m.split) / 1000)));
                transactions =
                  m.amount < 2
                    ? [payIn(`pay_${i}`, `po_${i}_a`, m.amount, m.currency)]
                    : [
                        payIn(`pay_${i}`, `po_${i}_a`, first, m.currency),
                        payIn(`pay_${i}`, `po_${i}_b`, m.amount - first, m.currency),
                      ];
                [category, ours, gross, fee] = ['charge', `pay_${i}`, m.amount, m.fee];
                break;
              }
              case 'refund':
                transactions = [refund(`rf_${i}`, m.amount, m.currency)];
                [category, ours, gross] = ['refund', `rf_${i}`, -m.amount];
                break;
              case 'refund_failure':
                transactions = [
                  refundReversalPosting({
                    refund_id: `rf_${i}`,
                    payment_id: `pay_r${i}`,
                    seller_account: 'seller_a',
                    currency: m.currency,
                    amount_minor: m.amount,
                    fee_share_minor: 0,
                  }).transaction,
                ];
                [category, ours, gross] = ['refund_failure', `rf_${i}`, m.amount];
                break;
              case 'transfer':
                transactions = [transfer(`po_${i}`, m.amount, m.currency)];
                [category, ours, gross] = ['transfer', `po_${i}`, -m.amount];
                break;
              case 'transfer_reversal':
                transactions = [
                  transferReversalPosting({
                    payout_id: `po_${i}`,
                    seller_account: 'seller_a',
                    currency: m.currency,
                    amount_minor: m.amount,
                  }).transaction,
                ];
                [category, ours, gross] = ['transfer_reversal', `po_${i}`, m.amount];
                break;
              case 'dispute':
                transactions = [withdrawal(`du_${i}`, m.amount, m.fee, m.currency)];
                [category, ours, gross, fee] = ['dispute', `du_${i}`, -m.amount, m.fee];
                break;
              case 'dispute_reversal':
                transactions = [
                  disputeReinstatementTransaction({
                    dispute_id: `du_${i}`,
                    payment_id: `pay_d${i}`,
                    currency: m.currency,
                    amount_minor: m.amount,
                    fee_minor: m.fee,
                  }),
                ];
                [category, ours, gross, fee] = ['dispute_reversal', `du_${i}`, m.amount, -m.fee];
                break;
            }
            const key = settlementKeyOf(transactions[0]!.transaction_id, transactions[0]!.reference)!;
            const bookedDay = m.fault === 'carried' ? PREVIOUS_DAY : DATE;
            (m.fault === 'carried' ? elsewhere : ourTransactions).push(
              ...transactions.map((t) => booked(t, bookedDay)),
            );
            pspDays.set(key, m.fault === 'late' ? NEXT_DAY : DATE);

            if (m.fault === 'drop') {
              expected.push({ type: 'missing_in_settlement', subject: key });
              return;
            }
            if (m.fault === 'late') {
              expected.push({ type: 'timing', subject: key });
              return;
            }
            const currency =
              m.fault === 'currency'
                ? CURRENCIES[(CURRENCIES.indexOf(m.currency) + m.otherCurrency) % CURRENCIES.length]!
                : m.currency;
            const spec = {
              id,
              line: 0,
              category,
              currency,
              gross: gross + (m.fault === 'amount' ? m.delta : 0),
              fee,
              ours,
              payment: `pay_x${i}`,
            };
            if (m.fault === 'amount') expected.push({ type: 'amount_mismatch', subject: id });
            if (m.fault === 'currency') expected.push({ type: 'currency_mismatch', subject: id });
            if (m.fault === 'none' || m.fault === 'carried') {
              expectedMatched += 1;
              if (category === 'charge' && fee !== 0) expectedFees += 1;
            }
            addNet(currency, spec.gross - fee);
            drafts.push({ spec, order: m.order, seq: drafts.length });
            if (m.duplicate) {
              const found: Expected = { type: 'duplicate_row', subject: id };
              expected.push(found);
              drafts.push({ spec, order: m.order + m.duplicateAfter, seq: 1e9 + drafts.length, duplicate: found });
            }
          });
          const extra = (rows: typeof unknownRows, kind: 'unknown' | 'fee') =>
            rows.forEach((r, j) => {
              const id = `txn_${kind}_${j}`;
              const spec: Parameters<typeof fileRow>[0] =
                kind === 'fee'
                  ? { id, line: 0, category: 'fee', currency: r.currency, gross: -r.amount }
                  : {
                      id,
                      line: 0,
                      category: 'charge',
                      currency: r.currency,
                      gross: r.amount,
                      fee: Math.min(r.amount, 30),
                      ...(r.withId && { ours: `pay_unknown_${j}` }),
                    };
              if (kind === 'unknown') expected.push({ type: 'unknown_row', subject: id });
              else {
                expectedMatched += 1;
                expectedFees += 1;
              }
              addNet(spec.currency, spec.gross - (spec.fee ?? 0));
              drafts.push({ spec, order: r.order, seq: drafts.length });
              if (r.duplicate) {
                const found: Expected = { type: 'duplicate_row', subject: id };
                expected.push(found);
                drafts.push({ spec, order: r.order + r.duplicateAfter, seq: 1e9 + drafts.length, duplicate: found });
              }
            });
          extra(unknownRows, 'unknown');
          extra(feeRows, 'fee');

          // The file: rows in their order, numbered from line 2 (a duplicate always after its original).
          drafts.sort((a, b) => a.order - b.order || a.seq - b.seq);
          const rows = drafts.map((d, index) => {
            if (d.duplicate) d.duplicate.line = index + 2;
            return fileRow({ ...d.spec, line: index + 2 });
          });

          // As the run does it: shards of rows and of our day's transactions by the same function.
          const elsewhereBookings = bookingsOf(elsewhere);
          const lookup = (row: SettlementRow): Lookup => {
            const key = rowSettlementKey(row);
            const booking = key === undefined ? undefined : elsewhereBookings.get(key);
            return booking ? { kind: 'booked', booking } : { kind: 'none' };
          };
          const reported: Expected[] = [];
          const findings: Finding[] = [];
          let matched = 0;
          let fees = 0;
          const totals: Record<string, CurrencyTotals> = {};
          for (let shard = 0; shard < SETTLEMENT_SHARDS; shard++) {
            const shardRows = rows.filter(
              (row) => settlementShardOf(rowSettlementKey(row) ?? row.balance_transaction_id) === shard,
            );
            const shardOurs = ourTransactions.filter(
              (t) => settlementShardOf(t.settlement_key ?? t.transaction_id) === shard,
            );
            const joined = matchShard(shardRows, bookingsOf(shardOurs));
            const shardTotals: Record<string, CurrencyTotals> = {};
            /** A fee booked from a row: counted, and its posting goes into the row's shard. */
            const bookFee = (row: SettlementRow) => {
              const fee = feeToBook(row);
              if (!fee) return;
              fees += 1;
              expect(settlementShardOf(fee.shard_key)).toBe(shard);
            };
            for (const { row } of [...joined.matched, ...joined.feeRows.map((row) => ({ row }))]) {
              matched += 1;
              bookFee(row);
              addToTotals(shardTotals, row, true);
            }
            for (const { row, finding } of joined.findings) {
              findings.push(finding);
              if (finding.type !== 'duplicate_row') addToTotals(shardTotals, row, false);
            }
            for (const row of joined.unmatchedRows) {
              const classified = classifyRow(row, lookup(row));
              if ('matched' in classified) {
                matched += 1;
                bookFee(row);
                addToTotals(shardTotals, row, true);
              } else {
                findings.push(classified.finding);
                addToTotals(shardTotals, row, false);
              }
            }
            for (const booking of joined.unmatchedOurs) {
              const found = classifyOurs(booking, pspDays.get(booking.key) ?? null, DATE);
              if (found) findings.push(found);
            }
            mergeTotals(totals, shardTotals);
          }
          for (const f of findings) {
            expect(f.class).toBe(CLASS_OF[f.type]);
            reported.push({
              type: f.type,
              subject: (f.balance_transaction_id ?? f.key) as string,
              ...(f.type === 'duplicate_row' && { line: f.line }),
            });
          }
          const sort = (list: Expected[]) =>
            [...list].sort((a, b) => `${a.type} ${a.subject}`.localeCompare(`${b.type} ${b.subject}`));
          expect(sort(reported)).toEqual(sort(expected));
          expect(matched).toBe(expectedMatched);
          expect(fees).toBe(expectedFees);
          const nets = Object.fromEntries(Object.entries(totals).map(([c, t]) => [c, t.net_minor]));
          expect(nets).toEqual(uniqueNets);
          for (const t of Object.values(totals)) {
            expect(t.matched_net_minor + t.unmatched_net_minor).toBe(t.net_minor);
            expect(t.gross_minor - t.fee_minor).toBe(t.net_minor);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
