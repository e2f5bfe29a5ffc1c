/** What the API shows of our records: amounts as decimal strings, never minor units or internal keys. */

import { fromMinorUnits } from '../core/money';
import type { StoredLedgerEntry } from '../ledger/ledger-table';
import type { WalletBalance } from '../ledger/wallets';
import type { Payment } from '../payin/ports';

export function paymentView({ event, orders }: Payment) {
  return {
    payment_id: event.payment_id,
    checkout_id: event.checkout_id,
    status: event.status,
    status_reason: event.status_reason ?? null,
    currency: event.currency,
    amount: fromMinorUnits(event.total_minor, event.currency),
    buyer: event.buyer,
    psp_reference: event.psp_reference ?? null,
    mode: event.mode ?? 'token',
    /** What the client must do while the PSP waits for the buyer (3-D Secure, the hosted payment page). */
    next_action: event.status === 'PENDING' && event.next_action ? event.next_action : null,
    payment_orders: orders.map((order) => ({
      payment_order_id: order.payment_order_id,
      seller_account: order.seller_account,
      status: order.status,
      status_reason: order.status_reason ?? null,
      amount: fromMinorUnits(order.amount_minor, order.currency),
      fee: fromMinorUnits(order.fee_minor, order.currency),
      currency: order.currency,
      psp_reference: order.psp_reference ?? null,
      wallet_updated: order.wallet_updated,
      ledger_updated: order.ledger_updated,
    })),
    created_at: event.created_at,
    updated_at: event.updated_at,
  };
}

export function walletView(sellerAccount: string, balances: WalletBalance[]) {
  return {
    seller_account: sellerAccount,
    balances: balances.map((b) => ({
      currency: b.currency,
      amount: fromMinorUnits(b.balance_minor, b.currency),
      pending: fromMinorUnits(b.pending_minor, b.currency),
      available: fromMinorUnits(b.available_minor, b.currency),
      reserved: fromMinorUnits(b.held_minor, b.currency),
      disputed: fromMinorUnits(b.disputed_minor, b.currency),
      updated_at: b.updated_at,
    })),
  };
}

export function ledgerView(paymentId: string, entries: StoredLedgerEntry[]) {
  return {
    payment_id: paymentId,
    entries: entries.map((e) => ({
      transaction_id: e.transaction_id,
      account: e.account,
      direction: e.direction,
      amount: fromMinorUnits(e.amount_minor, e.currency),
      currency: e.currency,
      posted_at: e.posted_at,
    })),
  };
}
