/** Refunds and disputes over the real stripe SDK (the payments key). */
import type Stripe from 'stripe';
import type { PspDispute, PspRefund, RefundRequest, RefundsPsp } from './refund-types';
import { move } from './stripe-connect';
import { ask } from './stripe-psp';

export function refundState(refund: Stripe.Refund): PspRefund {
  return {
    refundId: refund.id,
    status: (refund.status ?? 'pending') as PspRefund['status'],
    amountMinor: refund.amount,
    currency: refund.currency.toUpperCase(),
    ...(refund.failure_reason ? { failureReason: refund.failure_reason } : {}),
    ...(refund.metadata?.refund_id ? { ourRefundId: refund.metadata.refund_id } : {}),
  };
}

const idOf = (value: string | { id: string } | null | undefined) => (typeof value === 'string' ? value : value?.id);

export class StripeRefunds implements RefundsPsp {
  constructor(private readonly stripe: () => Promise<Stripe>) {}

  async refund(request: RefundRequest) {
    const stripe = await this.stripe();
    const result = await move(() =>
      stripe.refunds.create(
        {
          payment_intent: request.paymentIntent,
          amount: request.amountMinor,
          reason: request.reason as Stripe.RefundCreateParams.Reason,
          metadata: request.metadata,
        },
        { idempotencyKey: request.idempotencyKey },
      ),
    );
    return result.outcome === 'CREATED' ? { outcome: 'CREATED' as const, value: refundState(result.value) } : result;
  }

  async retrieveRefund(refundId: string): Promise<PspRefund> {
    const stripe = await this.stripe();
    return refundState(await ask(() => stripe.refunds.retrieve(refundId)));
  }

  async findRefunds(paymentIntent: string, ourRefundId: string): Promise<PspRefund[]> {
    const stripe = await this.stripe();
    const found: PspRefund[] = [];
    await ask(async () => {
      for await (const refund of stripe.refunds.list({ payment_intent: paymentIntent, limit: 100 })) {
        if (refund.metadata?.refund_id === ourRefundId) found.push(refundState(refund));
      }
    });
    return found;
  }

  async retrieveDispute(disputeId: string): Promise<PspDispute> {
    const stripe = await this.stripe();
    const dispute = await ask(() => stripe.disputes.retrieve(disputeId));
    const intentId = idOf(dispute.payment_intent as string | { id: string } | null) ?? '';
    const intent = intentId ? await ask(() => stripe.paymentIntents.retrieve(intentId)) : undefined;
    // Withdrawals are negative balance transactions, reinstatements positive; each carries its part of the fee.
    let withdrawnAmount = 0;
    let withdrawnFee = 0;
    let reinstated = false;
    for (const txn of dispute.balance_transactions ?? []) {
      if (txn.amount < 0 || txn.net < 0) {
        withdrawnAmount += -txn.amount;
        withdrawnFee += txn.fee;
      } else if (txn.amount > 0 || txn.net > 0) {
        reinstated = true;
      }
    }
    return {
      disputeId: dispute.id,
      status: dispute.status as PspDispute['status'],
      amountMinor: dispute.amount,
      currency: dispute.currency.toUpperCase(),
      reason: dispute.reason,
      paymentIntent: intentId,
      ...(intent?.metadata?.payment_id ? { paymentId: intent.metadata.payment_id } : {}),
      ...(dispute.evidence_details?.due_by ? { evidenceDueBy: dispute.evidence_details.due_by } : {}),
      ...(withdrawnAmount > 0 || withdrawnFee > 0
        ? { withdrawn: { amountMinor: withdrawnAmount, feeMinor: withdrawnFee } }
        : {}),
      reinstated,
    };
  }
}
