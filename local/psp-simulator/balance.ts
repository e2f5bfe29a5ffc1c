// Balances and balance transactions (`txn_...`), of the platform and of every connected account: each movement of
// money is one transaction with a signed `amount`, a `fee`, `net = amount - fee`, a `type`, the
// `reporting_category` Stripe's itemized balance reports use, its `source` (ch_, tr_, po_...) and a `status` that
// is `pending` until `available_on` (money clock, money-clock.ts) passes, then `available`. A balance is, per
// currency, the sum of the nets of its available and of its pending transactions.
//
// The model is general on purpose (refunds, disputes and reports build on it):
//   type               reporting_category   what
//   charge             charge               a captured card payment on the platform (fee: Stripe's processing fee)
//   payment            charge               funds a connected account received from a transfer (source py_...)
//   payment_refund     refund               a transfer reversal taking them back (source pyr_...)
//   refund             refund               a refund (negative; fee 0: Stripe keeps the charge's processing fee)
//   refund_failure     refund_failure       a failed (or canceled) refund returning the money
//   adjustment         dispute / dispute_reversal / other_adjustment (given by the caller): a dispute's withdrawal
//                                           (-amount, the dispute fee in fee/fee_details) and its reinstatement
//                                           (+amount, the fee given back as a negative fee)
//   transfer           transfer             money sent to a connected account (negative, platform)
//   transfer_refund    transfer_reversal    money taken back from it by a transfer reversal (positive, platform;
//                                           Stripe has no `transfer_reversal` type, only the reporting category)
//   payout             payout               money sent to a bank account (negative)
//   payout_failure     payout_reversal      a failed payout returning the money
//   payout_cancel      payout_reversal      a canceled payout returning the money
//   stripe_fee         fee                  a fee Stripe charges on its own
//   topup              topup                funds added to the platform's balance (available at once)
//
// Debits (transfers, payouts, refunds) are available at once: they leave the available balance when they are made.

import type Stripe from 'stripe';
import { newId } from './ids';
import type { MoneyClock } from './money-clock';

export const BALANCE_TRANSACTION_TYPES = [
  'adjustment',
  'charge',
  'payment',
  'payment_refund',
  'payout',
  'payout_cancel',
  'payout_failure',
  'refund',
  'refund_failure',
  'stripe_fee',
  'topup',
  'transfer',
  'transfer_refund',
] as const;
export type BalanceTransactionType = (typeof BALANCE_TRANSACTION_TYPES)[number];

/** The reporting category of each type (an adjustment's depends on why it was made: the caller says). */
export const DEFAULT_REPORTING_CATEGORY: Record<BalanceTransactionType, string> = {
  adjustment: 'other_adjustment',
  charge: 'charge',
  payment: 'charge',
  payment_refund: 'refund',
  payout: 'payout',
  payout_cancel: 'payout_reversal',
  payout_failure: 'payout_reversal',
  refund: 'refund',
  refund_failure: 'refund_failure',
  stripe_fee: 'fee',
  topup: 'topup',
  transfer: 'transfer',
  transfer_refund: 'transfer_reversal',
};

/** Stripe's processing fee for one currency: `percent` of the amount (rounded half up) plus `fixed` minor units. */
export interface FeeRate {
  percent: number;
  fixed: number;
}

/** Fee rates by lowercase currency code, with `default` for every other currency. */
export type FeeSchedule = Record<string, FeeRate>;

export const DEFAULT_FEE_RATE: Readonly<FeeRate> = Object.freeze({ percent: 2.9, fixed: 30 });
export const DEFAULT_FEE_SCHEDULE: Readonly<FeeSchedule> = Object.freeze({ default: DEFAULT_FEE_RATE });

export class FeeScheduleError extends Error {}

/** Validates a fee schedule: `{ "eur": { "percent": 1.5, "fixed": 25 }, "default": {...} }`. */
export function parseFeeSchedule(input: unknown): FeeSchedule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FeeScheduleError('fee_schedule must be an object of currency -> { percent, fixed }.');
  }
  const schedule: FeeSchedule = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (key !== 'default' && !/^[a-z]{3}$/.test(key)) {
      throw new FeeScheduleError(`fee_schedule keys are lowercase currency codes or 'default': '${key}'.`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new FeeScheduleError(`fee_schedule.${key} must be { percent, fixed }.`);
    }
    const { percent, fixed, ...rest } = value as Record<string, unknown>;
    if (Object.keys(rest).length > 0) {
      throw new FeeScheduleError(`fee_schedule.${key} takes percent and fixed only.`);
    }
    if (typeof percent !== 'number' || !(percent >= 0 && percent <= 100)) {
      throw new FeeScheduleError(`fee_schedule.${key}.percent must be a number from 0 to 100.`);
    }
    if (typeof fixed !== 'number' || !Number.isInteger(fixed) || fixed < 0 || fixed > 1_000_000) {
      throw new FeeScheduleError(`fee_schedule.${key}.fixed must be an integer from 0 to 1000000 (minor units).`);
    }
    schedule[key] = { percent, fixed };
  }
  return schedule;
}

/**
 * The processing fee of a charge, in minor units: percent of the amount rounded half up to the minor unit, plus the
 * fixed part. Integer arithmetic (the percent to 4 decimals), so 2.9% of 2599 is 75.371 -> 75, of 50 is 1.45 -> 1.
 */
export function stripeFee(amount: number, currency: string, schedule: FeeSchedule): number {
  const rate = schedule[currency] ?? schedule.default ?? DEFAULT_FEE_RATE;
  const scaledPercent = Math.round(rate.percent * 10_000);
  const proportional = Math.floor((amount * scaledPercent + 500_000) / 1_000_000);
  return proportional + rate.fixed;
}

export interface NewBalanceTransaction {
  /** The connected account (`acct_...`), or null for the platform. */
  account: string | null;
  type: BalanceTransactionType;
  /** Signed, in minor units. */
  amount: number;
  currency: string;
  source: string | null;
  description?: string | null;
  /**
   * Stripe's fee on this transaction, itemized in fee_details as a stripe_fee: positive when Stripe takes it, negative
   * when it gives it back (a won dispute's fee).
   */
  fee?: number;
  feeDescription?: string;
  /** Default: the type's (DEFAULT_REPORTING_CATEGORY). */
  reportingCategory?: string;
  /** When the funds become available (money clock); default: at once. */
  availableOn?: number;
  /** When it happened (money clock); default: now. A due transition applied late is dated when it was due. */
  created?: number;
}

/** A balance transaction with the account it belongs to (null: the platform), as the admin routes show them. */
export type BalanceTransactionView = Stripe.BalanceTransaction & { account: string | null };

interface StoredTransaction {
  account: string | null;
  txn: Stripe.BalanceTransaction;
}

export interface BalanceAmounts {
  available: number;
  pending: number;
}

export class BalanceLedger {
  // Insertion order is creation order.
  private readonly records: StoredTransaction[] = [];
  private readonly byId = new Map<string, StoredTransaction>();

  constructor(private readonly clock: MoneyClock) {}

  /** Records a movement (created now on the money clock); returns a copy of the transaction. */
  record(input: NewBalanceTransaction): Stripe.BalanceTransaction {
    const created = input.created ?? this.clock.now();
    const availableOn = Math.max(created, input.availableOn ?? created);
    const fee = input.fee ?? 0;
    const txn: Stripe.BalanceTransaction = {
      id: newId('txn'),
      object: 'balance_transaction',
      amount: input.amount,
      available_on: availableOn,
      balance_type: 'payments',
      created,
      currency: input.currency,
      description: input.description ?? null,
      exchange_rate: null,
      fee,
      fee_details:
        fee === 0
          ? []
          : [
              {
                amount: fee,
                application: null,
                currency: input.currency,
                description: input.feeDescription ?? 'Stripe processing fees',
                type: 'stripe_fee',
              },
            ],
      net: input.amount - fee,
      reporting_category: input.reportingCategory ?? DEFAULT_REPORTING_CATEGORY[input.type],
      source: input.source,
      status: availableOn > created ? 'pending' : 'available',
      type: input.type,
    };
    const stored = { account: input.account, txn };
    this.records.push(stored);
    this.byId.set(txn.id, stored);
    return structuredClone(txn);
  }

  /** A copy of one transaction of `account` (null: the platform); undefined when it is another account's. */
  get(account: string | null, id: string): Stripe.BalanceTransaction | undefined {
    const stored = this.byId.get(id);
    return stored && stored.account === account ? structuredClone(stored.txn) : undefined;
  }

  /**
   * Re-dates a transaction (settlement faults: a charge booked late, settlement-faults.ts). A pending one is not
   * available before its new date, unless `availableOn` is given (moving it back). Returns the copy, undefined for an
   * unknown id.
   */
  redate(id: string, created: number, availableOn?: number): Stripe.BalanceTransaction | undefined {
    const stored = this.byId.get(id);
    if (!stored) return undefined;
    stored.txn.created = created;
    if (stored.txn.status === 'pending') {
      stored.txn.available_on = availableOn ?? Math.max(stored.txn.available_on, created);
    }
    return structuredClone(stored.txn);
  }

  /** The transactions of one account (null: the platform), newest first, as copies. */
  newestFirst(account: string | null): Stripe.BalanceTransaction[] {
    return this.records
      .filter((stored) => stored.account === account)
      .map((stored) => structuredClone(stored.txn))
      .reverse();
  }

  /** Every transaction, oldest first, with its account; `account` given: that account's only (null: platform). */
  views(account?: string | null): BalanceTransactionView[] {
    return this.records
      .filter((stored) => account === undefined || stored.account === account)
      .map((stored) => ({ ...structuredClone(stored.txn), account: stored.account }));
  }

  amounts(account: string | null, currency: string): BalanceAmounts {
    const amounts = { available: 0, pending: 0 };
    for (const { account: owner, txn } of this.records) {
      if (owner !== account || txn.currency !== currency) continue;
      if (txn.status === 'available') amounts.available += txn.net;
      else amounts.pending += txn.net;
    }
    return amounts;
  }

  /**
   * The Balance object of an account (null: the platform): one entry per currency it has transactions in, else
   * `fallbackCurrency` at zero.
   */
  balance(account: string | null, fallbackCurrency: string): Stripe.Balance {
    const currencies: string[] = [];
    for (const { account: owner, txn } of this.records) {
      if (owner === account && !currencies.includes(txn.currency)) currencies.push(txn.currency);
    }
    if (currencies.length === 0) currencies.push(fallbackCurrency);
    const entries = currencies.map((currency) => ({ currency, ...this.amounts(account, currency) }));
    const balance: Stripe.Balance = {
      object: 'balance',
      available: entries.map(({ currency, available }) => ({
        amount: available,
        currency,
        source_types: { card: available },
      })),
      livemode: false,
      pending: entries.map(({ currency, pending }) => ({ amount: pending, currency, source_types: { card: pending } })),
    };
    // The platform's balance also shows what it holds back for connected accounts' negative balances (none here).
    if (account === null) {
      balance.connect_reserved = currencies.map((currency) => ({ amount: 0, currency }));
    }
    return balance;
  }

  /** The earliest `available_on` of a pending transaction that is due at `now`, if any. */
  nextDue(now: number): number | undefined {
    let next: number | undefined;
    for (const { txn } of this.records) {
      if (txn.status === 'pending' && txn.available_on <= now && (next === undefined || txn.available_on < next)) {
        next = txn.available_on;
      }
    }
    return next;
  }

  /** Makes every pending transaction due at `time` available; returns the accounts whose balance changed. */
  settle(time: number): (string | null)[] {
    const accounts: (string | null)[] = [];
    for (const { account, txn } of this.records) {
      if (txn.status !== 'pending' || txn.available_on > time) continue;
      txn.status = 'available';
      if (!accounts.includes(account)) accounts.push(account);
    }
    return accounts;
  }
}
