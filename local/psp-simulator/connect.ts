// Stripe Connect for pay-out: the balance ledger, connected accounts, transfers and payouts, wired together and driven
// by the money clock (money-clock.ts).
//
// - Every captured charge books a platform `charge` balance transaction: amount captured, Stripe's fee from the fee
//   schedule (default 2.9% + 30 minor units, rounded half up), `pending` until created + availabilityDelaySeconds
//   (default 86400), then `available`. The charge's `balance_transaction` names it.
// - Due transitions (pending funds becoming available, payouts going in transit, paid or failed) are applied in time
//   order by applyDue: from the simulator's sweep timer, before every request, and at once by advance() (POST
//   /__admin/clock/advance). Funds becoming available emit `balance.available` (the Balance as it then is; with
//   `account` for a connected account), one per account and due time; events of a transition are dated when it was
//   due.
// - Other services moving the platform's money (refunds.ts) register their own due transitions (MoneyMovements):
//   applied in the same time order, after funds and payouts due at the same second, and told whenever the platform's
//   balance may have grown (funds available, a top-up, money given back) so that what waits for funds proceeds.
// - A top-up (admin) adds available funds to the platform: a `topup` balance transaction (source tu_...).

import type Stripe from 'stripe';
import { AccountService } from './accounts';
import { BalanceLedger, DEFAULT_FEE_SCHEDULE, type FeeSchedule, stripeFee } from './balance';
import type { ChargeChange, ChargeLedger, ChargeRecord } from './charges';
import { AUTOMATIC, type EventStore } from './events';
import { newId } from './ids';
import type { MoneyClock, MoneyClockView } from './money-clock';
import { DEFAULT_PAYOUT_ARRIVAL_SECONDS, DEFAULT_PAYOUT_IN_TRANSIT_SECONDS, PayoutService } from './payouts';
import { TransferService } from './transfers';

export const DEFAULT_AVAILABILITY_DELAY_SECONDS = 86_400;
/** The currency of the platform's balance before it has any transaction. */
export const PLATFORM_CURRENCY = 'usd';

/** Timing and fees of money movements (options, also set at runtime by POST /__admin/settings). */
export interface ConnectSettings {
  /** From a charge to its funds being available, on the money clock. */
  availabilityDelaySeconds: number;
  /** From a payout's creation to `in_transit`. */
  payoutInTransitSeconds: number;
  /** From a payout's creation to its `arrival_date` (paid or failed). */
  payoutArrivalSeconds: number;
  feeSchedule: FeeSchedule;
}

export function defaultConnectSettings(): ConnectSettings {
  return {
    availabilityDelaySeconds: DEFAULT_AVAILABILITY_DELAY_SECONDS,
    payoutInTransitSeconds: DEFAULT_PAYOUT_IN_TRANSIT_SECONDS,
    payoutArrivalSeconds: DEFAULT_PAYOUT_ARRIVAL_SECONDS,
    feeSchedule: structuredClone(DEFAULT_FEE_SCHEDULE) as FeeSchedule,
  };
}

/** The largest delay a setting takes: a year. */
export const MAX_DELAY_SECONDS = 366 * 24 * 60 * 60;

export function assertDelay(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_DELAY_SECONDS) {
    throw new RangeError(`${name} must be an integer from 0 to ${MAX_DELAY_SECONDS} (seconds).`);
  }
}

/** Due transitions of another service on the money clock (see the header). */
export interface MoneyMovements {
  /** The earliest transition due at `now`, if any. */
  nextDue(now: number): number | undefined;
  /** Applies the transitions due at `time`. */
  advance(time: number): void;
  /** The platform's balance may have grown at `time`: proceed with what waits for funds. */
  fundsChanged(time: number): void;
}

export interface ConnectDependencies {
  clock: MoneyClock;
  events: EventStore;
  charges: ChargeLedger;
  settings: () => ConnectSettings;
  /** The simulator's clock in seconds (Account Link expiry). */
  nowSeconds: () => number;
  publicUrl: () => string;
  /** The description a charge's balance transaction carries (its PaymentIntent's). */
  describeCharge: (record: ChargeRecord) => string | null;
}

export class Connect {
  readonly ledger: BalanceLedger;
  readonly accounts: AccountService;
  readonly transfers: TransferService;
  readonly payouts: PayoutService;
  private readonly movements: MoneyMovements[] = [];

  constructor(private readonly deps: ConnectDependencies) {
    const { clock, events } = deps;
    this.ledger = new BalanceLedger(clock);
    this.accounts = new AccountService(clock, deps.nowSeconds, events, deps.publicUrl);
    this.transfers = new TransferService(this.ledger, this.accounts, clock, events, (id) => this.chargeFunds(id));
    this.payouts = new PayoutService(this.ledger, this.accounts, clock, events, deps.settings);
  }

  /** The charge ledger's report of a change: a capture books the charge's funds. */
  chargeChanged(record: ChargeRecord, change: ChargeChange): void {
    const captured = (change === 'succeeded' && record.captured) || change === 'captured';
    if (!captured || record.balance_transaction !== null) return;
    const settings = this.deps.settings();
    const amount = record.amount_captured;
    const txn = this.ledger.record({
      account: null,
      type: 'charge',
      amount,
      currency: record.currency,
      source: record.id,
      description: this.deps.describeCharge(record),
      fee: stripeFee(amount, record.currency, settings.feeSchedule),
      availableOn: this.deps.clock.now() + settings.availabilityDelaySeconds,
    });
    this.deps.charges.setBalanceTransaction(record.id, txn.id);
  }

  /** Registers another service's due transitions (applied by applyDue). */
  register(movements: MoneyMovements): void {
    this.movements.push(movements);
  }

  /** Adds available funds to the platform's balance (a `topup` balance transaction), then applies what they allow. */
  topUp(currency: string, amount: number, description: string | null = null): Stripe.BalanceTransaction {
    const txn = this.ledger.record({
      account: null,
      type: 'topup',
      amount,
      currency,
      source: newId('tu'),
      description: description ?? 'Top-up (PSP simulator)',
    });
    this.applyDue();
    return txn;
  }

  /** The Balance of the platform (null) or of a connected account. */
  balance(account: string | null): Stripe.Balance {
    const fallback = account === null ? PLATFORM_CURRENCY : this.accounts.defaultCurrency(account);
    return this.ledger.balance(account, fallback);
  }

  /** Moves the money clock forward and applies every transition now due, in time order. */
  advance(seconds: number): MoneyClockView {
    this.deps.clock.advance(seconds);
    this.applyDue();
    return this.deps.clock.view();
  }

  /**
   * Applies every due transition in time order (funds, then payouts, then the registered movements at the same
   * second). What waits for funds is first given the balance as it is now (a top-up or money given back since).
   */
  applyDue(): void {
    const now = this.deps.clock.now();
    this.fundsChanged(now);
    for (;;) {
      const funds = this.ledger.nextDue(now);
      const payouts = this.payouts.nextDue(now);
      let other: { movements: MoneyMovements; due: number } | undefined;
      for (const movements of this.movements) {
        const due = movements.nextDue(now);
        if (due !== undefined && (other === undefined || due < other.due)) other = { movements, due };
      }
      const next = Math.min(funds ?? Infinity, payouts ?? Infinity, other?.due ?? Infinity);
      if (next === Infinity) return;
      if (funds === next) {
        for (const account of this.ledger.settle(funds)) {
          this.deps.events.emit('balance.available', this.balance(account), AUTOMATIC, {
            ...(account !== null && { account }),
            created: funds,
          });
        }
        this.fundsChanged(funds);
      } else if (payouts === next) {
        this.payouts.advance(payouts, AUTOMATIC);
      } else if (other !== undefined) {
        other.movements.advance(other.due);
        this.fundsChanged(other.due);
      }
    }
  }

  private fundsChanged(time: number): void {
    for (const movements of this.movements) movements.fundsChanged(time);
  }

  /** What a captured charge can fund (transfers with source_transaction). */
  private chargeFunds(chargeId: string) {
    const record = this.deps.charges.get(chargeId);
    if (record?.status !== 'succeeded' || record.balance_transaction === null) return undefined;
    const txn = this.ledger.get(null, record.balance_transaction);
    if (!txn) return undefined;
    return { currency: record.currency, amount: record.amount_captured, availableOn: txn.available_on };
  }
}
