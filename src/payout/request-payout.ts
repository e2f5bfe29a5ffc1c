/**
 * Making a payout: the seller's available money reserved (available -> held, conditional on enough available) in
 * one transaction with the new payout record, then the pay-out workflow started under an execution named after
 * the payout. Safe to repeat: a payout id that exists is found again and its workflow only made sure of.
 */
import { InsufficientFundsError } from '../ledger/wallets';
import { AmountAboveAvailableError, PayoutIdTakenError, PayoutsDisabledError, SellerNotFoundError } from './errors';
import type { Payout } from './payout';
import type { PayoutDeps } from './ports';
import { payoutBlocker } from './seller';

export interface PayoutOrder {
  payout_id: string;
  seller_account: string;
  currency: string;
  /** Minor units; undefined: everything available. */
  amount_minor?: number;
  trigger: Payout['trigger'];
  run_id?: string;
  created_by_key_id?: string;
}

export type RequestDeps = Pick<PayoutDeps, 'sellers' | 'payouts' | 'wallets' | 'workflow'> & { now?: () => Date };

/** The available balance of a seller in a currency (minor units). */
export async function availableMinor(deps: Pick<PayoutDeps, 'wallets'>, seller: string, currency: string) {
  const balance = (await deps.wallets.balances(seller)).find((b) => b.currency === currency);
  return balance?.available_minor ?? 0;
}

/** Returns the payout and whether this call made it (false: it existed). */
export async function requestPayout(
  deps: RequestDeps,
  order: PayoutOrder,
): Promise<{ payout: Payout; created: boolean }> {
  const existing = await deps.payouts.get(order.payout_id);
  if (existing) {
    // A retry after a crash between the hold and the start: make sure the workflow runs (a no-op when it does).
    if (existing.status === 'RESERVED') await deps.workflow.start(existing.payout_id);
    return { payout: sameOrder(existing, order), created: false };
  }
  const seller = await deps.sellers.get(order.seller_account);
  if (!seller) throw new SellerNotFoundError(`seller ${order.seller_account} does not exist`);
  const blocker = payoutBlocker(seller);
  if (blocker) throw new PayoutsDisabledError(seller.seller_account, blocker);
  const available = await availableMinor(deps, order.seller_account, order.currency);
  const amount = order.amount_minor ?? available;
  if (amount <= 0 || amount > available) throw new AmountAboveAvailableError(amount, available, order.currency);
  const now = (deps.now?.() ?? new Date()).toISOString();
  const payout: Payout = {
    payout_id: order.payout_id,
    seller_account: order.seller_account,
    currency: order.currency,
    amount_minor: amount,
    status: 'RESERVED',
    trigger: order.trigger,
    ...(order.run_id ? { run_id: order.run_id } : {}),
    psp_account_id: seller.psp_account_id as string,
    wallet_captured: false,
    transfer_booked: false,
    reversal_booked: false,
    wallet_restored: false,
    reversal_done: false,
    ...(order.created_by_key_id ? { created_by_key_id: order.created_by_key_id } : {}),
    created_at: now,
    updated_at: now,
  };
  let created: boolean;
  try {
    created = await deps.wallets.hold(
      { seller_account: payout.seller_account, currency: payout.currency, amount_minor: amount },
      deps.payouts.createGuard(payout),
    );
  } catch (error) {
    if (!(error instanceof InsufficientFundsError)) throw error;
    // Another payout took the money between our read and the hold.
    throw new AmountAboveAvailableError(
      amount,
      await availableMinor(deps, order.seller_account, order.currency),
      order.currency,
    );
  }
  if (!created) {
    const found = await deps.payouts.get(order.payout_id);
    if (!found) throw new PayoutIdTakenError(`payout ${order.payout_id} could not be created`);
    await deps.workflow.start(found.payout_id);
    return { payout: sameOrder(found, order), created: false };
  }
  await deps.workflow.start(payout.payout_id);
  return { payout, created: true };
}

/** A payout id derived from a key already used for another seller or currency: the key was reused. */
function sameOrder(payout: Payout, order: PayoutOrder): Payout {
  if (
    payout.seller_account !== order.seller_account ||
    payout.currency !== order.currency ||
    (order.amount_minor !== undefined && payout.amount_minor !== order.amount_minor)
  ) {
    throw new PayoutIdTakenError('this Idempotency-Key was already used for another payout');
  }
  return payout;
}
