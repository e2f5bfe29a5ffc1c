// Refunds (`re_...`) of captured charges, drawn on the platform's balance and driven by the money clock
// (money-clock.ts, connect.ts):
//
//   create     the amount (default: what remains) must fit what remains of the charge, its captured amount less the
//              refunds neither failed nor canceled. Refused, as Stripe refuses them, when executing (so stored under
//              the idempotency key and replayed): `charge_already_refunded` when nothing remains, an `amount` error
//              when it asks for more than remains, `charge_disputed` while a dispute holds the charge (disputes.ts).
//              It draws on the platform's AVAILABLE balance in the charge's currency:
//                enough  a `refund` balance transaction (-amount, fee 0: Stripe keeps the charge's processing fee and
//                        the charge's own transaction is unchanged), `succeeded`      refund.created, charge.refunded
//                short   `pending` (pending_reason insufficient_funds), no balance transaction yet    refund.created
//              A refund waiting for funds is booked as soon as the available balance covers it (oldest first, each one
//              the balance covers): on the money sweep, a clock advance, a top-up, new funds, money given back
//                                                                             refund.updated, charge.refunded
//   planned failure (POST /__admin/refunds/failures): the next `count` refunds are booked as above but stay `pending`
//              (pending_reason processing) until created + delay_seconds on the money clock, then fail.
//   fail       `failed` with `failure_reason`; a `refund_failure` balance transaction (+amount, available at once)
//              gives the money back and is the refund's `failure_balance_transaction` (none when nothing was booked)
//                                                                             refund.failed, refund.updated
//              POST /__admin/refunds/:id/fail fails a pending or a succeeded refund (Stripe may fail one days later).
//   dispute    a dispute opened on the charge fails its pending refunds (charge_for_pending_refund_disputed).
//   cancel     only while `pending` or `requires_action`: `canceled`; a booked one gets its money back the same way
//              (a `refund_failure` transaction, its failure_balance_transaction)      refund.updated
//   update     metadata                                                           refund.updated
//
// A pending refund counts in the charge's `amount_refunded`, as on Stripe; a failed or canceled one does not.
// `charge.refunded` carries the Charge (charge-routes.ts) once the refund succeeded. Events of a transition applied
// by the money clock are dated when it was due.

import { randomInt } from 'node:crypto';
import type Stripe from 'stripe';
import type { BalanceLedger } from './balance';
import type { ChargeLedger, ChargeRecord } from './charges';
import type { MoneyMovements } from './connect';
import { formatAmount } from './currencies';
import { invalidRequest, resourceMissing, type StripeApiError } from './errors';
import { AUTOMATIC, type EmittedEventType, type EventOrigin, type EventStore } from './events';
import { newId } from './ids';
import type { MoneyClock } from './money-clock';

export const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;
export type RefundReason = (typeof REFUND_REASONS)[number];

/** Stripe's failure reasons of a refund (Refund.failure_reason). */
export const REFUND_FAILURE_REASONS = [
  'charge_for_pending_refund_disputed',
  'declined',
  'expired_or_canceled_card',
  'insufficient_funds',
  'lost_or_stolen_card',
  'merchant_request',
  'unknown',
] as const;
export type RefundFailureReason = (typeof REFUND_FAILURE_REASONS)[number];

export function isRefundFailureReason(value: unknown): value is RefundFailureReason {
  return typeof value === 'string' && (REFUND_FAILURE_REASONS as readonly string[]).includes(value);
}

/** The next `count` refunds fail with `refund_failure_reason`, `delay_seconds` after their creation. */
export interface RefundFailurePlan {
  refund_failure_reason: RefundFailureReason;
  count: number;
  delay_seconds: number;
}

const PLAN_FIELDS = ['refund_failure_reason', 'count', 'delay_seconds'];
const MAX_PLAN_COUNT = 1_000_000;
/** The longest planned delay: a year. */
const MAX_PLAN_DELAY_SECONDS = 366 * 24 * 60 * 60;

/** Validates a failure plan (POST /__admin/refunds/failures); throws RangeError. */
export function parseRefundFailurePlan(input: unknown): RefundFailurePlan {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new RangeError('The refund failure plan must be a JSON object.');
  }
  const fields = input as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!PLAN_FIELDS.includes(name)) {
      throw new RangeError(`Unknown field '${name}' (known: ${PLAN_FIELDS.join(', ')}).`);
    }
  }
  const reason = fields.refund_failure_reason;
  if (!isRefundFailureReason(reason)) {
    throw new RangeError(`refund_failure_reason must be one of: ${REFUND_FAILURE_REASONS.join(', ')}.`);
  }
  const count = fields.count ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_PLAN_COUNT) {
    throw new RangeError(`count must be an integer from 1 to ${MAX_PLAN_COUNT}.`);
  }
  const delay = fields.delay_seconds ?? 0;
  if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > MAX_PLAN_DELAY_SECONDS) {
    throw new RangeError(`delay_seconds must be an integer from 0 to ${MAX_PLAN_DELAY_SECONDS}.`);
  }
  return { refund_failure_reason: reason, count, delay_seconds: delay };
}

export interface RefundDependencies {
  ledger: BalanceLedger;
  clock: MoneyClock;
  events: EventStore;
  charges: ChargeLedger;
  /** The latest charge of a PaymentIntent (null: none yet); undefined when there is no such intent. */
  latestCharge(paymentIntent: string): string | null | undefined;
  /** The Charge object as the API renders it now (the object of charge.refunded). */
  renderCharge(chargeId: string): Stripe.Charge;
  /** The customer of the charge's PaymentIntent. */
  customerOf(record: ChargeRecord): string | null;
  /** What the refund's balance transaction says about the charge (its PaymentIntent's description). */
  describeCharge(record: ChargeRecord): string | null;
  /** Whether a dispute keeps the charge from being refunded (disputes.ts). */
  blockedByDispute(chargeId: string): boolean;
}

export interface RefundTarget {
  charge?: string;
  paymentIntent?: string;
}

export interface RefundCreateInput extends RefundTarget {
  /** Default: what remains to refund. */
  amount?: number;
  reason: RefundReason | null;
  metadata: Record<string, string>;
}

interface RefundRecord {
  refund: Stripe.Refund;
  /** When its `refund` balance transaction was booked (money clock); undefined while it waits for funds. */
  fundedAt?: number;
  /** A failure planned by the admin, due at `at` on the money clock (not before the refund is booked). */
  plannedFailure?: { reason: RefundFailureReason; at: number };
}

const ACTIVE_STATUSES: readonly string[] = ['pending', 'requires_action', 'succeeded'];
const CANCELABLE_STATUSES: readonly string[] = ['pending', 'requires_action'];

export class RefundService implements MoneyMovements {
  // Insertion order is creation order.
  private readonly records = new Map<string, RefundRecord>();
  private readonly plans: RefundFailurePlan[] = [];

  constructor(private readonly deps: RefundDependencies) {}

  /**
   * The charge a refund is for: `charge`, else the latest charge of `payment_intent` (both given: they must agree);
   * undefined when the intent has no charge yet. Throws the parameter errors (unknown ids), raised before executing.
   */
  target(input: RefundTarget): ChargeRecord | undefined {
    const { charge, paymentIntent } = input;
    if (charge === undefined && paymentIntent === undefined) {
      throw invalidRequest(
        'One of the following params should be provided for this request: payment_intent or charge.',
        {
          param: 'payment_intent',
        },
      );
    }
    let record: ChargeRecord | undefined;
    if (charge !== undefined) {
      record = this.deps.charges.get(charge);
      if (!record) throw resourceMissing('charge', charge, 'charge', 400);
    }
    if (paymentIntent === undefined) return record;
    const latest = this.deps.latestCharge(paymentIntent);
    if (latest === undefined) throw resourceMissing('payment_intent', paymentIntent, 'payment_intent', 400);
    if (record !== undefined && record.payment_intent !== paymentIntent) {
      throw invalidRequest(`Charge ${record.id} does not belong to PaymentIntent ${paymentIntent}.`, {
        param: 'charge',
      });
    }
    return record ?? (latest === null ? undefined : this.deps.charges.get(latest));
  }

  create(input: RefundCreateInput, origin: EventOrigin): Stripe.Refund {
    const charge = this.target(input);
    if (!charge) throw noSuccessfulCharge(input.paymentIntent ?? '');
    const remaining = this.refundable(charge);
    const amount = input.amount ?? remaining;
    if (amount > remaining) {
      throw invalidRequest(
        `Refund amount (${formatAmount(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatAmount(remaining, charge.currency)})`,
        { param: 'amount' },
      );
    }
    const now = this.deps.clock.now();
    const refund: Stripe.Refund = {
      id: newId('re'),
      object: 'refund',
      amount,
      balance_transaction: null,
      charge: charge.id,
      created: now,
      currency: charge.currency,
      customer: this.deps.customerOf(charge),
      customer_account: null,
      destination_details: cardDestination('pending'),
      metadata: { ...input.metadata },
      payment_intent: charge.payment_intent,
      payment_method: charge.payment_method,
      pending_reason: 'insufficient_funds',
      reason: input.reason,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'pending',
      transfer_reversal: null,
    };
    const record: RefundRecord = { refund };
    const plan = this.takePlan();
    if (plan) record.plannedFailure = { reason: plan.refund_failure_reason, at: now + plan.delay_seconds };
    this.records.set(refund.id, record);
    const succeeded = this.covered(record) && this.book(record, now);
    this.emit('refund.created', record, origin);
    if (succeeded) this.emitChargeRefunded(record, origin);
    return structuredClone(refund);
  }

  update(
    id: string,
    metadata: (current: Record<string, string>) => Record<string, string>,
    origin: EventOrigin,
  ): Stripe.Refund {
    const record = this.find(id);
    const { refund } = record;
    const next = metadata(refund.metadata ?? {});
    if (JSON.stringify(next) !== JSON.stringify(refund.metadata)) {
      const before = structuredClone(refund);
      refund.metadata = next;
      this.emit('refund.updated', record, origin, before);
    }
    return structuredClone(refund);
  }

  /** Checks that a refund can be canceled (also run before executing). */
  assertCancelable(id: string): void {
    const { refund } = this.find(id);
    if (!CANCELABLE_STATUSES.includes(refund.status ?? '')) {
      throw invalidRequest(
        `You cannot cancel this refund because it has a status of ${refund.status}. Only a refund with one of the following statuses may be canceled: ${CANCELABLE_STATUSES.join(', ')}.`,
        { param: 'refund' },
      );
    }
  }

  cancel(id: string, origin: EventOrigin): Stripe.Refund {
    this.assertCancelable(id);
    const record = this.find(id);
    const { refund } = record;
    const before = structuredClone(refund);
    this.giveBack(record, 'Refund canceled');
    refund.status = 'canceled';
    delete refund.pending_reason;
    record.plannedFailure = undefined;
    this.emit('refund.updated', record, origin, before);
    return structuredClone(refund);
  }

  /** Fails a pending or succeeded refund now (admin). Throws for a failed or canceled one. */
  fail(id: string, reason: RefundFailureReason, origin: EventOrigin): Stripe.Refund {
    const record = this.find(id);
    const status = record.refund.status;
    if (status !== 'pending' && status !== 'succeeded' && status !== 'requires_action') {
      throw invalidRequest(`Refund ${id} is ${status}: it cannot fail.`, { param: 'id', status: 409 });
    }
    this.failNow(record, reason, origin);
    return structuredClone(record.refund);
  }

  /** A dispute opened on the charge: its refunds still pending fail (`charge_for_pending_refund_disputed`). */
  disputeOpened(chargeId: string, origin: EventOrigin): void {
    for (const record of this.records.values()) {
      if (record.refund.charge === chargeId && CANCELABLE_STATUSES.includes(record.refund.status ?? '')) {
        this.failNow(record, 'charge_for_pending_refund_disputed', origin);
      }
    }
  }

  planFailures(plan: RefundFailurePlan): RefundFailurePlan[] {
    this.plans.push({ ...plan });
    return this.plannedFailures();
  }

  /** The failure plans not used up yet, in the order they will be taken. */
  plannedFailures(): RefundFailurePlan[] {
    return this.plans.map((plan) => ({ ...plan }));
  }

  clearPlannedFailures(): void {
    this.plans.length = 0;
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  get(id: string): Stripe.Refund {
    return structuredClone(this.find(id).refund);
  }

  /** Every refund, newest first (copies). */
  newestFirst(): Stripe.Refund[] {
    return this.oldestFirst().reverse();
  }

  /** Every refund, oldest first (copies). */
  oldestFirst(): Stripe.Refund[] {
    return [...this.records.values()].map((record) => structuredClone(record.refund));
  }

  /** The refunds of one charge, newest first (copies). */
  refundsOf(chargeId: string): Stripe.Refund[] {
    return this.newestFirst().filter((refund) => refund.charge === chargeId);
  }

  /** What the charge's refunds take back: pending and succeeded ones (its `amount_refunded`, with a release). */
  refundedAmount(chargeId: string): number {
    let total = 0;
    for (const { refund } of this.records.values()) {
      if (refund.charge === chargeId && ACTIVE_STATUSES.includes(refund.status ?? '')) total += refund.amount;
    }
    return total;
  }

  /** MoneyMovements: the earliest planned failure due at `now`. */
  nextDue(now: number): number | undefined {
    let next: number | undefined;
    for (const record of this.records.values()) {
      const due = failureDue(record);
      if (due !== undefined && due <= now && (next === undefined || due < next)) next = due;
    }
    return next;
  }

  /** MoneyMovements: applies the planned failures due at `time`, in creation order. */
  advance(time: number): void {
    for (const record of this.records.values()) {
      const due = failureDue(record);
      if (due === undefined || due > time || !record.plannedFailure) continue;
      this.failNow(record, record.plannedFailure.reason, AUTOMATIC, time);
    }
  }

  /** MoneyMovements: books the refunds waiting for funds that the available balance now covers, oldest first. */
  fundsChanged(time: number): void {
    for (const record of this.records.values()) {
      if (record.refund.status !== 'pending' || record.fundedAt !== undefined || !this.covered(record)) continue;
      const before = structuredClone(record.refund);
      const succeeded = this.book(record, time);
      this.emit('refund.updated', record, AUTOMATIC, before, time);
      if (succeeded) this.emitChargeRefunded(record, AUTOMATIC, time);
    }
  }

  /** What remains to refund on a charge; throws Stripe's refusals (when executing). */
  private refundable(charge: ChargeRecord): number {
    if (charge.status !== 'succeeded') throw noSuccessfulCharge(charge.payment_intent);
    if (!charge.captured) {
      if (charge.refunded) throw alreadyRefunded(charge.id);
      throw invalidRequest(
        `Charge ${charge.id} has not been captured: cancel its PaymentIntent (${charge.payment_intent}) to release the authorization.`,
        { param: 'charge' },
      );
    }
    if (this.deps.blockedByDispute(charge.id)) {
      throw invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, {
        code: 'charge_disputed',
      });
    }
    const remaining = charge.amount_captured - this.refundedAmount(charge.id);
    if (remaining <= 0) throw alreadyRefunded(charge.id);
    return remaining;
  }

  /** Whether the platform's available balance covers the refund. */
  private covered(record: RefundRecord): boolean {
    const { refund } = record;
    return this.deps.ledger.amounts(null, refund.currency).available >= refund.amount;
  }

  /** Books the `refund` balance transaction; the refund succeeds (true) unless a failure is planned. No events. */
  private book(record: RefundRecord, time: number): boolean {
    const { refund } = record;
    const charge = this.deps.charges.get(refund.charge as string);
    const description = charge ? this.deps.describeCharge(charge) : null;
    const txn = this.deps.ledger.record({
      account: null,
      type: 'refund',
      amount: -refund.amount,
      currency: refund.currency,
      source: refund.id,
      description: description ? `REFUND FOR CHARGE (${description})` : 'REFUND FOR CHARGE',
      created: time,
    });
    refund.balance_transaction = txn.id;
    record.fundedAt = time;
    if (record.plannedFailure) {
      refund.pending_reason = 'processing';
      return false;
    }
    refund.status = 'succeeded';
    delete refund.pending_reason;
    refund.destination_details = cardDestination('succeeded');
    return true;
  }

  /** A booked refund's money back on the platform's balance (its failure_balance_transaction). */
  private giveBack(record: RefundRecord, description: string, time?: number): void {
    if (record.fundedAt === undefined) return;
    const { refund } = record;
    const txn = this.deps.ledger.record({
      account: null,
      type: 'refund_failure',
      amount: refund.amount,
      currency: refund.currency,
      source: refund.id,
      description,
      ...(time !== undefined && { created: time }),
    });
    refund.failure_balance_transaction = txn.id;
  }

  private failNow(record: RefundRecord, reason: RefundFailureReason, origin: EventOrigin, time?: number): void {
    const { refund } = record;
    const before = structuredClone(refund);
    this.giveBack(record, `REFUND FAILURE (${reason})`, time);
    refund.status = 'failed';
    refund.failure_reason = reason;
    delete refund.pending_reason;
    record.plannedFailure = undefined;
    this.emit('refund.failed', record, origin, undefined, time);
    this.emit('refund.updated', record, origin, before, time);
  }

  private takePlan(): RefundFailurePlan | undefined {
    const plan = this.plans[0];
    if (!plan) return undefined;
    plan.count -= 1;
    if (plan.count === 0) this.plans.shift();
    return plan;
  }

  private emit(
    type: EmittedEventType,
    record: RefundRecord,
    origin: EventOrigin,
    before?: Stripe.Refund,
    created?: number,
  ): void {
    this.deps.events.emit(type, record.refund, origin, {
      ...(before !== undefined && { previousAttributes: previousAttributes(before, record.refund) }),
      ...(created !== undefined && { created }),
    });
  }

  private emitChargeRefunded(record: RefundRecord, origin: EventOrigin, created?: number): void {
    const charge = this.deps.renderCharge(record.refund.charge as string);
    this.deps.events.emit('charge.refunded', charge, origin, { ...(created !== undefined && { created }) });
  }

  private find(id: string): RefundRecord {
    const record = this.records.get(id);
    if (!record) throw resourceMissing('refund', id, 'id');
    return record;
  }
}

/** When a planned failure is due: its time, not before the refund was booked. */
function failureDue(record: RefundRecord): number | undefined {
  if (record.refund.status !== 'pending' || !record.plannedFailure || record.fundedAt === undefined) return undefined;
  return Math.max(record.plannedFailure.at, record.fundedAt);
}

/**
 * `data.previous_attributes` of an update: the top-level fields that changed, as they were. A field the object did
 * not have before (an optional one, such as failure_reason) is left out: the SDK declares previous_attributes as a
 * Partial of the object, where an optional field cannot be null.
 */
export function previousAttributes(before: object, after: object): Record<string, unknown> {
  const was = before as Record<string, unknown>;
  const now = after as Record<string, unknown>;
  const previous: Record<string, unknown> = {};
  for (const key of Object.keys(was)) {
    if (JSON.stringify(was[key]) !== JSON.stringify(now[key])) previous[key] = was[key];
  }
  return previous;
}

/** Where a card refund goes: `pending` until it succeeds, then a refund with the acquirer's reference number. */
function cardDestination(state: 'pending' | 'succeeded'): Stripe.Refund.DestinationDetails {
  if (state === 'pending') return { card: { reference_status: 'pending', type: 'pending' }, type: 'card' };
  return {
    card: {
      reference: Array.from({ length: 23 }, () => randomInt(10)).join(''),
      reference_status: 'available',
      reference_type: 'acquirer_reference_number',
      type: 'refund',
    },
    type: 'card',
  };
}

function noSuccessfulCharge(paymentIntent: string): StripeApiError {
  return invalidRequest(`This PaymentIntent (${paymentIntent}) does not have a successful charge to refund.`, {
    param: 'payment_intent',
  });
}

function alreadyRefunded(chargeId: string): StripeApiError {
  return invalidRequest(`Charge ${chargeId} has already been refunded.`, { code: 'charge_already_refunded' });
}
