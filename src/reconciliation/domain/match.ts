/**
 * Matching a settlement file against our ledger: plain functions, no I/O, the same code for the run and the
 * benchmark. A day is matched in shards (the file's rows and the ledger's transactions of the day share one shard
 * function on the settlement key), each shard in three phases with I/O between them done by the caller:
 *
 *   1. matchShard: duplicates counted once, rows joined to our bookings of the day by key, amounts and currencies
 *      compared; what is left is rows without a booking of that day, and bookings without a row;
 *   2. classifyRow: each left-over row, with what the caller found of ours under its key (a booking of another
 *      day, or the payment / refund / dispute / payout it names, or nothing);
 *   3. classifyOurs: each left-over booking, with the day the PSP itself dates that money movement.
 */

import { type Finding, finding } from './mismatch';
import { bookableFeeOf, clearingAmountOf, isFeeRow, rowSettlementKey, type SettlementRow } from './settlement-row';

/** What our ledger booked under one settlement key on one day (a charge: the sum of its orders' pay-ins). */
export interface OurBooking {
  key: string;
  /** The ledger's reference of the first transaction (a payment, payout... id). */
  reference: string;
  currency: string;
  /** The PSP clearing account's movement, summed over the key's transactions. */
  amount_minor: number;
  /** The UTC day of booking (the earliest of the key's transactions). */
  day: string;
  transaction_ids: string[];
}

/** A ledger header as the by-day / by-settlement-key indexes give it. */
export interface BookedTransaction {
  transaction_id: string;
  reference: string;
  day: string;
  settlement_key?: string;
  clearing_minor?: number;
  currency?: string;
}

/** Groups a day's (or a key's) transactions into bookings by settlement key; others are ignored. */
export function bookingsOf(transactions: Iterable<BookedTransaction>): Map<string, OurBooking> {
  const bookings = new Map<string, OurBooking>();
  for (const t of transactions) {
    if (t.settlement_key === undefined || t.clearing_minor === undefined || t.currency === undefined) continue;
    const known = bookings.get(t.settlement_key);
    if (known) {
      known.amount_minor += t.clearing_minor;
      known.transaction_ids.push(t.transaction_id);
      if (t.day < known.day) known.day = t.day;
    } else {
      bookings.set(t.settlement_key, {
        key: t.settlement_key,
        reference: t.reference,
        currency: t.currency,
        amount_minor: t.clearing_minor,
        day: t.day,
        transaction_ids: [t.transaction_id],
      });
    }
  }
  return bookings;
}

/** A PSP fee to book (platform expense), keyed by its balance transaction. */
export interface FeeToBook {
  balance_transaction_id: string;
  currency: string;
  fee_minor: number;
  value_date: string;
  description: string;
  /** The row's shard key: the fee's ledger transaction goes into the shard that matches the row. */
  shard_key: string;
}

export function feeToBook(row: SettlementRow): FeeToBook | undefined {
  const fee = bookableFeeOf(row);
  if (fee === 0) return undefined;
  return {
    balance_transaction_id: row.balance_transaction_id,
    currency: row.currency,
    fee_minor: fee,
    value_date: row.day,
    shard_key: rowSettlementKey(row) ?? row.balance_transaction_id,
    description: isFeeRow(row)
      ? `PSP fee ${row.balance_transaction_id}${row.description ? `: ${row.description}` : ''}`
      : `PSP ${row.reporting_category} fee of ${row.source_id || row.balance_transaction_id}`,
  };
}

/** How one row ended. */
export type RowOutcome = 'matched' | 'fee' | 'duplicate' | 'mismatch' | 'fixed';

export interface ShardMatch {
  /** Rows matched to a booking of the day, amounts and currency equal. */
  matched: Array<{ row: SettlementRow; booking: OurBooking }>;
  /** Fee rows (no source): booked, nothing to match. */
  feeRows: SettlementRow[];
  /** Mismatches found by the join (duplicates, amount and currency differences). */
  findings: Array<{ row: SettlementRow; finding: Finding }>;
  /** Rows with no booking of the day under their key (or no key): phase 2. */
  unmatchedRows: SettlementRow[];
  /** Bookings of the day no row matched: phase 3. */
  unmatchedOurs: OurBooking[];
}

/** Phase 1: one shard's rows against our bookings of the day (a map by key, consumed: matched keys are removed). */
export function matchShard(rows: Iterable<SettlementRow>, ours: Map<string, OurBooking>): ShardMatch {
  const result: ShardMatch = { matched: [], feeRows: [], findings: [], unmatchedRows: [], unmatchedOurs: [] };
  const seen = new Set<string>();
  const remaining = new Map(ours);
  for (const row of rows) {
    if (seen.has(row.balance_transaction_id)) {
      result.findings.push({
        row,
        finding: finding('duplicate_row', {
          ...idsOf(row, rowSettlementKey(row)),
          balance_transaction_id: row.balance_transaction_id,
          line: row.line,
          currency: row.currency,
          psp_amount_minor: row.gross_minor,
          detail: `balance transaction ${row.balance_transaction_id} appears more than once in the file (again on line ${row.line}); counted once`,
          fix: { kind: 'count_once' },
        }),
      });
      continue;
    }
    seen.add(row.balance_transaction_id);
    if (isFeeRow(row)) {
      result.feeRows.push(row);
      continue;
    }
    const key = rowSettlementKey(row);
    const booking = key === undefined ? undefined : remaining.get(key);
    if (!booking || key === undefined) {
      result.unmatchedRows.push(row);
      continue;
    }
    remaining.delete(key);
    const compared = compare(row, booking);
    if (compared) result.findings.push({ row, finding: compared });
    else result.matched.push({ row, booking });
  }
  result.unmatchedOurs = [...remaining.values()];
  return result;
}

/** A row against the booking of its key: currency first, then the amount. Undefined when they agree. */
export function compare(row: SettlementRow, booking: OurBooking): Finding | undefined {
  const ids = idsOf(row, booking.key);
  const base = {
    key: booking.key,
    balance_transaction_id: row.balance_transaction_id,
    line: row.line,
    currency: row.currency,
    psp_amount_minor: clearingAmountOf(row),
    our_amount_minor: booking.amount_minor,
    ...ids,
  };
  if (row.currency !== booking.currency) {
    return finding('currency_mismatch', {
      ...base,
      our_currency: booking.currency,
      detail: `the PSP's ${row.reporting_category} ${row.source_id} is in ${row.currency}; our ledger booked ${booking.currency}`,
    });
  }
  if (clearingAmountOf(row) !== booking.amount_minor) {
    return finding('amount_mismatch', {
      ...base,
      detail: `the PSP's ${row.reporting_category} ${row.source_id} moved ${clearingAmountOf(row)} minor units of ${row.currency}; our ledger booked ${booking.amount_minor}`,
    });
  }
  return undefined;
}

/** What the caller found of ours for a left-over row's key. */
export type Lookup =
  /** A booking under the key, of another day than the file's. */
  | { kind: 'booked'; booking: OurBooking }
  /** The payment the charge names, not booked (yet). */
  | { kind: 'payment'; payment_id: string; status: string; currency: string; total_minor: number }
  /** The refund the row names, its failure (or itself) not booked. */
  | { kind: 'refund'; refund_id: string; status: string }
  /** The dispute's movement not booked; `known`: we have a dispute record at all. */
  | { kind: 'dispute'; dispute_id: string; payment_id: string; known: boolean }
  /** The payout whose transfer (or reversal) the row is, not booked. */
  | { kind: 'payout'; payout_id: string; status: string }
  | { kind: 'none' };

/** Payment statuses whose outcome we do not hold yet: a charge at the PSP settles them (missed_outcome). */
const UNSETTLED_PAYMENT = new Set(['NOT_STARTED', 'EXECUTING', 'PENDING', 'UNKNOWN']);

/** The result of classifying one row: matched (to a booking of another day), or a finding. */
export type RowClassification = { matched: OurBooking } | { finding: Finding };

/** Phase 2: a row without a booking of the file's day, with what the caller found under its key. */
export function classifyRow(row: SettlementRow, lookup: Lookup): RowClassification {
  const key = rowSettlementKey(row);
  const common = {
    balance_transaction_id: row.balance_transaction_id,
    line: row.line,
    currency: row.currency,
    psp_amount_minor: clearingAmountOf(row),
    ...(key !== undefined && { key }),
    ...idsOf(row, key),
  };
  const what = `${row.reporting_category} ${row.source_id || row.balance_transaction_id}`;
  switch (lookup.kind) {
    case 'booked': {
      const compared = compare(row, lookup.booking);
      return compared ? { finding: compared } : { matched: lookup.booking };
    }
    case 'payment': {
      if (UNSETTLED_PAYMENT.has(lookup.status)) {
        return {
          finding: finding('missed_outcome', {
            ...common,
            our_amount_minor: 0,
            detail: `the PSP charged ${what} for payment ${lookup.payment_id}, which we hold ${lookup.status} (a missed response or webhook); settled through the recovery decision`,
            fix: { kind: 'settle_payment', payment_id: lookup.payment_id },
          }),
        };
      }
      if (lookup.status === 'FAILED' || lookup.status === 'CANCELED') {
        return {
          finding: finding('charged_but_failed', {
            ...common,
            our_amount_minor: 0,
            detail: `the PSP charged ${what}, but we recorded payment ${lookup.payment_id} ${lookup.status}: the buyer paid for nothing; decide on a refund`,
          }),
        };
      }
      return {
        finding: finding('unbooked_order', {
          ...common,
          our_amount_minor: 0,
          detail: `payment ${lookup.payment_id} is ${lookup.status} and charged at the PSP (${what}), but its pay-in is not in the ledger`,
        }),
      };
    }
    case 'refund':
      return {
        finding: finding('unbooked_reversal', {
          ...common,
          our_amount_minor: 0,
          detail: `the PSP has ${what} for refund ${lookup.refund_id}, which we hold ${lookup.status} without booking it; settled from the PSP's record`,
          fix: { kind: 'settle_refund', refund_id: lookup.refund_id },
        }),
      };
    case 'dispute':
      return {
        finding: finding('unbooked_reversal', {
          ...common,
          dispute_id: lookup.dispute_id,
          payment_id: lookup.payment_id,
          our_amount_minor: 0,
          detail: `the PSP booked ${what} for payment ${lookup.payment_id}${lookup.known ? '' : ' (a dispute we had not heard of)'}, not in our ledger; the dispute is applied from the PSP's state`,
          fix: { kind: 'apply_dispute', dispute_id: lookup.dispute_id },
        }),
      };
    case 'payout':
      return {
        finding: finding('missed_outcome', {
          ...common,
          our_amount_minor: 0,
          detail: `the PSP made ${what} for payout ${lookup.payout_id}, which we hold ${lookup.status} without booking it; settled from the PSP's record`,
          fix: { kind: 'settle_payout', payout_id: lookup.payout_id },
        }),
      };
    case 'none':
      return {
        finding: finding('unknown_row', {
          ...common,
          detail: `${what} (${row.reporting_category}${row.payment_intent_id ? `, ${row.payment_intent_id}` : ''}) is linked to nothing of ours${key === undefined ? ' (no id of ours in its metadata)' : ` (no record under ${key})`}: investigate`,
        }),
      };
  }
}

/**
 * Phase 3: a booking of ours dated `date` that no row of that day's file matched, with the UTC day the PSP dates
 * the money movement (null: the PSP has no such record). Undefined: not a mismatch (the PSP dates it earlier: an
 * earlier day's file carried it).
 */
export function classifyOurs(booking: OurBooking, pspDay: string | null, date: string): Finding | undefined {
  const base = {
    key: booking.key,
    currency: booking.currency,
    our_amount_minor: booking.amount_minor,
    ...idsOfKey(booking.key, booking.reference),
  };
  if (pspDay !== null && pspDay < date) return undefined;
  if (pspDay !== null && pspDay > date) {
    return finding('timing', {
      ...base,
      detail: `${booking.key} was booked on ${date}; the PSP dates it ${pspDay}, so its row is in a later file (cut-off); carried forward`,
      fix: { kind: 'carry_forward' },
    });
  }
  return finding('missing_in_settlement', {
    ...base,
    detail:
      pspDay === null
        ? `${booking.key} is in our ledger on ${date}, but the PSP has no record of it`
        : `${booking.key} is in our ledger on ${date} and the PSP dates it ${date}, but the day's settlement file has no row for it`,
  });
}

/** Our ids named by a row (from its key and metadata). */
function idsOf(row: SettlementRow, key: string | undefined): Partial<Finding> {
  return {
    ...(key ? idsOfKey(key, '') : {}),
    ...(row.payment_id && { payment_id: row.payment_id }),
    ...(row.refund_id && { refund_id: row.refund_id }),
    ...(row.payout_id && { payout_id: row.payout_id }),
  };
}

function idsOfKey(key: string, reference: string): Partial<Finding> {
  const [kind, id = ''] = key.split(/:(.*)/s);
  switch (kind) {
    case 'charge':
      return { payment_id: id };
    case 'refund':
    case 'refund_failure':
      return { refund_id: id, ...(reference && { payment_id: reference }) };
    case 'transfer':
    case 'transfer_reversal':
      return { payout_id: id };
    case 'dispute':
    case 'dispute_reversal':
      return { dispute_id: id, ...(reference && { payment_id: reference }) };
    default:
      return {};
  }
}

/** Per-currency totals of a day's rows, for the run and the report (minor units). */
export interface CurrencyTotals {
  rows: number;
  gross_minor: number;
  fee_minor: number;
  net_minor: number;
  matched_net_minor: number;
  unmatched_net_minor: number;
}

const emptyTotals = (): CurrencyTotals => ({
  rows: 0,
  gross_minor: 0,
  fee_minor: 0,
  net_minor: 0,
  matched_net_minor: 0,
  unmatched_net_minor: 0,
});

export function addToTotals(
  totals: Record<string, CurrencyTotals>,
  row: SettlementRow,
  matched: boolean,
): Record<string, CurrencyTotals> {
  const t = totals[row.currency] ?? emptyTotals();
  totals[row.currency] = t;
  t.rows += 1;
  t.gross_minor += row.gross_minor;
  t.fee_minor += row.fee_minor;
  t.net_minor += row.net_minor;
  if (matched) t.matched_net_minor += row.net_minor;
  else t.unmatched_net_minor += row.net_minor;
  return totals;
}

export function mergeTotals(
  into: Record<string, CurrencyTotals>,
  from: Record<string, CurrencyTotals>,
): Record<string, CurrencyTotals> {
  for (const [currency, t] of Object.entries(from)) {
    const target = into[currency] ?? emptyTotals();
    into[currency] = target;
    for (const field of Object.keys(t) as Array<keyof CurrencyTotals>) target[field] += t[field];
  }
  return into;
}
