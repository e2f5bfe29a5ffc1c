/**
 * Risk check behind an interface: a third-party service in production; the default provider is a small,
 * configurable rules engine. APPROVE continues, REJECT ends the payment without a PSP call,
 * REVIEW holds it for an operator.
 */
import type { PaymentEvent } from './payment';

export type RiskDecision = 'APPROVE' | 'REJECT' | 'REVIEW';

export interface RiskAssessment {
  decision: RiskDecision;
  /** Machine-readable reasons, e.g. `blocked_country:KP`. Empty when approved. */
  reasons: string[];
}

export interface RiskProvider {
  assess(payment: Pick<PaymentEvent, 'buyer' | 'currency' | 'total_minor'>): Promise<RiskAssessment>;
}

export interface RiskRules {
  /** Checkouts above this total (minor units, per currency) are rejected. */
  maxAmountMinor: Record<string, number>;
  /** Buyer countries (ISO 3166-1 alpha-2) that are refused. */
  blockedCountries: string[];
}

export class RulesRiskProvider implements RiskProvider {
  constructor(private readonly rules: RiskRules) {}

  async assess(payment: Pick<PaymentEvent, 'buyer' | 'currency' | 'total_minor'>): Promise<RiskAssessment> {
    const reasons: string[] = [];
    if (this.rules.blockedCountries.includes(payment.buyer.country)) {
      reasons.push(`blocked_country:${payment.buyer.country}`);
    }
    const limit = this.rules.maxAmountMinor[payment.currency];
    if (limit !== undefined && payment.total_minor > limit) reasons.push(`amount_over_limit:${payment.currency}`);
    return { decision: reasons.length > 0 ? 'REJECT' : 'APPROVE', reasons };
  }
}
