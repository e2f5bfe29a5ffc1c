// Stripe's Reports API for the platform's settlement file: report runs (`frr_...`) of the itemized balance report
// `balance_change_from_activity.itemized.3`, whose result is a File (`file_...`) holding a CSV (reporting-routes.ts
// serves them).
//
// A run's CSV is produced when the run is created (later changes to the balance do not change it; a new run of the
// same interval shows them). The run answers `pending` at creation and to the first `pendingPolls` retrieves
// (setting report_pending_polls, default 1), then `succeeded` with `succeeded_at` and `result`, the File, whose `url`
// is `<publicUrl>/v1/files/<id>/contents`.
//
// The CSV: a header row, then one row per balance transaction OF THE PLATFORM (never a connected account's) whose
// `created` (money clock) is in [interval_start, interval_end), oldest first then by id; RFC 4180 quoting where a
// value needs it; lines end with "\n". Columns (REPORT_COLUMNS; a run may select and order a subset):
//   balance_transaction_id, created_utc, available_on_utc   `YYYY-MM-DD HH:MM:SS`, UTC
//   currency                       lowercase, the balance transaction's
//   gross, fee, net                the transaction's amount, fee and net in major units with the currency's decimals
//                                  (12.34, -0.65; JPY 1200): signed as the balance transaction is
//   reporting_category, description, source_id (the transaction's `source`; empty for a fee row)
//   customer_facing_amount/_currency   charge, refund and refund_failure rows: the gross and its currency
//   charge_id, payment_intent_id   rows of a payment: charge, refund, refund_failure, dispute, dispute_reversal
//   payment_method_type, card_brand, card_country, statement_descriptor (the charge's dynamic descriptor or suffix,
//                                  else empty): rows of a payment, from its charge
//   dispute_reason                 dispute and dispute_reversal rows
//   connected_account_id           transfer and transfer_reversal rows: the transfer's destination
//   automatic_payout_id, automatic_payout_effective_at_utc   always empty (no automatic payouts on the platform)
//   payment_metadata[payment_id], payment_metadata[checkout_id]   rows of a payment: the PaymentIntent's metadata
//   refund_metadata[refund_id]     refund and refund_failure rows: the refund's metadata
//   transfer_metadata[payout_id]   transfer and transfer_reversal rows: the transfer's metadata (a reversal's row
//                                  shows its transfer's)
// Signs, as the balance transactions have them: a charge is +gross, +fee (Stripe's processing fee), net = gross - fee;
// a refund -gross, fee 0; a refund failure +gross, fee 0; a dispute -disputed amount, fee = +dispute fee, net =
// gross - fee (both leave the balance); its reversal +amount, fee = -dispute fee (given back), net = gross - fee;
// a transfer -amount, its reversal +amount, fee 0; a fee row (stripe_fee) -amount, fee 0.
//
// Settlement faults (settlement-faults.ts) change the file, never the balance transactions (but late rows, which
// were re-dated when the faults were set).
//
// Fee rows: POST /__admin/stripe_fees adds a `stripe_fee` balance transaction now. With the setting monthly_fee
// ({"eur": 2500}: minor units by currency; none by default), the first file covering 00:00:00 UTC of the first day
// of a month (since the simulator started or was reset, and not in the future on the money clock) books, once per
// month and currency, a `stripe_fee` "Monthly platform fee" dated that instant.

import type Stripe from 'stripe';
import type { BalanceLedger } from './balance';
import type { ChargeLedger } from './charges';
import { majorUnits } from './currencies';
import { resourceMissing } from './errors';
import { newId } from './ids';
import type { MoneyClock } from './money-clock';
import type { RowFaults, SettlementFaults } from './settlement-faults';
import type { TransferService } from './transfers';

export const REPORT_TYPE = 'balance_change_from_activity.itemized.3';

export const REPORT_COLUMNS = [
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
export type ReportColumn = (typeof REPORT_COLUMNS)[number];

/** Default number of retrieves that still answer `pending`. */
export const DEFAULT_REPORT_PENDING_POLLS = 1;
export const MAX_REPORT_PENDING_POLLS = 100;
/** How long a report's file stays downloadable, as Stripe keeps them. */
const FILE_LIFETIME_SECONDS = 365 * 86_400;
const DAY_SECONDS = 86_400;

/** Monthly fees in minor units by lowercase currency (setting monthly_fee). */
export type MonthlyFeeSchedule = Record<string, number>;

export class MonthlyFeeError extends Error {}

/** Validates a monthly fee schedule: `{ "eur": 2500 }` (minor units, 1 to 99999999); throws MonthlyFeeError. */
export function parseMonthlyFees(input: unknown): MonthlyFeeSchedule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new MonthlyFeeError('monthly_fee must be an object of currency -> fee in minor units.');
  }
  const fees: MonthlyFeeSchedule = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (!/^[a-z]{3}$/.test(key)) throw new MonthlyFeeError(`monthly_fee keys are lowercase currency codes: '${key}'.`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 99_999_999) {
      throw new MonthlyFeeError(`monthly_fee.${key} must be an integer from 1 to 99999999 (minor units).`);
    }
    fees[key] = value;
  }
  return fees;
}

export function assertPendingPolls(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_REPORT_PENDING_POLLS) {
    throw new RangeError(`report_pending_polls must be an integer from 0 to ${MAX_REPORT_PENDING_POLLS}.`);
  }
}

/** What a report run covers, validated (reporting-routes.ts). */
export interface ReportRunInput {
  intervalStart: number;
  intervalEnd: number;
  /** As given (UTC only). */
  timezone?: string;
  /** As given; default every column. */
  columns?: ReportColumn[];
  currency?: string;
  reportingCategory?: string;
}

/** What a report needs to know about payments (charges, refunds, disputes) beyond the balance transactions. */
export interface ReportSources {
  ledger: BalanceLedger;
  clock: MoneyClock;
  charges: ChargeLedger;
  transfers: TransferService;
  faults: SettlementFaults;
  /** The Charge as the API renders it (card details, statement descriptor). */
  charge(id: string): Stripe.Charge | undefined;
  paymentIntent(id: string): Stripe.PaymentIntent | undefined;
  refund(id: string): Stripe.Refund | undefined;
  dispute(id: string): Stripe.Dispute | undefined;
  publicUrl(): string;
  pendingPolls(): number;
  monthlyFees(): MonthlyFeeSchedule;
}

interface RunRecord {
  run: Stripe.Reporting.ReportRun;
  file: Stripe.File;
  pollsLeft: number;
}

interface Row {
  created: number;
  id: string;
  cells: Record<ReportColumn, string>;
}

export class ReportingService {
  // Insertion order is creation order.
  private readonly runs = new Map<string, RunRecord>();
  private readonly files = new Map<string, { file: Stripe.File; contents: string }>();
  private readonly monthlyFeesBooked = new Set<string>();
  /** Monthly fees are booked for months from this one on (the simulator's start or reset). */
  private readonly firstMonth: number;

  constructor(private readonly sources: ReportSources) {
    this.firstMonth = monthStart(sources.clock.now());
  }

  /**
   * The report type, as `GET /v1/reporting/report_types/:id` answers it: its data is available up to now (Stripe
   * prepares it twice a day; a caller must not ask for an interval ending after `data_available_end`).
   */
  reportType(): Stripe.Reporting.ReportType {
    const now = this.sources.clock.now();
    // Everything the simulator holds is prepared at once, balance transactions it dated ahead included (a late row
    // moved to the next day, an unknown row injected later in the day).
    let latest = now;
    for (const txn of this.sources.ledger.views(null)) latest = Math.max(latest, txn.created);
    return {
      id: REPORT_TYPE,
      object: 'reporting.report_type',
      data_available_start: this.firstMonth,
      data_available_end: latest + 1,
      default_columns: [...REPORT_COLUMNS],
      livemode: false,
      name: 'Itemized balance change from activity',
      updated: now,
      version: 3,
    } as Stripe.Reporting.ReportType;
  }

  /** Creates a run: its CSV now, answered `pending`. */
  create(input: ReportRunInput): Stripe.Reporting.ReportRun {
    const created = this.sources.clock.now();
    const id = newId('frr');
    const contents = this.csv(input);
    const fileId = newId('file');
    const file: Stripe.File = {
      id: fileId,
      object: 'file',
      created,
      expires_at: created + FILE_LIFETIME_SECONDS,
      filename: `${id}.csv`,
      purpose: 'finance_report_run',
      size: Buffer.byteLength(contents, 'utf8'),
      title: `FinanceReportRun ${id}`,
      type: 'csv',
      url: `${this.sources.publicUrl()}/v1/files/${fileId}/contents`,
    };
    this.files.set(fileId, { file, contents });
    const parameters: Stripe.Reporting.ReportRun.Parameters = {
      interval_end: input.intervalEnd,
      interval_start: input.intervalStart,
      ...(input.columns !== undefined && { columns: [...input.columns] }),
      ...(input.currency !== undefined && { currency: input.currency }),
      ...(input.reportingCategory !== undefined && { reporting_category: input.reportingCategory }),
      ...(input.timezone !== undefined && { timezone: input.timezone }),
    };
    const run: Stripe.Reporting.ReportRun = {
      id,
      object: 'reporting.report_run',
      created,
      error: null,
      livemode: false,
      parameters,
      report_type: REPORT_TYPE,
      result: null,
      status: 'pending',
      succeeded_at: null,
    };
    this.runs.set(id, { run, file, pollsLeft: this.sources.pendingPolls() });
    return structuredClone(run);
  }

  has(id: string): boolean {
    return this.runs.has(id);
  }

  /** A retrieve: `pending` while polls are left, then `succeeded` with its File. */
  poll(id: string): Stripe.Reporting.ReportRun {
    const record = this.find(id);
    if (record.run.status === 'pending') {
      if (record.pollsLeft > 0) {
        record.pollsLeft -= 1;
      } else {
        record.run.status = 'succeeded';
        record.run.succeeded_at = this.sources.clock.now();
        record.run.result = structuredClone(record.file);
      }
    }
    return structuredClone(record.run);
  }

  /** Every run, newest first, as they are (listing does not move them along). */
  newestFirst(): Stripe.Reporting.ReportRun[] {
    return [...this.runs.values()].map((record) => structuredClone(record.run)).reverse();
  }

  file(id: string): Stripe.File {
    const stored = this.files.get(id);
    if (!stored) throw resourceMissing('file', id, 'file');
    return structuredClone(stored.file);
  }

  contents(id: string): string {
    const stored = this.files.get(id);
    if (!stored) throw resourceMissing('file', id, 'file');
    return stored.contents;
  }

  /** The itemized CSV of an interval, settlement faults applied (monthly fees booked first when due). */
  csv(input: ReportRunInput): string {
    const { intervalStart: start, intervalEnd: end } = input;
    this.bookMonthlyFees(start, end);
    const rows: Row[] = [];
    for (const txn of this.sources.ledger.views(null)) {
      if (txn.created < start || txn.created >= end) continue;
      const faults = this.sources.faults.rowFaults(txn.id);
      if (faults.drop) continue;
      const row = { created: txn.created, id: txn.id, cells: faulted(this.cells(txn), txn, faults) };
      rows.push(row);
      if (faults.duplicate) rows.push(structuredClone(row));
    }
    for (const unknown of this.sources.faults.unknownRows(start, end)) {
      const cells = this.baseCells(unknown.txn);
      cells.source_id = unknown.chargeId;
      cells.charge_id = unknown.chargeId;
      cells.payment_intent_id = unknown.paymentIntentId;
      cells.customer_facing_amount = cells.gross;
      cells.customer_facing_currency = unknown.txn.currency;
      cells.payment_method_type = 'card';
      cells.card_brand = 'visa';
      cells.card_country = 'US';
      rows.push({ created: unknown.txn.created, id: unknown.txn.id, cells });
    }
    // Stable: a duplicate stays next to its row.
    rows.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const columns = input.columns ?? [...REPORT_COLUMNS];
    const selected = rows.filter(
      (row) =>
        (input.currency === undefined || row.cells.currency === input.currency) &&
        (input.reportingCategory === undefined || row.cells.reporting_category === input.reportingCategory),
    );
    const lines = [columns, ...selected.map((row) => columns.map((column) => row.cells[column]))];
    return lines
      .map((values) => values.map(csvField).join(','))
      .join('\n')
      .concat('\n');
  }

  /** The CSV of one UTC day (`YYYY-MM-DD`), every column. */
  dayCsv(dayStart: number): string {
    return this.csv({ intervalStart: dayStart, intervalEnd: dayStart + DAY_SECONDS });
  }

  /** A fee Stripe charges on its own, now: a platform `stripe_fee` balance transaction (-amount, no source). */
  addStripeFee(currency: string, amount: number, description: string | null): Stripe.BalanceTransaction {
    return this.sources.ledger.record({
      account: null,
      type: 'stripe_fee',
      amount: -amount,
      currency,
      source: null,
      description: description ?? 'Stripe fee',
    });
  }

  /** The PaymentIntent of a row and its metadata's payment_id (settlement-faults.ts). */
  paymentOf(txn: Stripe.BalanceTransaction): { paymentIntent: string | null; paymentId: string | null } {
    const link = this.link(txn);
    const intent = link.paymentIntent === null ? undefined : this.sources.paymentIntent(link.paymentIntent);
    return { paymentIntent: link.paymentIntent, paymentId: intent?.metadata?.payment_id ?? null };
  }

  private bookMonthlyFees(start: number, end: number): void {
    const fees = Object.entries(this.sources.monthlyFees());
    if (fees.length === 0) return;
    const last = Math.min(end - 1, this.sources.clock.now());
    for (let month = Math.max(monthStart(start), this.firstMonth); month <= last; month = nextMonth(month)) {
      if (month < start) continue;
      for (const [currency, amount] of fees) {
        const key = `${month}:${currency}`;
        if (this.monthlyFeesBooked.has(key)) continue;
        this.monthlyFeesBooked.add(key);
        this.sources.ledger.record({
          account: null,
          type: 'stripe_fee',
          amount: -amount,
          currency,
          source: null,
          description: 'Monthly platform fee',
          created: month,
        });
      }
    }
  }

  private baseCells(txn: Stripe.BalanceTransaction): Record<ReportColumn, string> {
    const cells = Object.fromEntries(REPORT_COLUMNS.map((column) => [column, ''])) as Record<ReportColumn, string>;
    cells.balance_transaction_id = txn.id;
    cells.created_utc = utcTimestamp(txn.created);
    cells.available_on_utc = utcTimestamp(txn.available_on);
    cells.currency = txn.currency;
    cells.gross = majorUnits(txn.amount, txn.currency);
    cells.fee = majorUnits(txn.fee, txn.currency);
    cells.net = majorUnits(txn.net, txn.currency);
    cells.reporting_category = txn.reporting_category;
    cells.source_id = sourceId(txn) ?? '';
    cells.description = txn.description ?? '';
    return cells;
  }

  private cells(txn: Stripe.BalanceTransaction): Record<ReportColumn, string> {
    const cells = this.baseCells(txn);
    const link = this.link(txn);
    if (link.chargeId !== null) {
      cells.charge_id = link.chargeId;
      const charge = this.sources.charge(link.chargeId);
      const card = charge?.payment_method_details?.card;
      if (charge?.payment_method_details) cells.payment_method_type = charge.payment_method_details.type;
      cells.card_brand = card?.brand ?? '';
      cells.card_country = card?.country ?? '';
      cells.statement_descriptor = charge?.statement_descriptor ?? charge?.statement_descriptor_suffix ?? '';
    }
    if (link.paymentIntent !== null) {
      cells.payment_intent_id = link.paymentIntent;
      const metadata = this.sources.paymentIntent(link.paymentIntent)?.metadata ?? {};
      cells['payment_metadata[payment_id]'] = metadata.payment_id ?? '';
      cells['payment_metadata[checkout_id]'] = metadata.checkout_id ?? '';
    }
    if (['charge', 'refund', 'refund_failure'].includes(txn.type)) {
      cells.customer_facing_amount = cells.gross;
      cells.customer_facing_currency = txn.currency;
    }
    if (link.refund) cells['refund_metadata[refund_id]'] = link.refund.metadata?.refund_id ?? '';
    if (link.dispute) cells.dispute_reason = link.dispute.reason;
    if (link.transfer) {
      cells.connected_account_id =
        typeof link.transfer.destination === 'string'
          ? link.transfer.destination
          : (link.transfer.destination?.id ?? '');
      cells['transfer_metadata[payout_id]'] = link.transfer.metadata.payout_id ?? '';
    }
    return cells;
  }

  /** The objects a balance transaction belongs to, from its type and source. */
  private link(txn: Stripe.BalanceTransaction): {
    chargeId: string | null;
    paymentIntent: string | null;
    refund?: Stripe.Refund;
    dispute?: Stripe.Dispute;
    transfer?: Stripe.Transfer;
  } {
    const source = sourceId(txn);
    const none = { chargeId: null, paymentIntent: null };
    if (source === null) return none;
    const intentOf = (value: string | Stripe.PaymentIntent | null | undefined) =>
      typeof value === 'string' ? value : (value?.id ?? null);
    const chargeOf = (value: string | Stripe.Charge | null | undefined) =>
      typeof value === 'string' ? value : (value?.id ?? null);
    switch (txn.type) {
      case 'charge': {
        const charge = this.sources.charges.get(source);
        return { chargeId: source, paymentIntent: charge?.payment_intent ?? null };
      }
      case 'refund':
      case 'refund_failure': {
        const refund = this.sources.refund(source);
        if (!refund) return none;
        return { chargeId: chargeOf(refund.charge), paymentIntent: intentOf(refund.payment_intent), refund };
      }
      case 'adjustment': {
        const dispute = this.sources.dispute(source);
        if (!dispute) return none;
        return { chargeId: chargeOf(dispute.charge), paymentIntent: intentOf(dispute.payment_intent), dispute };
      }
      case 'transfer':
        return this.sources.transfers.has(source) ? { ...none, transfer: this.sources.transfers.get(source) } : none;
      case 'transfer_refund': {
        const found = this.sources.transfers.findReversal(source);
        return found ? { ...none, transfer: found.transfer } : none;
      }
      default:
        return none;
    }
  }

  private find(id: string): RunRecord {
    const record = this.runs.get(id);
    if (!record) throw resourceMissing('reporting.report_run', id, 'id');
    return record;
  }
}

/** A file's row as the faults have it: another amount, another currency. */
function faulted(
  cells: Record<ReportColumn, string>,
  txn: Stripe.BalanceTransaction,
  faults: RowFaults,
): Record<ReportColumn, string> {
  if (faults.amountDelta !== undefined) {
    cells.gross = majorUnits(txn.amount + faults.amountDelta, txn.currency);
    cells.net = majorUnits(txn.net + faults.amountDelta, txn.currency);
  }
  if (faults.currency !== undefined) {
    cells.currency = faults.currency;
    if (cells.customer_facing_currency !== '') cells.customer_facing_currency = faults.currency;
  }
  return cells;
}

function sourceId(txn: Stripe.BalanceTransaction): string | null {
  const { source } = txn;
  return typeof source === 'string' ? source : (source?.id ?? null);
}

/** `YYYY-MM-DD HH:MM:SS`, UTC. */
export function utcTimestamp(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** RFC 4180: quoted (quotes doubled) when it holds a comma, a quote or a line break. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** 00:00:00 UTC of the first day of the month of `seconds`. */
function monthStart(seconds: number): number {
  const date = new Date(seconds * 1000);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1) / 1000;
}

function nextMonth(month: number): number {
  const date = new Date(month * 1000);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / 1000;
}
