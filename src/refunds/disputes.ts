/**
 * Disputes, applied from the PSP's own state (the dispute is re-read on every event: events come late, twice and
 * in any order). Each consequence happens once, guarded by its flag: the sellers' shares set aside in their wallets
 * (available may go below zero: the seller may have been paid out), the withdrawal and the dispute fee booked, then
 * either the reinstatement (won: shares given back, amount and fee booked back) or the loss (shares taken from the
 * wallets, the sellers' payables debited).
 */
import { InconsistentStateError } from '../core/errors';
import { fromMinorUnits } from '../core/money';
import { logger } from '../core/observability';
import { recordTimeline } from '../core/timeline';
import {
  allocate,
  disputeLossTransaction,
  disputeReinstatementTransaction,
  disputeWithdrawalTransaction,
} from '../ledger/postings';
import type { PspDispute } from '../psp/refund-types';
import type { DisputeStatus } from './dispute';
import type { RefundDeps } from './ports';

export type DisputeDeps = Pick<RefundDeps, 'refunds' | 'wallets' | 'ledger' | 'psp' | 'orders'> & { now?: () => Date };

const ourStatus = (psp: PspDispute): DisputeStatus =>
  psp.status === 'won' || psp.status === 'warning_closed' ? 'WON' : psp.status === 'lost' ? 'LOST' : 'OPEN';

/** Applies the PSP's current state of a dispute; returns what it did, or why not. */
export async function applyDispute(deps: DisputeDeps, disputeId: string): Promise<string> {
  const psp = await deps.psp.retrieveDispute(disputeId);
  if (!psp.paymentId) return 'not a payment of ours';
  let dispute = await deps.refunds.getDispute(disputeId);
  if (!dispute) {
    const orders = await deps.orders(psp.paymentId);
    if (!orders || orders.length === 0) return 'not a payment of ours';
    // Each order weighs what remains of it after its refunds (in flight included): a refunded sale bears no part.
    const weights = await Promise.all(
      orders.map(async (o) =>
        Math.max(0, o.amount_minor - ((await deps.refunds.refundable(o.payment_order_id))?.refunded_minor ?? 0)),
      ),
    );
    const amounts = allocate(psp.amountMinor, weights.some((w) => w > 0) ? weights : orders.map((o) => o.amount_minor));
    const now = (deps.now?.() ?? new Date()).toISOString();
    await deps.refunds.createDispute({
      dispute_id: psp.disputeId,
      payment_id: psp.paymentId,
      psp_reference: psp.paymentIntent,
      currency: psp.currency,
      amount_minor: psp.amountMinor,
      fee_minor: psp.withdrawn?.feeMinor ?? 0,
      reason: psp.reason,
      dispute_status: 'OPEN',
      psp_status: psp.status,
      ...(psp.evidenceDueBy ? { evidence_due_by: new Date(psp.evidenceDueBy * 1000).toISOString() } : {}),
      shares: orders.map((o, i) => ({
        payment_order_id: o.payment_order_id,
        seller_account: o.seller_account,
        amount_minor: amounts[i] ?? 0,
      })),
      held: false,
      withdrawal_booked: false,
      reinstated: false,
      lost_booked: false,
      created_at: now,
      updated_at: now,
    });
    dispute = await deps.refunds.getDispute(disputeId);
    if (!dispute) throw new InconsistentStateError(`dispute ${disputeId} was not stored`);
  }
  const flags = dispute as unknown as Record<string, unknown>;
  const posting = (i: number) => ({
    seller_account: dispute.shares[i]?.seller_account ?? '',
    currency: dispute.currency,
    amount_minor: dispute.shares[i]?.amount_minor ?? 0,
  });
  // The sellers' shares set aside while the dispute is open (and before it is decided either way).
  for (let i = 0; i < dispute.shares.length; i++) {
    if (flags[`held_${i}`] !== true && posting(i).amount_minor > 0) {
      await deps.wallets.holdForDisputeFrom(posting(i), dispute.shares[i]?.payment_order_id ?? '', (from) =>
        deps.refunds.disputeFlagGuard(disputeId, `held_${i}`, { [`held_from_${i}`]: from }),
      );
    }
  }
  const money = {
    dispute_id: disputeId,
    payment_id: dispute.payment_id,
    currency: dispute.currency,
    amount_minor: 0,
    fee_minor: 0,
  };
  if (psp.withdrawn && !dispute.withdrawal_booked) {
    await deps.ledger.appendOnce(
      disputeWithdrawalTransaction({
        ...money,
        amount_minor: psp.withdrawn.amountMinor,
        fee_minor: psp.withdrawn.feeMinor,
      }),
      [deps.refunds.disputeFlagGuard(disputeId, 'withdrawal_booked')],
    );
    await deps.refunds.setDisputeFields(disputeId, { fee_minor: psp.withdrawn.feeMinor });
  }
  const status = ourStatus(psp);
  const withdrawn = psp.withdrawn ?? { amountMinor: dispute.amount_minor, feeMinor: dispute.fee_minor };
  if (status === 'WON') {
    if ((psp.reinstated || psp.withdrawn) && !dispute.reinstated && (dispute.withdrawal_booked || psp.withdrawn)) {
      await deps.ledger.appendOnce(
        disputeReinstatementTransaction({
          ...money,
          amount_minor: withdrawn.amountMinor,
          fee_minor: withdrawn.feeMinor,
        }),
        [deps.refunds.disputeFlagGuard(disputeId, 'reinstated')],
      );
    }
    for (let i = 0; i < dispute.shares.length; i++) {
      if (flags[`released_${i}`] !== true && posting(i).amount_minor > 0) {
        // Read again: the hold above may have just recorded where it took the share from.
        const from = ((await deps.refunds.getDispute(disputeId)) as unknown as Record<string, unknown>)?.[
          `held_from_${i}`
        ];
        await deps.wallets.releaseDisputeTo(
          posting(i),
          dispute.shares[i]?.payment_order_id ?? '',
          deps.refunds.disputeFlagGuard(disputeId, `released_${i}`),
          from === 'pending' ? 'pending' : 'available',
        );
      }
    }
  } else if (status === 'LOST') {
    const shares = dispute.shares.filter((s) => s.amount_minor > 0);
    if (!dispute.lost_booked && shares.length > 0) {
      await deps.ledger.appendOnce(disputeLossTransaction({ ...money, shares }), [
        deps.refunds.disputeFlagGuard(disputeId, 'lost_booked'),
      ]);
    }
    for (let i = 0; i < dispute.shares.length; i++) {
      if (flags[`captured_${i}`] !== true && posting(i).amount_minor > 0) {
        await deps.wallets.captureDispute(posting(i), deps.refunds.disputeFlagGuard(disputeId, `captured_${i}`));
      }
    }
  }
  await deps.refunds.setDisputeFields(disputeId, {
    psp_status: psp.status,
    dispute_status: status,
    ...(status !== 'OPEN' ? { settled: true } : {}),
  });
  // Once per PSP status of the dispute (the `once` key): applied again, it records nothing new.
  await recordTimeline({
    payment_id: dispute.payment_id,
    source: 'dispute',
    type: `dispute.${status.toLowerCase()}`,
    summary: `dispute ${disputeId} (${dispute.reason ?? 'no reason given'}): ${status} at the PSP (${psp.status}), ${fromMinorUnits(dispute.amount_minor, dispute.currency)} ${dispute.currency}`,
    ids: { dispute_id: disputeId, psp_reference: dispute.psp_reference },
    once: `dispute:${disputeId}:${psp.status}`,
  });
  logger.info('dispute applied', {
    dispute_id: disputeId,
    payment_id: dispute.payment_id,
    status,
    psp_status: psp.status,
  });
  return `dispute ${status} (${psp.status})`;
}

/** Open disputes the janitor re-reads per run, and decided ones it finishes (a failed event left them half done). */
export const DISPUTES_PER_RUN = 50;

/**
 * The janitor's pass over disputes: each open one, and each decided one not yet settled, applied again from the PSP's
 * state (a webhook lost, or one that failed midway and was dead-lettered).
 */
export async function settleDisputes(deps: DisputeDeps): Promise<{ checked: number; failed: string[] }> {
  const pending = await deps.refunds.unsettledDisputes(DISPUTES_PER_RUN);
  const failed: string[] = [];
  for (const dispute of pending) {
    try {
      await applyDispute(deps, dispute.dispute_id);
    } catch (error) {
      failed.push(dispute.dispute_id);
      logger.warn('dispute could not be applied; tried again on the next run', {
        dispute_id: dispute.dispute_id,
        error,
      });
    }
  }
  return { checked: pending.length, failed };
}
