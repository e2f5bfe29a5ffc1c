/**
 * The pay-out's invariants, checked against the ground truth: our tables (DynamoDB Local) and the PSP simulator's
 * own transfers and payouts (its admin routes). For the given sellers, once every payout workflow has ended:
 * - per payout at most one PSP transfer (by transfer_group) and at most one PSP payout (by our id in metadata);
 * - every PSP transfer to these sellers (by our ids in its metadata) is one of our payouts' transfer;
 * - PAID: one transfer of the payout's amount, not reversed, booked; FAILED/CANCELED after a transfer: the
 *   transfer fully reversed, the reversal booked, the payout's reversal done; FAILED before: no transfer;
 * - every ledger transaction of a payout balances;
 * - each wallet: pending + available + held = balance, available never negative, held = the amounts of the
 *   payouts still open, balance = the seller's payable account in the ledger.
 */
import { tableSchemas } from '../../src/core/table-schemas';
import { documentClient, ledgerEntries, queryAll, scanAll } from './invariants';
import type { StackInfo } from './local-stack-process';

interface PspTransferTruth {
  id: string;
  amount: number;
  amount_reversed: number;
  transfer_group?: string | null;
  metadata?: Record<string, string>;
}
interface PspPayoutTruth {
  id: string;
  status: string;
  metadata?: Record<string, string>;
}

async function admin<T>(pspUrl: string, path: string): Promise<T[]> {
  const body = (await (await fetch(`${pspUrl}${path}`)).json()) as T[] | { data: T[] };
  return Array.isArray(body) ? body : body.data;
}

export const pspTransfers = (pspUrl: string) => admin<PspTransferTruth>(pspUrl, '/__admin/transfers');
export const pspPayouts = (pspUrl: string) => admin<PspPayoutTruth>(pspUrl, '/__admin/payouts');

const FINAL = new Set(['PAID', 'FAILED', 'CANCELED']);

export async function checkPayoutInvariants(stack: Pick<StackInfo, 'urls'>, sellers: string[]): Promise<string[]> {
  const client = documentClient(stack.urls.dynamodb);
  const violations: string[] = [];
  const transfers = await pspTransfers(stack.urls.psp);
  const payoutsAtPsp = await pspPayouts(stack.urls.psp);
  const ledger = await scanAll(client, tableSchemas.ledger.id);
  // Entries as their headers carry them; an entry item missing or extra beside them is a violation too.
  const { entries: allEntries, violations: entryItemViolations } = ledgerEntries(ledger);
  violations.push(...entryItemViolations);
  const allPayouts = (await scanAll(client, tableSchemas.payouts.id)).filter((i) => i.entity === 'PAYOUT');
  for (const seller of sellers) {
    const payouts = allPayouts.filter((p) => p.seller_account === seller);
    const ours = new Set(payouts.map((p) => String(p.payout_id)));
    // Every PSP transfer made for this seller is one of our payouts'.
    for (const t of transfers.filter((t) => t.metadata?.seller_account === seller)) {
      const payoutId = t.metadata?.payout_id ?? t.transfer_group ?? '';
      if (!ours.has(payoutId)) violations.push(`PSP transfer ${t.id} to ${seller} matches none of our payouts`);
    }
    let open = 0;
    for (const p of payouts) {
      const id = String(p.payout_id);
      const amount = Number(p.amount_minor);
      const made = transfers.filter((t) => t.transfer_group === id);
      if (made.length > 1) violations.push(`${id}: ${made.length} PSP transfers`);
      const atPsp = payoutsAtPsp.filter((x) => x.metadata?.payout_id === id);
      if (atPsp.length > 1) violations.push(`${id}: ${atPsp.length} PSP payouts`);
      const [transfer] = made;
      const txns = ledger.filter((e) => e.entity === 'TRANSACTION' && e.reference === id).map((e) => e.transaction_id);
      if (!FINAL.has(String(p.status))) {
        open += amount;
        violations.push(`${id}: still ${p.status}`);
        continue;
      }
      if (p.status === 'PAID') {
        if (!transfer || transfer.amount !== amount || transfer.amount_reversed !== 0) {
          violations.push(`${id}: PAID but its PSP transfer is ${JSON.stringify(transfer)}`);
        }
        if (p.transfer_booked !== true || !txns.includes(`payout:${id}:transfer`))
          violations.push(`${id}: transfer not booked`);
        if (txns.includes(`payout:${id}:transfer-reversal`)) violations.push(`${id}: PAID with a reversal booked`);
      } else if (p.transfer_id) {
        if (!transfer || transfer.amount_reversed !== transfer.amount) {
          violations.push(`${id}: ${p.status} after a transfer not fully reversed: ${JSON.stringify(transfer)}`);
        }
        if (p.reversal_done !== true) violations.push(`${id}: ${p.status}, reversal not done`);
        for (const txn of [`payout:${id}:transfer`, `payout:${id}:transfer-reversal`]) {
          if (txns.filter((t) => t === txn).length !== 1)
            violations.push(`${id}: ${txn} booked ${txns.filter((t) => t === txn).length} times`);
        }
      } else {
        if (made.length > 0) violations.push(`${id}: FAILED before its transfer, yet the PSP has one`);
        if (txns.length > 0)
          violations.push(`${id}: FAILED before its transfer, yet ${txns.length} ledger transactions`);
      }
      for (const txn of txns) {
        const entries = allEntries.filter((e) => e.transaction_id === txn);
        const sum = entries.reduce((s, e) => s + (e.direction === 'DEBIT' ? 1 : -1) * Number(e.amount_minor), 0);
        if (sum !== 0) violations.push(`${txn}: off by ${sum}`);
      }
    }
    const wallets = await queryAll(client, tableSchemas.wallets.id, `WALLET#${seller}`);
    const account = `liability:seller_payable:${seller}`;
    for (const w of wallets) {
      const currency = String(w.sk);
      const balance = Number(w.balance_minor);
      const pending = Number(w.pending_minor ?? 0) + Number(w.disputed_minor ?? 0);
      const available = Number(w.available_minor);
      const held = Number(w.held_minor);
      if (pending + available + held !== balance)
        violations.push(`wallet ${seller} ${currency}: buckets do not add up`);
      if (available < 0) violations.push(`wallet ${seller} ${currency}: available ${available}`);
      const openHere = payouts
        .filter((p) => p.currency === currency && !FINAL.has(String(p.status)))
        .reduce((s, p) => s + Number(p.amount_minor), 0);
      if (held !== openHere) violations.push(`wallet ${seller} ${currency}: held ${held}, open payouts ${openHere}`);
      const booked = allEntries
        .filter((e) => e.account === account && e.currency === currency)
        .reduce((s, e) => s + (e.direction === 'CREDIT' ? 1 : -1) * Number(e.amount_minor), 0);
      if (booked !== balance) violations.push(`wallet ${seller} ${currency}: balance ${balance}, ledger ${booked}`);
    }
    if (open > 0) violations.push(`${seller}: ${open} still held by open payouts`);
  }
  client.destroy();
  return violations;
}
