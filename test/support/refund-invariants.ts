/**
 * Refunds' and disputes' invariants, against the ground truth: our tables (DynamoDB Local) and the PSP simulator's
 * own refunds and disputes. For the given payments, once every refund workflow has ended:
 * - every PSP refund made for one of our refunds (by our id in its metadata) is one refund of ours, same amount;
 *   at most one per refund; ours SUCCEEDED exactly when the PSP's succeeded;
 * - each refund booked once when its wallet was debited; a FAILED or CANCELED one reversed exactly once, its wallet
 *   restored and its refundable amount released; an order's refunds never exceed it, and its refundable item says
 *   what its live refunds add up to;
 * - each dispute: the withdrawal booked iff the PSP withdrew, the reinstatement iff won, the loss iff lost, and the
 *   sellers' wallets hold (disputed) exactly the shares of open disputes;
 * plus checkInvariants (the pay-in's, with wallets equal to their ledger accounts and every transaction balanced).
 */
import { tableSchemas } from '../../src/core/table-schemas';
import { checkInvariants, documentClient, queryAll, scanAll } from './invariants';
import type { StackInfo } from './local-stack-process';

type Item = Record<string, unknown>;

async function admin<T>(pspUrl: string, path: string): Promise<T[]> {
  const body = (await (await fetch(`${pspUrl}${path}`)).json()) as T[] | { data: T[] };
  return Array.isArray(body) ? body : body.data;
}

interface PspRefundTruth {
  id: string;
  amount: number;
  status: string;
  metadata?: Record<string, string>;
}
interface PspDisputeTruth {
  id: string;
  status: string;
}

export async function checkRefundInvariants(stack: Pick<StackInfo, 'urls'>, paymentIds: string[]): Promise<string[]> {
  const violations = await checkInvariants(stack, paymentIds);
  const client = documentClient(stack.urls.dynamodb);
  const pspRefunds = await admin<PspRefundTruth>(stack.urls.psp, '/__admin/refunds');
  const pspDisputes = await admin<PspDisputeTruth>(stack.urls.psp, '/__admin/disputes');
  const all = await scanAll(client, tableSchemas.refunds.id);
  const ledger = await scanAll(client, tableSchemas.ledger.id);
  const txnCount = (id: string) => ledger.filter((e) => e.entity === 'TRANSACTION' && e.transaction_id === id).length;
  const heldBySeller = new Map<string, number>();
  for (const paymentId of paymentIds) {
    const refunds = all.filter((i) => i.entity === 'REFUND' && i.payment_id === paymentId);
    const byOrder = new Map<string, number>();
    for (const r of refunds) {
      const id = String(r.refund_id);
      const atPsp = pspRefunds.filter((p) => p.metadata?.refund_id === id);
      if (atPsp.length > 1) violations.push(`${id}: ${atPsp.length} PSP refunds`);
      const [psp] = atPsp;
      if (psp && psp.amount !== Number(r.amount_minor))
        violations.push(`${id}: PSP refunded ${psp.amount}, ours ${r.amount_minor}`);
      if ((r.status === 'SUCCEEDED') !== (psp?.status === 'succeeded')) {
        violations.push(`${id}: ours ${r.status}, the PSP's ${psp?.status ?? 'none'}`);
      }
      if (!['SUCCEEDED', 'FAILED', 'CANCELED'].includes(String(r.status))) violations.push(`${id}: still ${r.status}`);
      if (r.wallet_debited === true && txnCount(`refund:${id}`) !== 1)
        violations.push(`${id}: booked ${txnCount(`refund:${id}`)} times`);
      if (r.status === 'FAILED' || r.status === 'CANCELED') {
        if (r.reversal_done !== true) violations.push(`${id}: ${r.status}, reversal not done`);
        if (r.refund_booked === true && txnCount(`refund:${id}:reversal`) !== 1)
          violations.push(`${id}: reversal booked ${txnCount(`refund:${id}:reversal`)} times`);
        if (r.wallet_debited === true && r.wallet_restored !== true) violations.push(`${id}: wallet not restored`);
      } else {
        byOrder.set(
          String(r.payment_order_id),
          (byOrder.get(String(r.payment_order_id)) ?? 0) + Number(r.amount_minor),
        );
        if (txnCount(`refund:${id}:reversal`) !== 0) violations.push(`${id}: ${r.status} with a reversal booked`);
      }
    }
    for (const [orderId, refunded] of byOrder) {
      const item = all.find((i) => i.entity === 'REFUNDABLE' && i.payment_order_id === orderId);
      if (!item) {
        violations.push(`${orderId}: refunds without a refundable item`);
        continue;
      }
      if (refunded > Number(item.amount_minor))
        violations.push(`${orderId}: refunded ${refunded} of ${item.amount_minor}`);
      if (Number(item.refunded_minor) !== refunded)
        violations.push(`${orderId}: refundable says ${item.refunded_minor}, refunds ${refunded}`);
    }
    for (const d of all.filter((i) => i.entity === 'DISPUTE' && i.payment_id === paymentId)) {
      const id = String(d.dispute_id);
      const psp = pspDisputes.find((p) => p.id === id);
      const status = String(d.dispute_status);
      const expected = psp?.status === 'won' ? 'WON' : psp?.status === 'lost' ? 'LOST' : 'OPEN';
      if (status !== expected) violations.push(`${id}: ours ${status}, the PSP's ${psp?.status}`);
      if (txnCount(`dispute:${id}:withdrawal`) !== 1)
        violations.push(`${id}: withdrawal booked ${txnCount(`dispute:${id}:withdrawal`)} times`);
      if (txnCount(`dispute:${id}:reinstatement`) !== (status === 'WON' ? 1 : 0))
        violations.push(`${id}: reinstatement booked ${txnCount(`dispute:${id}:reinstatement`)} times`);
      if (txnCount(`dispute:${id}:loss`) !== (status === 'LOST' ? 1 : 0))
        violations.push(`${id}: loss booked ${txnCount(`dispute:${id}:loss`)} times`);
      // Every seller of a dispute is checked: open shares set aside, decided ones no longer.
      for (const share of (d.shares as Item[]) ?? []) {
        const seller = String(share.seller_account);
        heldBySeller.set(
          seller,
          (heldBySeller.get(seller) ?? 0) + (status === 'OPEN' ? Number(share.amount_minor) : 0),
        );
      }
    }
  }
  for (const [seller, held] of heldBySeller) {
    const wallets = await queryAll(client, tableSchemas.wallets.id, `WALLET#${seller}`);
    const disputed = wallets.reduce((sum, w) => sum + Number(w.disputed_minor ?? 0), 0);
    if (disputed !== held) violations.push(`wallet ${seller}: disputed ${disputed}, open dispute shares ${held}`);
  }
  client.destroy();
  return violations;
}
