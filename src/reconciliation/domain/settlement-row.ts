/**
 * One row of the PSP's settlement file (Stripe's itemized balance-change report,
 * `balance_change_from_activity.itemized.3`), amounts converted from the file's major units to integer minor units
 * with the money module, and the key by which it meets our ledger.
 */
import { isSupportedCurrency, MoneyError, signedMinorUnits } from '../../core/money';

/** The report's columns, in the file's order. */
export const SETTLEMENT_COLUMNS = [
  'balance_transaction_id',
  'created_utc',
  'available_on_utc',
  'currency',
  'gross',
  'fee',
  'net',
  'reporting_category',
  'source_id',
  'description',
  'customer_facing_amount',
  'customer_facing_currency',
  'charge_id',
  'payment_intent_id',
  'connected_account_id',
  'automatic_payout_id',
  'automatic_payout_effective_at_utc',
  'payment_method_type',
  'card_brand',
  'card_country',
  'dispute_reason',
  'statement_descriptor',
  'payment_metadata[payment_id]',
  'payment_metadata[checkout_id]',
  'refund_metadata[refund_id]',
  'transfer_metadata[payout_id]',
] as const;

export interface SettlementRow {
  /** 1-based line in the file (the header is line 1). */
  line: number;
  balance_transaction_id: string;
  /** YYYY-MM-DD (UTC) of the balance transaction's creation (the row's day). */
  day: string;
  /** ISO 4217, upper case. */
  currency: string;
  gross_minor: number;
  fee_minor: number;
  net_minor: number;
  reporting_category: string;
  source_id: string;
  /** A fee row's description (other rows': empty; matching does not read it, and a day can hold a million rows). */
  description: string;
  payment_intent_id: string;
  dispute_reason: string;
  payment_id: string;
  refund_id: string;
  payout_id: string;
}

/** A row the run cannot read: the line, the column and what is wrong. The run fails on it, naming all three. */
export class SettlementRowError extends Error {
  override readonly name = 'SettlementRowError';
  constructor(
    readonly lineNumber: number,
    readonly column: string,
    problem: string,
  ) {
    super(`settlement file line ${lineNumber}, column ${column}: ${problem}`);
  }
}

/** Checks the header row: every column, in order. */
export function checkHeader(header: readonly string[]): void {
  SETTLEMENT_COLUMNS.forEach((column, index) => {
    if (header[index] !== column) {
      throw new SettlementRowError(
        1,
        column,
        `expected column ${index + 1} to be '${column}', found '${header[index] ?? ''}'`,
      );
    }
  });
}

const TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/;

/** A time that exists (no 30 February, no 25:61). */
function isRealTime(day: string, time: string): boolean {
  const t = Date.parse(`${day}T${time}Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 19) === `${day}T${time}`;
}

/** Reads one data row (values in SETTLEMENT_COLUMNS order). */
export function parseRow(values: readonly string[], line: number): SettlementRow {
  const field = (column: (typeof SETTLEMENT_COLUMNS)[number]) => values[SETTLEMENT_COLUMNS.indexOf(column)] ?? '';
  const required = (column: (typeof SETTLEMENT_COLUMNS)[number]) => {
    const value = field(column);
    if (value === '') throw new SettlementRowError(line, column, 'is empty');
    return value;
  };
  const id = required('balance_transaction_id');
  const created = TIME.exec(required('created_utc'));
  if (!created || !isRealTime(created[1] ?? '', created[2] ?? '')) {
    throw new SettlementRowError(
      line,
      'created_utc',
      `'${field('created_utc')}' is not a UTC time YYYY-MM-DD HH:MM:SS`,
    );
  }
  const currency = required('currency').toUpperCase();
  if (!isSupportedCurrency(currency)) throw new SettlementRowError(line, 'currency', `'${currency}' is not supported`);
  const amount = (column: 'gross' | 'fee' | 'net') => {
    try {
      return signedMinorUnits(required(column), currency);
    } catch (error) {
      if (error instanceof MoneyError) throw new SettlementRowError(line, column, error.message);
      throw error;
    }
  };
  const gross = amount('gross');
  const fee = amount('fee');
  const net = amount('net');
  if (gross - fee !== net) throw new SettlementRowError(line, 'net', `net ${field('net')} is not gross - fee`);
  return {
    line,
    balance_transaction_id: id,
    day: created[1] ?? '',
    currency,
    gross_minor: gross,
    fee_minor: fee,
    net_minor: net,
    reporting_category: required('reporting_category'),
    source_id: field('source_id'),
    description: field('reporting_category') === 'fee' ? field('description') : '',
    payment_intent_id: field('payment_intent_id'),
    dispute_reason: field('dispute_reason'),
    payment_id: field('payment_metadata[payment_id]'),
    refund_id: field('refund_metadata[refund_id]'),
    payout_id: field('transfer_metadata[payout_id]'),
  };
}

/**
 * The settlement key of a row (the same as the ledger's, `settlementKeyOf`), from our ids in the PSP object's
 * metadata; a dispute by the PSP's dispute id (ours too). Undefined: a row linked to nothing we could have made.
 */
export function rowSettlementKey(row: SettlementRow): string | undefined {
  switch (row.reporting_category) {
    case 'charge':
      return row.payment_id ? `charge:${row.payment_id}` : undefined;
    case 'refund':
      return row.refund_id ? `refund:${row.refund_id}` : undefined;
    case 'refund_failure':
      return row.refund_id ? `refund_failure:${row.refund_id}` : undefined;
    case 'transfer':
      return row.payout_id ? `transfer:${row.payout_id}` : undefined;
    case 'transfer_reversal':
      return row.payout_id ? `transfer_reversal:${row.payout_id}` : undefined;
    case 'dispute':
      return row.source_id ? `dispute:${row.source_id}` : undefined;
    case 'dispute_reversal':
      return row.source_id ? `dispute_reversal:${row.source_id}` : undefined;
    default:
      return undefined;
  }
}

/** A row that is only the PSP's fee (Stripe's `fee` category: a monthly fee, no source). */
export const isFeeRow = (row: SettlementRow) => row.reporting_category === 'fee';

/**
 * The amount of a row our PSP clearing account moved by: the gross, except for disputes, whose fee our dispute
 * booking already carries (the withdrawal books amount and fee), so the net.
 */
export function clearingAmountOf(row: SettlementRow): number {
  return row.reporting_category === 'dispute' || row.reporting_category === 'dispute_reversal'
    ? row.net_minor
    : row.gross_minor;
}

/**
 * The PSP fee of a row that reconciliation books (platform expense): a charge's or refund's processing fee, a fee
 * row's whole amount. Dispute fees are booked by the dispute flow; transfers carry none.
 */
export function bookableFeeOf(row: SettlementRow): number {
  if (isFeeRow(row)) return -row.net_minor;
  if (
    row.reporting_category === 'charge' ||
    row.reporting_category === 'refund' ||
    row.reporting_category === 'refund_failure'
  ) {
    return row.fee_minor;
  }
  return 0;
}
