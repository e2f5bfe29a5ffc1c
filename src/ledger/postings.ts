/**
 * Double-entry ledger rules and posting templates: every transaction is balanced per currency (debits equal credits) and entries are append-only.
 * Amounts are positive minor units with a direction; the signed view is debit positive, credit negative.
 */
import { sumMinor } from '../core/money';

export type Direction = 'DEBIT' | 'CREDIT';

export interface LedgerEntry {
  account: string;
  direction: Direction;
  amount_minor: number;
  currency: string;
}

export interface LedgerTransaction {
  /** Deterministic id derived from the business operation, so a retried append cannot book twice. */
  transaction_id: string;
  /** The business object this transaction belongs to, e.g. the payment id. */
  reference: string;
  description: string;
  entries: LedgerEntry[];
  /**
   * The UTC day (YYYY-MM-DD) the money moved, when it is not the day of booking: reconciliation books a PSP fee of
   * day D on a later day, dated D, so that day's ledger matches that day's settlement file.
   */
  value_date?: string;
  /**
   * What spreads the transaction over the by-day index's shards, when not its settlement key (else its id): a fee
   * booked from a settlement row goes with the row's key, into the shard that matches the row.
   */
  shard_key?: string;
}

export class UnbalancedTransactionError extends Error {
  override readonly name = 'UnbalancedTransactionError';
}

/** Ledger account names. Seller payables are per seller; their balance is the seller's wallet. */
export const accounts = {
  pspClearing: 'asset:psp_clearing',
  platformRevenue: 'revenue:platform_fees',
  /** Money the PSP withdrew for open disputes: recovered if won, the seller's loss if lost. */
  disputedFunds: 'asset:disputed_funds',
  /** The PSP's dispute fees, the platform's expense (a won dispute gives them back). */
  disputeFees: 'expense:dispute_fees',
  sellerPayable: (seller: string) => `liability:seller_payable:${seller}`,
  /** The PSP's own fees (processing, monthly), learnt from its settlement file and booked by reconciliation. */
  pspFees: 'expense:psp_fees',
};

/**
 * Whether an account has a statement (the ledger's by-account index): a seller's payable, which the seller's wallet
 * mirrors and reconciliation checks it against. Every other account is reconciled from the transactions themselves.
 */
export function hasStatement(account: string): boolean {
  return account.startsWith('liability:seller_payable:');
}

export function signedAmount(entry: Pick<LedgerEntry, 'direction' | 'amount_minor'>): number {
  return entry.direction === 'DEBIT' ? entry.amount_minor : -entry.amount_minor;
}

/** Per-currency sum of signed amounts; a balanced transaction has every sum at zero. */
export function balanceByCurrency(entries: readonly LedgerEntry[]): Map<string, number> {
  const byCurrency = new Map<string, number[]>();
  for (const entry of entries) {
    const list = byCurrency.get(entry.currency) ?? [];
    list.push(signedAmount(entry));
    byCurrency.set(entry.currency, list);
  }
  return new Map([...byCurrency].map(([currency, values]) => [currency, sumMinor(values)]));
}

export function assertBalanced(transaction: LedgerTransaction): void {
  if (transaction.entries.length < 2) {
    throw new UnbalancedTransactionError(`${transaction.transaction_id}: a transaction needs at least two entries`);
  }
  for (const entry of transaction.entries) {
    if (!Number.isSafeInteger(entry.amount_minor) || entry.amount_minor <= 0) {
      throw new UnbalancedTransactionError(`${transaction.transaction_id}: entry amounts must be positive integers`);
    }
  }
  for (const [currency, sum] of balanceByCurrency(transaction.entries)) {
    if (sum !== 0) {
      throw new UnbalancedTransactionError(
        `${transaction.transaction_id}: ${currency} does not balance (off by ${sum})`,
      );
    }
  }
}

/**
 * The booking of one successful payment order: the PSP clearing account is debited with what the buyer paid,
 * the seller's payable credited with the amount less the platform fee, platform revenue credited with the fee.
 */
export function payInTransaction(order: {
  payment_id: string;
  payment_order_id: string;
  seller_account: string;
  currency: string;
  amount_minor: number;
  fee_minor: number;
}): LedgerTransaction {
  const entries: LedgerEntry[] = [
    { account: accounts.pspClearing, direction: 'DEBIT', amount_minor: order.amount_minor, currency: order.currency },
  ];
  if (order.amount_minor > order.fee_minor) {
    entries.push({
      account: accounts.sellerPayable(order.seller_account),
      direction: 'CREDIT',
      amount_minor: order.amount_minor - order.fee_minor,
      currency: order.currency,
    });
  }
  if (order.fee_minor > 0) {
    entries.push({
      account: accounts.platformRevenue,
      direction: 'CREDIT',
      amount_minor: order.fee_minor,
      currency: order.currency,
    });
  }
  const transaction: LedgerTransaction = {
    transaction_id: payInTransactionId(order.payment_order_id),
    reference: order.payment_id,
    description: `pay-in of payment order ${order.payment_order_id}`,
    entries,
  };
  assertBalanced(transaction);
  return transaction;
}

export function payInTransactionId(paymentOrderId: string): string {
  return `payin:${paymentOrderId}`;
}

/** A movement of one seller wallet, in minor units (never negative; its direction is the wallet operation). */
export interface WalletPosting {
  seller_account: string;
  currency: string;
  amount_minor: number;
}

/**
 * A posting: the balanced ledger transaction of a business operation and the wallet movement it implies. The
 * wallet's amount is read from the transaction's seller payable entry, so the two can never disagree: the amount
 * a posting moves is computed here, once.
 */
export interface Posting {
  transaction: LedgerTransaction;
  /** The seller wallet movement (credit for pay-in), equal to the seller payable entry. */
  wallet: WalletPosting;
}

/** The pay-in posting of one successful payment order. */
export function payInPosting(order: Parameters<typeof payInTransaction>[0]): Posting {
  const transaction = payInTransaction(order);
  const payable = accounts.sellerPayable(order.seller_account);
  const sellerEntry = transaction.entries.find((entry) => entry.account === payable);
  return {
    transaction,
    wallet: {
      seller_account: order.seller_account,
      currency: order.currency,
      amount_minor: sellerEntry?.amount_minor ?? 0,
    },
  };
}

/** What a payout posting needs to know of the payout. */
export interface PayoutMove {
  payout_id: string;
  seller_account: string;
  currency: string;
  amount_minor: number;
}

/**
 * The transfer of a payout to the seller's connected account: the seller's payable is debited (the platform owes
 * the seller that much less) and the platform's PSP balance credited (the money left it).
 */
export function payoutTransferPosting(payout: PayoutMove): Posting {
  return payoutPosting(
    payout,
    `payout:${payout.payout_id}:transfer`,
    `transfer of payout ${payout.payout_id}`,
    'DEBIT',
  );
}

/**
 * A transfer reversed after its payout failed (or was canceled): the exact reverse of the transfer posting, the
 * money back in the platform's PSP balance and owed to the seller again.
 */
export function transferReversalPosting(payout: PayoutMove): Posting {
  return payoutPosting(
    payout,
    `payout:${payout.payout_id}:transfer-reversal`,
    `transfer of payout ${payout.payout_id} reversed`,
    'CREDIT',
  );
}

function payoutPosting(payout: PayoutMove, id: string, description: string, payable: Direction): Posting {
  const amount = payout.amount_minor;
  const transaction: LedgerTransaction = {
    transaction_id: id,
    reference: payout.payout_id,
    description,
    entries: [
      {
        account: accounts.sellerPayable(payout.seller_account),
        direction: payable,
        amount_minor: amount,
        currency: payout.currency,
      },
      {
        account: accounts.pspClearing,
        direction: payable === 'DEBIT' ? 'CREDIT' : 'DEBIT',
        amount_minor: amount,
        currency: payout.currency,
      },
    ],
  };
  assertBalanced(transaction);
  return {
    transaction,
    wallet: { seller_account: payout.seller_account, currency: payout.currency, amount_minor: amount },
  };
}

/** What a refund posting needs: the amount back to the buyer, and the platform fee's share of it. */
export interface RefundMove {
  refund_id: string;
  payment_id: string;
  seller_account: string;
  currency: string;
  amount_minor: number;
  /** The part of the platform fee returned with this refund (see refundFeeShare). */
  fee_share_minor: number;
}

/**
 * The platform fee's share of a refund: the fee is returned in proportion to the amount refunded, rounded down on the
 * running total of live refunds, less the fee those refunds already returned (`feeRefundedBefore`), so that refunds of
 * the whole order return exactly the whole fee, failed refunds included.
 */
export function refundFeeShare(
  order: { amount_minor: number; fee_minor: number },
  refundedBefore: number,
  feeRefundedBefore: number,
  amount: number,
) {
  if (order.amount_minor <= 0) return 0;
  const upTo = Math.floor(((refundedBefore + amount) * order.fee_minor) / order.amount_minor);
  return Math.max(0, Math.min(order.fee_minor - feeRefundedBefore, upTo - feeRefundedBefore));
}

/**
 * A refund: the buyer gets `amount` back from the platform's PSP balance (clearing credited); the seller's payable
 * is debited with its share (amount less the fee share), platform revenue with the fee share. The PSP's own
 * processing fee, which it keeps on a refund, is booked by reconciliation from the settlement report.
 */
export function refundPosting(refund: RefundMove): Posting {
  const seller = refund.amount_minor - refund.fee_share_minor;
  const entries: LedgerEntry[] = [
    {
      account: accounts.pspClearing,
      direction: 'CREDIT',
      amount_minor: refund.amount_minor,
      currency: refund.currency,
    },
  ];
  if (seller > 0) {
    entries.push({
      account: accounts.sellerPayable(refund.seller_account),
      direction: 'DEBIT',
      amount_minor: seller,
      currency: refund.currency,
    });
  }
  if (refund.fee_share_minor > 0) {
    entries.push({
      account: accounts.platformRevenue,
      direction: 'DEBIT',
      amount_minor: refund.fee_share_minor,
      currency: refund.currency,
    });
  }
  const transaction: LedgerTransaction = {
    transaction_id: `refund:${refund.refund_id}`,
    reference: refund.payment_id,
    description: `refund ${refund.refund_id}`,
    entries,
  };
  assertBalanced(transaction);
  return {
    transaction,
    wallet: { seller_account: refund.seller_account, currency: refund.currency, amount_minor: seller },
  };
}

/** A refund that failed after it was booked: the exact reverse of its posting. */
export function refundReversalPosting(refund: RefundMove): Posting {
  const posting = refundPosting(refund);
  const transaction: LedgerTransaction = {
    transaction_id: `refund:${refund.refund_id}:reversal`,
    reference: refund.payment_id,
    description: `refund ${refund.refund_id} failed: reversed`,
    entries: posting.transaction.entries.map((e) => ({
      ...e,
      direction: e.direction === 'DEBIT' ? 'CREDIT' : 'DEBIT',
    })),
  };
  assertBalanced(transaction);
  return { transaction, wallet: posting.wallet };
}

/** One order's part of a dispute: the seller who bears it and how much. */
export interface DisputeShare {
  seller_account: string;
  amount_minor: number;
}

/**
 * The PSP withdrew a dispute's amount and its fee from the platform's balance: the amount waits in
 * `asset:disputed_funds` (the seller's money is set aside in its wallet, not yet gone), the fee is the platform's
 * expense.
 */
export function disputeWithdrawalTransaction(d: {
  dispute_id: string;
  payment_id: string;
  currency: string;
  amount_minor: number;
  fee_minor: number;
}): LedgerTransaction {
  const entries: LedgerEntry[] = [
    { account: accounts.disputedFunds, direction: 'DEBIT', amount_minor: d.amount_minor, currency: d.currency },
    { account: accounts.pspClearing, direction: 'CREDIT', amount_minor: d.amount_minor, currency: d.currency },
  ];
  if (d.fee_minor > 0) {
    entries.push(
      { account: accounts.disputeFees, direction: 'DEBIT', amount_minor: d.fee_minor, currency: d.currency },
      { account: accounts.pspClearing, direction: 'CREDIT', amount_minor: d.fee_minor, currency: d.currency },
    );
  }
  const transaction: LedgerTransaction = {
    transaction_id: `dispute:${d.dispute_id}:withdrawal`,
    reference: d.payment_id,
    description: `dispute ${d.dispute_id}: amount and fee withdrawn by the PSP`,
    entries,
  };
  assertBalanced(transaction);
  return transaction;
}

/** A dispute won: the PSP gives the amount and the fee back; the exact reverse of the withdrawal. */
export function disputeReinstatementTransaction(
  d: Parameters<typeof disputeWithdrawalTransaction>[0],
): LedgerTransaction {
  const withdrawal = disputeWithdrawalTransaction(d);
  const transaction: LedgerTransaction = {
    transaction_id: `dispute:${d.dispute_id}:reinstatement`,
    reference: d.payment_id,
    description: `dispute ${d.dispute_id} won: amount and fee reinstated`,
    entries: withdrawal.entries.map((e) => ({ ...e, direction: e.direction === 'DEBIT' ? 'CREDIT' : 'DEBIT' })),
  };
  assertBalanced(transaction);
  return transaction;
}

/** A dispute lost: the withdrawal is final and the sellers bear it (their payables debited, the suspense cleared). */
export function disputeLossTransaction(d: {
  dispute_id: string;
  payment_id: string;
  currency: string;
  shares: DisputeShare[];
}): LedgerTransaction {
  const entries: LedgerEntry[] = [];
  for (const share of d.shares.filter((s) => s.amount_minor > 0)) {
    entries.push(
      {
        account: accounts.sellerPayable(share.seller_account),
        direction: 'DEBIT',
        amount_minor: share.amount_minor,
        currency: d.currency,
      },
      { account: accounts.disputedFunds, direction: 'CREDIT', amount_minor: share.amount_minor, currency: d.currency },
    );
  }
  const transaction: LedgerTransaction = {
    transaction_id: `dispute:${d.dispute_id}:loss`,
    reference: d.payment_id,
    description: `dispute ${d.dispute_id} lost: borne by the sellers`,
    entries,
  };
  assertBalanced(transaction);
  return transaction;
}

/** Splits an amount over parts in proportion to their weights (largest remainder: the shares add up exactly). */
export function allocate(amount: number, weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return weights.map(() => 0);
  const exact = weights.map((w) => (amount * w) / total);
  const shares = exact.map(Math.floor);
  let left = amount - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    shares[i] = (shares[i] ?? 0) + 1;
    left -= 1;
  }
  return shares;
}

/**
 * A fee the PSP took, learnt from its settlement file (a charge's processing fee, a monthly fee row): the platform's
 * expense, the PSP clearing account credited. Keyed by the PSP's balance transaction: booked once however often the
 * file is reconciled. A negative fee (the PSP gave a fee back) books the exact reverse.
 */
export function pspFeeTransaction(fee: {
  balance_transaction_id: string;
  currency: string;
  /** The fee in minor units as the PSP reports it: positive taken, negative given back; never zero. */
  fee_minor: number;
  /** The UTC day of the PSP's balance transaction. */
  value_date: string;
  description: string;
  /** The settlement shard key of the row (see LedgerTransaction.shard_key). */
  shard_key?: string;
}): LedgerTransaction {
  if (!Number.isSafeInteger(fee.fee_minor) || fee.fee_minor === 0) {
    throw new UnbalancedTransactionError(`psp-fee:${fee.balance_transaction_id}: the fee must be a non-zero integer`);
  }
  const amount = Math.abs(fee.fee_minor);
  const taken = fee.fee_minor > 0;
  const transaction: LedgerTransaction = {
    transaction_id: pspFeeTransactionId(fee.balance_transaction_id),
    reference: `settlement:${fee.balance_transaction_id}`,
    description: fee.description,
    value_date: fee.value_date,
    ...(fee.shard_key !== undefined && { shard_key: fee.shard_key }),
    entries: [
      {
        account: accounts.pspFees,
        direction: taken ? 'DEBIT' : 'CREDIT',
        amount_minor: amount,
        currency: fee.currency,
      },
      {
        account: accounts.pspClearing,
        direction: taken ? 'CREDIT' : 'DEBIT',
        amount_minor: amount,
        currency: fee.currency,
      },
    ],
  };
  assertBalanced(transaction);
  return transaction;
}

export function pspFeeTransactionId(balanceTransactionId: string): string {
  return `psp-fee:${balanceTransactionId}`;
}

/**
 * The key by which a ledger transaction meets the PSP's settlement file: one key per money movement at the PSP
 * (a charge, a refund, its failure, a transfer, its reversal, a dispute's withdrawal and reinstatement). A pay-in
 * is booked per order but charged per payment: its orders share the payment's key. Transactions that move no
 * money at the PSP (a dispute lost, a fee booked from the file) have none.
 */
export function settlementKeyOf(transactionId: string, reference: string): string | undefined {
  // A pay-in's id carries the order id, which may itself hold ':'; its key needs only the payment (the reference).
  if (transactionId.startsWith('payin:') && transactionId.length > 6) return `charge:${reference}`;
  const [kind, id, stage, ...rest] = transactionId.split(':');
  if (rest.length > 0 || !id) return undefined;
  if (kind === 'refund' && stage === undefined) return `refund:${id}`;
  if (kind === 'refund' && stage === 'reversal') return `refund_failure:${id}`;
  if (kind === 'payout' && stage === 'transfer') return `transfer:${id}`;
  if (kind === 'payout' && stage === 'transfer-reversal') return `transfer_reversal:${id}`;
  if (kind === 'dispute' && stage === 'withdrawal') return `dispute:${id}`;
  if (kind === 'dispute' && stage === 'reinstatement') return `dispute_reversal:${id}`;
  return undefined;
}

/**
 * How a transaction moves the PSP clearing account (the platform's balance at the PSP, as we know it), per
 * currency: debits in, credits out. The settlement file's rows move the PSP balance by the same amounts.
 */
export function clearingMovement(transaction: Pick<LedgerTransaction, 'entries'>): Map<string, number> {
  return balanceByCurrency(transaction.entries.filter((entry) => entry.account === accounts.pspClearing));
}

/** The number of shards of a day's ledger transactions and of a settlement file (see reconciliation). */
export const SETTLEMENT_SHARDS = 16;

/** The shard of a settlement key (or any string): FNV-1a, stable across processes and languages. */
export function settlementShardOf(key: string, shards = SETTLEMENT_SHARDS): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
