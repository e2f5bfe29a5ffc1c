/**
 * The PSP's settlement file as the benchmarks write it (shared by bench/reconcile-match.ts and
 * bench/reconcile-e2e.ts): a seeded PRNG, the report's exact columns (SETTLEMENT_COLUMNS, in order), amounts in major
 * units, lower-case currencies, RFC 4180 quoting, UTC times `YYYY-MM-DD HH:MM:SS`; the ids of one money movement and
 * the cells of a charge row (the PSP's fee at 2.9 % + 30 minor units) and of a charge made directly at the PSP (no
 * metadata of ours: an unknown row).
 */
import fs from 'node:fs';
import { fromMinorUnits } from '../src/core/money';
import { SETTLEMENT_COLUMNS } from '../src/reconciliation/domain/settlement-row';

/** mulberry32: a small seeded PRNG (the same day every run). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const pad = (i: number, length: number) => i.toString(36).padStart(length, '0');
export const hex = (i: number) => i.toString(16).padStart(32, '0');
export const csvField = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

/** A UTC time of `day` as the report writes it, `second` seconds after midnight. */
export const utcTime = (second: number, day: string) => {
  const h = Math.floor(second / 3600);
  const m = Math.floor((second % 3600) / 60);
  const s = second % 60;
  return `${day} ${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
};

/** The PSP's processing fee of a charge, in minor units: 2.9 % + 30 (the simulator's default schedule). */
export const chargeFeeOf = (amountMinor: number) => Math.round(amountMinor * 0.029) + 30;

/** The ids of money movement `i`: its balance transaction at the PSP, our payment and checkout, the PSP's charge. */
export function movementIds(i: number) {
  return {
    balance_transaction_id: `txn_${pad(i, 24)}`,
    payment_id: `pay_${hex(i)}`,
    checkout_id: `chk_${pad(i, 16)}`,
    charge_id: `ch_${pad(i, 24)}`,
    payment_intent_id: `pi_${pad(i, 24)}`,
  };
}

/** The charge-specific cells of movement `i`'s row (our payment in its metadata); amounts set by `setAmounts`. */
export function chargeCells(
  i: number,
  ids: ReturnType<typeof movementIds>,
  amountMinor: number,
  currency: string,
): Record<string, string> {
  return {
    source_id: ids.charge_id,
    description: i % 50 === 0 ? `Checkout "${ids.checkout_id}", 2 sellers` : `Checkout ${ids.checkout_id}`,
    customer_facing_amount: fromMinorUnits(amountMinor, currency),
    customer_facing_currency: currency.toLowerCase(),
    charge_id: ids.charge_id,
    payment_intent_id: ids.payment_intent_id,
    payment_method_type: 'card',
    card_brand: 'visa',
    card_country: 'FR',
    'payment_metadata[payment_id]': ids.payment_id,
    'payment_metadata[checkout_id]': ids.checkout_id,
  };
}

/** A row's currency and amounts (gross, fee, net = gross - fee; the customer-facing amount, when it has one). */
export function setAmounts(cells: Record<string, string>, grossMinor: number, feeMinor: number, currency: string) {
  cells.currency = currency.toLowerCase();
  cells.gross = fromMinorUnits(grossMinor, currency);
  cells.fee = fromMinorUnits(feeMinor, currency);
  cells.net = fromMinorUnits(grossMinor - feeMinor, currency);
  if (cells.customer_facing_amount) {
    cells.customer_facing_amount = cells.gross;
    cells.customer_facing_currency = cells.currency;
  }
}

/** A charge made directly at the PSP (in the dashboard): USD, a 30 fee, no metadata of ours. */
export function unknownChargeCells(
  i: number,
  amountMinor: number,
  created: string,
  availableOn: string,
): Record<string, string> {
  return {
    balance_transaction_id: `txn_u${pad(i, 23)}`,
    created_utc: created,
    available_on_utc: availableOn,
    currency: 'usd',
    gross: fromMinorUnits(amountMinor, 'USD'),
    fee: fromMinorUnits(30, 'USD'),
    net: fromMinorUnits(amountMinor - 30, 'USD'),
    reporting_category: 'charge',
    source_id: `ch_u${pad(i, 24)}`,
    description: 'Payment made in the dashboard',
    customer_facing_amount: fromMinorUnits(amountMinor, 'USD'),
    customer_facing_currency: 'usd',
    charge_id: `ch_u${pad(i, 24)}`,
    payment_intent_id: `pi_u${pad(i, 24)}`,
    payment_method_type: 'card',
    card_brand: 'visa',
    card_country: 'US',
  };
}

/** A settlement file written row by row, in chunks of about 4 MB (never held whole). */
export class SettlementFileWriter {
  private readonly fd: number;
  private chunk = `${SETTLEMENT_COLUMNS.join(',')}\n`;
  /** Bytes written to the file so far. */
  bytes = 0;
  /** Data rows written so far. */
  written = 0;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w');
  }

  /** One row: its cells by column name (a missing cell is empty). */
  write(cells: Record<string, string>): void {
    this.chunk += `${SETTLEMENT_COLUMNS.map((column) => csvField(cells[column] ?? '')).join(',')}\n`;
    this.written += 1;
    if (this.chunk.length >= 4_000_000) {
      this.bytes += fs.writeSync(this.fd, this.chunk);
      this.chunk = '';
    }
  }

  /** The file's line of the next row written (the header is line 1). */
  nextLine(): number {
    return this.written + 2;
  }

  /** Writes what is left and closes the file; answers its size in bytes. */
  close(): number {
    this.bytes += fs.writeSync(this.fd, this.chunk);
    this.chunk = '';
    fs.closeSync(this.fd);
    return this.bytes;
  }
}
