// Payouts (`po_...`) of connected accounts to their bank account, on the money clock (money-clock.ts):
//
//   created      `pending`; a `payout` balance transaction (-amount) leaves the account's available balance at once
//   + payoutInTransitSeconds (default 60)   `in_transit`                         payout.updated
//   arrival_date = created + payoutArrivalSeconds (default 86400)
//                `paid`                                                      payout.paid, payout.updated
//             or `failed` when the bank refuses it: its test number (bank-accounts.ts) or the admin's
//                `payout_failure_code` for the account decides, when the payout is created. A `payout_failure`
//                balance transaction (+amount, available at once) returns the money to the account's balance and
//                is the payout's `failure_balance_transaction`        payout.failed, payout.updated
//   cancel (only while `pending`)  `canceled`, a `payout_cancel` transaction returns the money
//                                                                    payout.canceled, payout.updated
//   a `paid` payout may still turn `failed` later (POST /__admin/payouts/:id/fail), as on Stripe.
//
// Every payout event carries `account`. Errors on create (HTTP 400, decided when executing, so stored under the
// idempotency key): `payouts_not_allowed` (the account's payouts_enabled is false), `balance_insufficient` (its
// available balance is short). Only `standard` payouts to bank accounts are modelled.

import type Stripe from 'stripe';
import type { AccountService } from './accounts';
import type { BalanceLedger } from './balance';
import { PAYOUT_FAILURE_MESSAGES, type PayoutFailureCode } from './bank-accounts';
import { invalidRequest, resourceMissing } from './errors';
import type { EmittedEventType, EventOrigin, EventStore } from './events';
import { newId, randomAlphanumeric } from './ids';
import type { MoneyClock } from './money-clock';
import { balanceInsufficient } from './transfers';

export const DEFAULT_PAYOUT_IN_TRANSIT_SECONDS = 60;
export const DEFAULT_PAYOUT_ARRIVAL_SECONDS = 86_400;

export interface PayoutTiming {
  payoutInTransitSeconds: number;
  payoutArrivalSeconds: number;
}

export interface PayoutCreateInput {
  account: string;
  amount: number;
  currency: string;
  description: string | null;
  metadata: Record<string, string>;
  statementDescriptor: string | null;
  /** A bank account (`ba_...`) of the account; default: its account in the payout's currency. */
  destination?: string;
}

/** A payout with the connected account it belongs to, as the admin routes show them. */
export type PayoutView = Stripe.Payout & { account: string };

interface PayoutRecord {
  account: string;
  payout: Stripe.Payout;
  inTransitAt: number;
  /** How it ends, decided at creation: null is paid. */
  failureCode: PayoutFailureCode | null;
}

export class PayoutService {
  // Insertion order is creation order.
  private readonly records = new Map<string, PayoutRecord>();

  constructor(
    private readonly ledger: BalanceLedger,
    private readonly accounts: AccountService,
    private readonly clock: MoneyClock,
    private readonly events: EventStore,
    private readonly timing: () => PayoutTiming,
  ) {}

  create(input: PayoutCreateInput, origin: EventOrigin): Stripe.Payout {
    const { account, amount, currency } = input;
    if (!this.accounts.payoutsEnabled(account)) {
      throw invalidRequest(
        'Payouts are not allowed on this account: its payouts are disabled (see its requirements).',
        {
          code: 'payouts_not_allowed',
        },
      );
    }
    const bank = this.accounts.bankAccount(account, currency, input.destination);
    if (!bank || bank.currency !== currency) {
      throw invalidRequest(`Sorry, you don't have any external accounts in that currency (${currency}).`, {
        param: 'currency',
      });
    }
    if (this.ledger.amounts(account, currency).available < amount) {
      throw balanceInsufficient(
        `You have insufficient funds in your Stripe account for this payout. Your card balance is too low. You can use the /v1/balance endpoint to view your Stripe balance (for more details, see stripe.com/docs/api#balance).`,
      );
    }
    const id = newId('po');
    const txn = this.ledger.record({
      account,
      type: 'payout',
      amount: -amount,
      currency,
      source: id,
      description: input.description ?? 'STRIPE PAYOUT',
    });
    const created = this.clock.now();
    const timing = this.timing();
    const payout: Stripe.Payout = {
      id,
      object: 'payout',
      amount,
      application_fee: null,
      application_fee_amount: null,
      arrival_date: created + timing.payoutArrivalSeconds,
      automatic: false,
      balance_transaction: txn.id,
      created,
      currency,
      description: input.description,
      destination: bank.id,
      failure_balance_transaction: null,
      failure_code: null,
      failure_message: null,
      livemode: false,
      metadata: { ...input.metadata },
      method: 'standard',
      original_payout: null,
      payout_method: null,
      reconciliation_status: 'not_applicable',
      reversed_by: null,
      source_type: 'card',
      statement_descriptor: input.statementDescriptor,
      status: 'pending',
      trace_id: { status: 'pending', value: null },
      type: 'bank_account',
    };
    this.records.set(id, {
      account,
      payout,
      inTransitAt: created + timing.payoutInTransitSeconds,
      failureCode: this.accounts.payoutOutcome(account, bank.id),
    });
    this.emit('payout.created', account, payout, origin);
    return structuredClone(payout);
  }

  /** Whether the account has this payout (another account's payouts do not exist for it). */
  has(account: string, id: string): boolean {
    return this.records.get(id)?.account === account;
  }

  /** Any account's payout (admin). */
  exists(id: string): boolean {
    return this.records.has(id);
  }

  get(account: string, id: string): Stripe.Payout {
    return structuredClone(this.find(account, id).payout);
  }

  newestFirst(account: string): Stripe.Payout[] {
    return [...this.records.values()]
      .filter((record) => record.account === account)
      .map((record) => structuredClone(record.payout))
      .reverse();
  }

  /** Every payout, oldest first, with its account. */
  views(): PayoutView[] {
    return [...this.records.values()].map((record) => ({ ...structuredClone(record.payout), account: record.account }));
  }

  cancel(account: string, id: string, origin: EventOrigin): Stripe.Payout {
    const record = this.find(account, id);
    const { payout } = record;
    if (payout.status !== 'pending') {
      throw invalidRequest(
        `Payout ${id} cannot be canceled: only pending payouts can be (this one is ${payout.status}).`,
        {
          param: 'id',
        },
      );
    }
    const txn = this.ledger.record({
      account,
      type: 'payout_cancel',
      amount: payout.amount,
      currency: payout.currency,
      source: payout.id,
      description: 'Payout cancel',
    });
    const previous = { status: payout.status, failure_balance_transaction: null, trace_id: { ...payout.trace_id } };
    payout.status = 'canceled';
    payout.failure_balance_transaction = txn.id;
    payout.trace_id = { status: 'unsupported', value: null };
    this.emit('payout.canceled', account, payout, origin);
    this.emit('payout.updated', account, payout, origin, previous);
    return structuredClone(payout);
  }

  updateMetadata(
    account: string,
    id: string,
    metadata: (current: Record<string, string>) => Record<string, string>,
    origin: EventOrigin,
  ): Stripe.Payout {
    const { payout } = this.find(account, id);
    const next = metadata(payout.metadata ?? {});
    if (JSON.stringify(next) !== JSON.stringify(payout.metadata)) {
      const previous = { metadata: payout.metadata };
      payout.metadata = next;
      this.emit('payout.updated', account, payout, origin, previous);
    }
    return structuredClone(payout);
  }

  /**
   * Fails a payout now (admin): a `paid` one turns `failed` later, as Stripe allows; a pending or in-transit one
   * fails at once. Throws for a canceled or failed payout.
   */
  fail(id: string, code: PayoutFailureCode, origin: EventOrigin): PayoutView {
    const record = this.records.get(id);
    if (!record) throw resourceMissing('payout', id, 'id');
    const { status } = record.payout;
    if (status === 'failed' || status === 'canceled') {
      throw invalidRequest(`Payout ${id} is ${status}: it cannot fail.`, { param: 'id', status: 409 });
    }
    this.failNow(record, code, origin);
    return { ...structuredClone(record.payout), account: record.account };
  }

  /** The earliest transition due at `now`, if any. */
  nextDue(now: number): number | undefined {
    let next: number | undefined;
    for (const record of this.records.values()) {
      const due = dueAt(record);
      if (due !== undefined && due <= now && (next === undefined || due < next)) next = due;
    }
    return next;
  }

  /** Applies every transition due at `time` (one step per payout), in creation order. */
  advance(time: number, origin: EventOrigin): void {
    for (const record of this.records.values()) {
      const due = dueAt(record);
      if (due === undefined || due > time) continue;
      const { payout, account } = record;
      if (payout.status === 'pending') {
        payout.status = 'in_transit';
        this.emit('payout.updated', account, payout, origin, { status: 'pending' }, due);
      } else if (record.failureCode !== null) {
        this.failNow(record, record.failureCode, origin, due);
      } else {
        const previous = { status: payout.status, trace_id: { ...payout.trace_id } };
        payout.status = 'paid';
        payout.trace_id = { status: 'supported', value: `SIM${randomAlphanumeric(12).toUpperCase()}` };
        this.emit('payout.paid', account, payout, origin, undefined, due);
        this.emit('payout.updated', account, payout, origin, previous, due);
      }
    }
  }

  private failNow(record: PayoutRecord, code: PayoutFailureCode, origin: EventOrigin, at?: number): void {
    const { payout, account } = record;
    const txn = this.ledger.record({
      account,
      type: 'payout_failure',
      amount: payout.amount,
      currency: payout.currency,
      source: payout.id,
      description: `Payout failure (${code})`,
      ...(at !== undefined && { created: at }),
    });
    const previous = {
      status: payout.status,
      failure_balance_transaction: null,
      failure_code: null,
      failure_message: null,
      trace_id: { ...payout.trace_id },
    };
    payout.status = 'failed';
    payout.failure_balance_transaction = txn.id;
    payout.failure_code = code;
    payout.failure_message = PAYOUT_FAILURE_MESSAGES[code];
    payout.trace_id = { status: 'unsupported', value: null };
    this.emit('payout.failed', account, payout, origin, undefined, at);
    this.emit('payout.updated', account, payout, origin, previous, at);
  }

  private emit(
    type: EmittedEventType,
    account: string,
    payout: Stripe.Payout,
    origin: EventOrigin,
    previousAttributes?: Record<string, unknown>,
    created?: number,
  ): void {
    this.events.emit(type, payout, origin, {
      account,
      ...(previousAttributes !== undefined && { previousAttributes }),
      ...(created !== undefined && { created }),
    });
  }

  private find(account: string, id: string): PayoutRecord {
    const record = this.records.get(id);
    if (!record || record.account !== account) throw resourceMissing('payout', id, 'id');
    return record;
  }
}

/** When the payout's next step is due: in transit, then paid or failed at its arrival date. */
function dueAt(record: PayoutRecord): number | undefined {
  const { payout } = record;
  if (payout.status === 'pending') return Math.min(record.inTransitAt, payout.arrival_date);
  if (payout.status === 'in_transit') return payout.arrival_date;
  return undefined;
}
