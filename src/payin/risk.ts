/**
 * Risk check behind an interface: a third-party service in production; the default provider is a small,
 * configurable rules engine. APPROVE continues, REJECT ends the payment without a PSP call,
 * REVIEW holds it (PENDING) for an operator's decision.
 */
import type { PaymentEvent } from './payment';

export type RiskDecision = 'APPROVE' | 'REJECT' | 'REVIEW';

export interface RiskAssessment {
  decision: RiskDecision;
  /** Machine-readable reasons, e.g. `blocked_country:KP`. Empty when approved. */
  reasons: string[];
}

export type RiskSubject = Pick<PaymentEvent, 'payment_id' | 'buyer' | 'currency' | 'total_minor'>;

export interface RiskProvider {
  assess(payment: RiskSubject): Promise<RiskAssessment>;
}

export interface RiskRules {
  /** Checkouts above this total (minor units, per currency) are rejected. */
  maxAmountMinor: Record<string, number>;
  /** Checkouts above this total (minor units, per currency) are held for review. */
  reviewAboveMinor: Record<string, number>;
  /** Buyer countries (ISO 3166-1 alpha-2) that are refused. */
  blockedCountries: string[];
  /** More payments than this by one buyer within an hour are held for review (0: no limit). */
  maxPaymentsPerBuyerPerHour: number;
}

/** Counts the buyer's payments in the current hour, this one included (idempotent per payment). */
export type VelocityCounter = (payment: RiskSubject) => Promise<number>;

export class RulesRiskProvider implements RiskProvider {
  constructor(
    private readonly rules: RiskRules,
    private readonly velocity?: VelocityCounter,
  ) {}

  async assess(payment: RiskSubject): Promise<RiskAssessment> {
    const reject: string[] = [];
    if (this.rules.blockedCountries.includes(payment.buyer.country)) {
      reject.push(`blocked_country:${payment.buyer.country}`);
    }
    const limit = this.rules.maxAmountMinor[payment.currency];
    if (limit !== undefined && payment.total_minor > limit) reject.push(`amount_over_limit:${payment.currency}`);
    if (reject.length > 0) return { decision: 'REJECT', reasons: reject };

    const review: string[] = [];
    const reviewAbove = this.rules.reviewAboveMinor[payment.currency];
    if (reviewAbove !== undefined && payment.total_minor > reviewAbove)
      review.push(`amount_review:${payment.currency}`);
    if (this.rules.maxPaymentsPerBuyerPerHour > 0 && this.velocity) {
      const count = await this.velocity(payment);
      if (count > this.rules.maxPaymentsPerBuyerPerHour) review.push(`velocity:${count}_per_hour`);
    }
    return review.length > 0 ? { decision: 'REVIEW', reasons: review } : { decision: 'APPROVE', reasons: [] };
  }
}
