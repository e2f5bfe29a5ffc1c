// Disputes (`du_...`, chargebacks) of captured charges, opened by the admin (POST /__admin/disputes) as a cardholder's
// bank would open them, and answered through the API (dispute-routes.ts):
//
//   open       `needs_response`, evidence due 7 days later on the money clock (evidence_details.due_by),
//              is_charge_refundable false; the charge shows `disputed: true` and can no longer be refunded
//              (`charge_disputed`, refunds.ts). The disputed amount (default: the captured amount) and the dispute fee
//              leave the platform's balance at once in ONE balance transaction, as Stripe books it: type `adjustment`,
//              reporting_category `dispute`, amount -disputed amount, fee = the dispute fee (fee_details: a stripe_fee
//              "Dispute fee"), net = -(amount + fee), source the dispute. The itemized balance report reads such a
//              row as gross, fee and net. The dispute's `balance_transactions` lists it (in both events too).
//                                                   charge.dispute.created, charge.dispute.funds_withdrawn
//              Refunds of the charge still pending then fail with `charge_for_pending_refund_disputed`, as on
//              Stripe (refunds.ts: refund.failed, refund.updated).
//   update     evidence (staged; submitted unless submit=false: `under_review`), metadata   charge.dispute.updated
//   close      (API, accepting the dispute) `lost`: the withdrawal is final              charge.dispute.closed
//   admin close {"status": "won" | "lost"} from needs_response or under_review:
//              won   the amount and the fee come back in one transaction (`adjustment`, reporting_category
//                    `dispute_reversal`, amount +disputed amount, fee -dispute fee, net = amount + fee), listed second
//                    in balance_transactions        charge.dispute.funds_reinstated, charge.dispute.closed
//              lost  nothing moves                  charge.dispute.closed
//
// The dispute fee is a setting by currency (`default` for the others; default 1500 minor units), see
// PspSimulatorOptions.disputeFees and POST /__admin/settings {"dispute_fee": {...}}. One dispute per charge.

import type Stripe from 'stripe';
import type { BalanceLedger } from './balance';
import { FeeScheduleError } from './balance';
import type { ChargeLedger, ChargeRecord } from './charges';
import { invalidRequest, resourceMissing } from './errors';
import type { EmittedEventType, EventOrigin, EventStore } from './events';
import { newId } from './ids';
import type { MoneyClock } from './money-clock';
import { previousAttributes } from './refunds';

/** Stripe's dispute reasons. */
export const DISPUTE_REASONS = [
  'bank_cannot_process',
  'check_returned',
  'credit_not_processed',
  'customer_initiated',
  'debit_not_authorized',
  'duplicate',
  'fraudulent',
  'general',
  'incorrect_account_details',
  'insufficient_funds',
  'noncompliant',
  'product_not_received',
  'product_unacceptable',
  'subscription_canceled',
  'unrecognized',
] as const;
export type DisputeReason = (typeof DISPUTE_REASONS)[number];

/** The evidence fields a dispute update takes (text, or a File id for the documents). */
export const EVIDENCE_FIELDS = [
  'access_activity_log',
  'billing_address',
  'cancellation_policy',
  'cancellation_policy_disclosure',
  'cancellation_rebuttal',
  'customer_communication',
  'customer_email_address',
  'customer_name',
  'customer_purchase_ip',
  'customer_signature',
  'duplicate_charge_documentation',
  'duplicate_charge_explanation',
  'duplicate_charge_id',
  'product_description',
  'receipt',
  'refund_policy',
  'refund_policy_disclosure',
  'refund_refusal_explanation',
  'service_date',
  'service_documentation',
  'shipping_address',
  'shipping_carrier',
  'shipping_date',
  'shipping_documentation',
  'shipping_tracking_number',
  'uncategorized_file',
  'uncategorized_text',
] as const;
export type EvidenceField = (typeof EVIDENCE_FIELDS)[number];

export const INTENDED_SUBMISSION_METHODS = [
  'manual',
  'prefer_manual',
  'prefer_smart_disputes',
  'smart_disputes',
] as const;

/** Dispute fees in minor units by lowercase currency, with `default` for the others. */
export type DisputeFeeSchedule = Record<string, number>;

export const DEFAULT_DISPUTE_FEE = 1500;
export const DEFAULT_DISPUTE_FEES: Readonly<DisputeFeeSchedule> = Object.freeze({ default: DEFAULT_DISPUTE_FEE });

/** Days from a dispute's creation to its evidence due date. */
export const EVIDENCE_DUE_DAYS = 7;

/** Validates a dispute fee schedule: `{ "eur": 2000, "default": 1500 }`; throws FeeScheduleError. */
export function parseDisputeFees(input: unknown): DisputeFeeSchedule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FeeScheduleError('dispute_fee must be an object of currency -> fee in minor units.');
  }
  const fees: DisputeFeeSchedule = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (key !== 'default' && !/^[a-z]{3}$/.test(key)) {
      throw new FeeScheduleError(`dispute_fee keys are lowercase currency codes or 'default': '${key}'.`);
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1_000_000) {
      throw new FeeScheduleError(`dispute_fee.${key} must be an integer from 0 to 1000000 (minor units).`);
    }
    fees[key] = value;
  }
  return fees;
}

export function disputeFee(currency: string, fees: DisputeFeeSchedule): number {
  return fees[currency] ?? fees.default ?? DEFAULT_DISPUTE_FEE;
}

export interface DisputeDependencies {
  ledger: BalanceLedger;
  clock: MoneyClock;
  events: EventStore;
  charges: ChargeLedger;
  fees: () => DisputeFeeSchedule;
  /** The latest charge of a PaymentIntent (null: none yet); undefined when there is no such intent. */
  latestCharge(paymentIntent: string): string | null | undefined;
  /** The card brand of the charge's payment method, if it was a card. */
  cardBrand(record: ChargeRecord): string | null;
  /** Called once a dispute is open and its events emitted (refunds still pending on the charge fail). */
  opened?(chargeId: string, origin: EventOrigin): void;
}

export interface DisputeOpenInput {
  /** The charge disputed; else the latest charge of `payment_intent`. */
  charge?: string;
  paymentIntent?: string;
  reason: DisputeReason;
  /** Default: the charge's captured amount. */
  amount?: number;
}

export interface DisputeUpdateInput {
  evidence?: Partial<Record<EvidenceField, string | null>>;
  metadata?: (current: Record<string, string>) => Record<string, string>;
  /** Default true, as on Stripe: staged evidence is submitted. */
  submit?: boolean;
  intendedSubmissionMethod?: (typeof INTENDED_SUBMISSION_METHODS)[number];
}

const OPEN_STATUSES: readonly string[] = ['needs_response', 'warning_needs_response'];
const CLOSED_STATUSES: readonly string[] = ['won', 'lost', 'warning_closed'];

interface DisputeRecord {
  dispute: Stripe.Dispute;
}

export class DisputeService {
  // Insertion order is creation order.
  private readonly records = new Map<string, DisputeRecord>();

  constructor(private readonly deps: DisputeDependencies) {}

  /** Checks an opening before anything moves; returns the charge. */
  assertOpenable(input: DisputeOpenInput): ChargeRecord {
    const charge = this.chargeOf(input);
    if (charge.status !== 'succeeded' || !charge.captured) {
      throw invalidRequest(`Charge ${charge.id} was not captured: there is nothing to dispute.`, { param: 'charge' });
    }
    if (this.forCharge(charge.id)) {
      throw invalidRequest(`Charge ${charge.id} is already disputed.`, { param: 'charge', status: 409 });
    }
    const amount = input.amount ?? charge.amount_captured;
    if (!Number.isInteger(amount) || amount < 1 || amount > charge.amount_captured) {
      throw invalidRequest(`amount must be an integer from 1 to the captured amount (${charge.amount_captured}).`, {
        param: 'amount',
      });
    }
    return charge;
  }

  open(input: DisputeOpenInput, origin: EventOrigin): Stripe.Dispute {
    const charge = this.assertOpenable(input);
    const amount = input.amount ?? charge.amount_captured;
    const id = newId('du');
    const created = this.deps.clock.now();
    const withdrawal = this.deps.ledger.record({
      account: null,
      type: 'adjustment',
      amount: -amount,
      currency: charge.currency,
      source: id,
      description: `Chargeback withdrawal for ${charge.id}`,
      fee: disputeFee(charge.currency, this.deps.fees()),
      feeDescription: 'Dispute fee',
      reportingCategory: 'dispute',
    });
    const brand = this.deps.cardBrand(charge);
    const dispute: Stripe.Dispute = {
      id,
      object: 'dispute',
      amount,
      balance_transactions: [withdrawal],
      charge: charge.id,
      created,
      currency: charge.currency,
      enhanced_eligibility_types: [],
      evidence: emptyEvidence(),
      evidence_details: {
        due_by: created + EVIDENCE_DUE_DAYS * 86_400,
        enhanced_eligibility: {},
        has_evidence: false,
        past_due: false,
        submission_count: 0,
        submission_method: 'not_submitted',
      },
      intended_submission_method: null,
      is_charge_refundable: false,
      livemode: false,
      metadata: {},
      network_reason_code: null,
      payment_intent: charge.payment_intent,
      ...(brand !== null && {
        payment_method_details: {
          card: { brand, case_type: 'chargeback', network: brand, network_reason_code: null },
          type: 'card',
        },
      }),
      reason: input.reason,
      status: 'needs_response',
    };
    this.records.set(id, { dispute });
    this.emit('charge.dispute.created', dispute, origin);
    this.emit('charge.dispute.funds_withdrawn', dispute, origin);
    this.deps.opened?.(charge.id, origin);
    return this.render(dispute);
  }

  /** Checks an update before executing. */
  assertUpdatable(id: string, input: DisputeUpdateInput): void {
    const { dispute } = this.find(id);
    if (input.evidence === undefined && input.submit !== true) return;
    if (CLOSED_STATUSES.includes(dispute.status)) {
      throw invalidRequest(`This dispute is already closed (${dispute.status}): its evidence cannot change.`, {
        param: 'evidence',
      });
    }
    if (!OPEN_STATUSES.includes(dispute.status)) {
      throw invalidRequest(`The evidence of this dispute was already submitted: it is ${dispute.status}.`, {
        param: 'evidence',
      });
    }
  }

  update(id: string, input: DisputeUpdateInput, origin: EventOrigin): Stripe.Dispute {
    this.assertUpdatable(id, input);
    const { dispute } = this.find(id);
    const before = structuredClone(dispute);
    if (input.metadata) dispute.metadata = input.metadata(dispute.metadata);
    if (input.intendedSubmissionMethod) dispute.intended_submission_method = input.intendedSubmissionMethod;
    if (input.evidence) {
      const evidence = dispute.evidence as unknown as Record<string, unknown>;
      for (const [field, value] of Object.entries(input.evidence)) evidence[field] = value;
      dispute.evidence_details.has_evidence = EVIDENCE_FIELDS.some((field) => evidence[field] !== null);
    }
    const staged = dispute.evidence_details.has_evidence;
    if ((input.submit ?? true) && staged && (input.evidence !== undefined || input.submit === true)) {
      dispute.status = dispute.status === 'warning_needs_response' ? 'warning_under_review' : 'under_review';
      dispute.evidence_details.submission_count += 1;
      dispute.evidence_details.submission_method = 'manual';
    }
    const previous = previousAttributes(before, dispute);
    if (Object.keys(previous).length > 0) {
      this.emit('charge.dispute.updated', dispute, origin, previous);
    }
    return this.render(dispute);
  }

  /** Checks that the merchant may accept (close) the dispute. */
  assertAcceptable(id: string): void {
    const { dispute } = this.find(id);
    if (CLOSED_STATUSES.includes(dispute.status)) {
      throw invalidRequest(`This dispute is already closed (${dispute.status}).`, { param: 'dispute' });
    }
    if (!OPEN_STATUSES.includes(dispute.status)) {
      throw invalidRequest(
        `This dispute is ${dispute.status}: only a dispute that needs a response can be closed by accepting it.`,
        { param: 'dispute' },
      );
    }
  }

  /** The merchant accepts the dispute (POST /v1/disputes/:id/close): lost, the withdrawal is final. */
  accept(id: string, origin: EventOrigin): Stripe.Dispute {
    this.assertAcceptable(id);
    const { dispute } = this.find(id);
    const before = structuredClone(dispute);
    dispute.status = 'lost';
    this.emit('charge.dispute.closed', dispute, origin, previousAttributes(before, dispute));
    return this.render(dispute);
  }

  /** The bank's decision (admin): won gives the amount and the fee back; lost keeps the withdrawal. */
  close(id: string, status: 'won' | 'lost', origin: EventOrigin): Stripe.Dispute {
    const { dispute } = this.find(id);
    if (CLOSED_STATUSES.includes(dispute.status)) {
      throw invalidRequest(`This dispute is already closed (${dispute.status}).`, { param: 'id', status: 409 });
    }
    const before = structuredClone(dispute);
    dispute.status = status;
    if (status === 'won') {
      const withdrawal = dispute.balance_transactions[0];
      const reinstatement = this.deps.ledger.record({
        account: null,
        type: 'adjustment',
        amount: dispute.amount,
        currency: dispute.currency,
        source: dispute.id,
        description: `Chargeback reversal for ${dispute.charge as string}`,
        fee: -(withdrawal?.fee ?? 0),
        feeDescription: 'Dispute fee refund',
        reportingCategory: 'dispute_reversal',
      });
      dispute.balance_transactions.push(reinstatement);
      this.emit('charge.dispute.funds_reinstated', dispute, origin, previousAttributes(before, dispute));
    }
    this.emit('charge.dispute.closed', dispute, origin, previousAttributes(before, dispute));
    return this.render(dispute);
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  private chargeOf(input: DisputeOpenInput): ChargeRecord {
    if (input.charge !== undefined) {
      const charge = this.deps.charges.get(input.charge);
      if (!charge) throw resourceMissing('charge', input.charge, 'charge', 400);
      if (input.paymentIntent !== undefined && charge.payment_intent !== input.paymentIntent) {
        throw invalidRequest(`Charge ${charge.id} does not belong to PaymentIntent ${input.paymentIntent}.`, {
          param: 'charge',
        });
      }
      return charge;
    }
    if (input.paymentIntent === undefined) {
      throw invalidRequest('One of payment_intent or charge is required.', { param: 'payment_intent' });
    }
    const latest = this.deps.latestCharge(input.paymentIntent);
    if (latest === undefined) throw resourceMissing('payment_intent', input.paymentIntent, 'payment_intent', 400);
    const charge = latest === null ? undefined : this.deps.charges.get(latest);
    if (!charge) {
      throw invalidRequest(`PaymentIntent ${input.paymentIntent} has no charge to dispute.`, {
        param: 'payment_intent',
      });
    }
    return charge;
  }

  get(id: string): Stripe.Dispute {
    return this.render(this.find(id).dispute);
  }

  /** The dispute of a charge, if any. */
  forCharge(chargeId: string): Stripe.Dispute | undefined {
    for (const { dispute } of this.records.values()) {
      if (dispute.charge === chargeId) return this.render(dispute);
    }
    return undefined;
  }

  /** Whether a dispute keeps the charge from being refunded: one that is not won and not refundable. */
  blocksRefund(chargeId: string): boolean {
    const dispute = this.forCharge(chargeId);
    return dispute !== undefined && dispute.status !== 'won' && !dispute.is_charge_refundable;
  }

  newestFirst(): Stripe.Dispute[] {
    return this.oldestFirst().reverse();
  }

  oldestFirst(): Stripe.Dispute[] {
    return [...this.records.values()].map((record) => this.render(record.dispute));
  }

  /** A copy, with `past_due` as the money clock has it. */
  private render(dispute: Stripe.Dispute): Stripe.Dispute {
    const copy = structuredClone(dispute);
    const dueBy = copy.evidence_details.due_by;
    copy.evidence_details.past_due =
      OPEN_STATUSES.includes(copy.status) && dueBy !== null && this.deps.clock.now() > dueBy;
    return copy;
  }

  private emit(
    type: EmittedEventType,
    dispute: Stripe.Dispute,
    origin: EventOrigin,
    previous?: Record<string, unknown>,
  ): void {
    this.deps.events.emit(type, this.render(dispute), origin, {
      ...(previous !== undefined && { previousAttributes: previous }),
    });
  }

  private find(id: string): DisputeRecord {
    const record = this.records.get(id);
    if (!record) throw resourceMissing('dispute', id, 'dispute');
    return record;
  }
}

function emptyEvidence(): Stripe.Dispute.Evidence {
  const evidence = Object.fromEntries(EVIDENCE_FIELDS.map((field) => [field, null])) as Record<EvidenceField, null>;
  return { ...evidence, enhanced_evidence: {} };
}
