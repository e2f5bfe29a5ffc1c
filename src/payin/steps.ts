/**
 * The pay-in workflow's steps, one function per Task state of state-machines/pay-in.asl.json.
 * Each step is idempotent: run twice (a retry, a re-drive) it changes nothing the second time.
 */
import { InconsistentStateError, NotFoundError } from '../adapters/errors';
import type { LedgerTable } from '../adapters/ledger-table';
import type { Payment, PaymentsTable } from '../adapters/payments-table';
import type { WalletsTable } from '../adapters/wallets-table';
import { payInTransaction } from '../domain/ledger';
import type { RiskDecision, RiskProvider } from '../domain/risk';
import type { Psp } from './psp';

export interface StepDeps {
  payments: PaymentsTable;
  wallets: WalletsTable;
  ledger: LedgerTable;
  psp: Psp;
  risk: RiskProvider;
}

async function load(deps: Pick<StepDeps, 'payments'>, paymentId: string): Promise<Payment> {
  const payment = await deps.payments.get(paymentId);
  if (!payment) throw new NotFoundError(`payment ${paymentId} not found`);
  return payment;
}

/** The PSP idempotency key of an operation on a payment: our ids only, the same on every retry. */
export function pspIdempotencyKey(paymentId: string, operation: 'charge'): string {
  return `${paymentId}:${operation}`;
}

export async function riskCheck(
  deps: Pick<StepDeps, 'payments' | 'risk'>,
  paymentId: string,
): Promise<{ decision: RiskDecision; reasons: string[] }> {
  const payment = await load(deps, paymentId);
  const { status } = payment.event;
  if (status === 'FAILED') return { decision: 'REJECT', reasons: [payment.event.status_reason ?? 'failed'] };
  if (status !== 'NOT_STARTED') return { decision: 'APPROVE', reasons: [] }; // already past the risk check
  const assessment = await deps.risk.assess(payment.event);
  if (assessment.decision === 'REJECT') {
    await deps.payments.transitionAll(payment, 'FAILED', { reason: `risk_rejected:${assessment.reasons.join(',')}` });
  }
  return assessment;
}

export type ChargeOutcome = { outcome: 'SUCCEEDED' | 'DECLINED'; psp_reference?: string; reason?: string };

export async function charge(deps: Pick<StepDeps, 'payments' | 'psp'>, paymentId: string): Promise<ChargeOutcome> {
  let payment = await load(deps, paymentId);
  const { event } = payment;
  if (event.status === 'FAILED') return { outcome: 'DECLINED', reason: event.status_reason };
  if (event.status === 'SUCCESS') return { outcome: 'SUCCEEDED', psp_reference: event.psp_reference };
  if (event.status === 'NOT_STARTED') {
    await deps.payments.transitionAll(payment, 'EXECUTING');
    payment = await load(deps, paymentId);
  }
  if (payment.event.status !== 'EXECUTING') {
    throw new InconsistentStateError(`payment ${paymentId} is ${payment.event.status}, cannot charge`);
  }
  const result = await deps.psp.charge({
    amountMinor: event.total_minor,
    currency: event.currency,
    paymentMethod: event.payment_method,
    metadata: { payment_id: paymentId, checkout_id: event.checkout_id },
    idempotencyKey: pspIdempotencyKey(paymentId, 'charge'),
    description: `checkout ${event.checkout_id}`,
  });
  switch (result.outcome) {
    case 'SUCCEEDED':
      await deps.payments.recordPspReference(payment, result.pspReference);
      return { outcome: 'SUCCEEDED', psp_reference: result.pspReference };
    case 'DECLINED':
      await deps.payments.transitionAll(payment, 'FAILED', {
        reason: `declined:${result.reason}`,
        pspReference: result.pspReference,
      });
      return { outcome: 'DECLINED', psp_reference: result.pspReference, reason: result.reason };
    case 'PENDING':
      // Pending payments (3-D Secure, review) are resumed by webhooks; not part of the charge-by-token flow yet.
      throw new InconsistentStateError(`payment ${paymentId} is pending at the PSP (${result.status})`);
  }
}

function findOrder(payment: Payment, orderId: string) {
  const order = payment.orders.find((o) => o.payment_order_id === orderId);
  if (!order) throw new NotFoundError(`payment order ${orderId} not found in payment ${payment.event.payment_id}`);
  return order;
}

function assertCharged(payment: Payment, orderId: string) {
  const order = findOrder(payment, orderId);
  if (!order.psp_reference || (order.status !== 'EXECUTING' && order.status !== 'SUCCESS')) {
    throw new InconsistentStateError(`payment order ${orderId} is ${order.status} without a charge; nothing to book`);
  }
  return order;
}

export async function creditWallet(
  deps: Pick<StepDeps, 'payments' | 'wallets'>,
  paymentId: string,
  orderId: string,
): Promise<{ credited: boolean }> {
  const order = assertCharged(await load(deps, paymentId), orderId);
  if (order.wallet_updated) return { credited: false };
  return { credited: await deps.wallets.creditOnce(order, deps.payments.markBooked(order, 'wallet_updated')) };
}

export async function appendLedger(
  deps: Pick<StepDeps, 'payments' | 'ledger'>,
  paymentId: string,
  orderId: string,
): Promise<{ appended: boolean }> {
  const order = assertCharged(await load(deps, paymentId), orderId);
  if (order.ledger_updated) return { appended: false };
  const appended = await deps.ledger.appendOnce(payInTransaction(order), [
    deps.payments.markBooked(order, 'ledger_updated'),
  ]);
  return { appended };
}

export async function finalize(deps: Pick<StepDeps, 'payments'>, paymentId: string): Promise<{ status: string }> {
  const payment = await load(deps, paymentId);
  if (payment.event.status === 'SUCCESS') return { status: 'SUCCESS' };
  const unbooked = payment.orders.filter((o) => !o.wallet_updated || !o.ledger_updated);
  if (unbooked.length > 0) {
    throw new InconsistentStateError(
      `payment ${paymentId}: orders not yet booked: ${unbooked.map((o) => o.payment_order_id).join(', ')}`,
    );
  }
  if (!(await deps.payments.transitionAll(payment, 'SUCCESS'))) {
    throw new InconsistentStateError(`payment ${paymentId} moved while being finalized`);
  }
  return { status: 'SUCCESS' };
}
