/**
 * The exactly-once invariants, checked against the ground truth: our tables (read from DynamoDB Local) and the
 * PSP simulator's own record of charges. Used by the fault tests after every scenario.
 *
 * For the given payments:
 * - at most one successful PSP charge per payment;
 * - every successful charge is credited and booked exactly once: each order SUCCESS with both flags, one ledger
 *   transaction per order, the payment SUCCESS; and a payment without a successful charge has no booking at all;
 * - every ledger transaction balances per currency;
 * - every wallet of the payments' sellers equals the sum of its payable account's ledger entries, and its buckets
 *   (pending + available + held) add up to its balance, none negative.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { tableSchemas } from '../../src/core/table-schemas';
import type { StackInfo } from './local-stack-process';

type Item = Record<string, unknown>;

export interface PspCharge {
  id: string;
  payment_intent: string;
  amount: number;
  currency: string;
  status?: string;
  metadata: Record<string, string>;
}

export function documentClient(endpoint: string) {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }),
  );
}

export async function queryAll(client: DynamoDBDocumentClient, table: string, pk: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

export async function scanAll(client: DynamoDBDocumentClient, table: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** A ledger entry as the oracle reads it: from its transaction's header, which carries them all. */
export interface OracleEntry {
  transaction_id: string;
  account: string;
  direction: string;
  amount_minor: number;
  currency: string;
}

const entryKey = (e: Item) => `${e.account}|${e.direction}|${Number(e.amount_minor)}|${e.currency}`;

/**
 * Every entry of the ledger items given (headers and entry items, e.g. a scan), read from the headers, and what is
 * wrong with the entry items: each entry on a seller's payable account must also be an item of its own (the
 * by-account index reconciliation reads), once, and no other entry item may exist beside a header that carries its
 * entries.
 */
export function ledgerEntries(ledger: Item[]): { entries: OracleEntry[]; violations: string[] } {
  const entries: OracleEntry[] = [];
  const violations: string[] = [];
  const items = new Map<string, string[]>();
  for (const item of ledger.filter((i) => i.entity === 'ENTRY')) {
    const list = items.get(String(item.transaction_id)) ?? [];
    list.push(entryKey(item));
    items.set(String(item.transaction_id), list);
  }
  for (const header of ledger.filter((i) => i.entity === 'TRANSACTION')) {
    const id = String(header.transaction_id);
    const carried = Array.isArray(header.entries) ? (header.entries as Item[]) : [];
    for (const e of carried) {
      entries.push({
        transaction_id: id,
        account: String(e.account),
        direction: String(e.direction),
        amount_minor: Number(e.amount_minor),
        currency: String(e.currency),
      });
    }
    const expected = carried
      .filter((e) => String(e.account).startsWith('liability:seller_payable:'))
      .map(entryKey)
      .sort();
    const actual = [...(items.get(id) ?? [])].sort();
    if (JSON.stringify(expected) !== JSON.stringify(actual)) {
      violations.push(
        `${id}: entry items ${JSON.stringify(actual)}, its seller payable entries ${JSON.stringify(expected)}`,
      );
    }
  }
  const headers = new Set(ledger.filter((i) => i.entity === 'TRANSACTION').map((i) => String(i.transaction_id)));
  for (const id of items.keys()) if (!headers.has(id)) violations.push(`${id}: entry items without a header`);
  return { entries, violations };
}

export async function pspCharges(pspUrl: string, paymentId?: string): Promise<PspCharge[]> {
  const query = paymentId ? `?payment_id=${encodeURIComponent(paymentId)}` : '';
  const response = await fetch(`${pspUrl}/__admin/charges${query}`);
  const body = (await response.json()) as PspCharge[] | { data: PspCharge[] };
  return Array.isArray(body) ? body : body.data;
}

/** Returns the list of violations (empty when every invariant holds). */
export async function checkInvariants(stack: Pick<StackInfo, 'urls'>, paymentIds: string[]): Promise<string[]> {
  const client = documentClient(stack.urls.dynamodb);
  const violations: string[] = [];
  const charges = await pspCharges(stack.urls.psp);
  const sellers = new Set<string>();
  for (const paymentId of paymentIds) {
    const items = await queryAll(client, tableSchemas.payments.id, `PAY#${paymentId}`);
    const event = items.find((i) => i.sk === 'EVENT');
    const orders = items.filter((i) => String(i.sk).startsWith('ORDER#'));
    if (!event) {
      violations.push(`${paymentId}: no payment event`);
      continue;
    }
    for (const order of orders) sellers.add(String(order.seller_account));
    const succeeded = charges.filter(
      (c) => c.metadata?.payment_id === paymentId && (c.status ?? 'succeeded') === 'succeeded',
    );
    if (succeeded.length > 1) violations.push(`${paymentId}: ${succeeded.length} successful PSP charges`);
    const ledger = await queryAll(client, tableSchemas.ledger.id, `REF#${paymentId}`);
    const headers = ledger.filter((i) => i.entity === 'TRANSACTION');
    if (succeeded.length === 1) {
      const [charge] = succeeded;
      if (charge && charge.amount !== event.total_minor) {
        violations.push(`${paymentId}: charged ${charge.amount}, total is ${event.total_minor}`);
      }
      if (event.status !== 'SUCCESS') violations.push(`${paymentId}: charged but the payment is ${event.status}`);
      for (const order of orders) {
        const id = String(order.payment_order_id);
        if (order.status !== 'SUCCESS' || order.wallet_updated !== true || order.ledger_updated !== true) {
          violations.push(
            `${paymentId}/${id}: charged but ${order.status}, wallet ${order.wallet_updated}, ledger ${order.ledger_updated}`,
          );
        }
        const count = headers.filter((h) => h.transaction_id === `payin:${id}`).length;
        if (count !== 1) violations.push(`${paymentId}/${id}: ${count} ledger transactions`);
      }
    } else {
      if (event.status === 'SUCCESS') violations.push(`${paymentId}: SUCCESS without a successful PSP charge`);
      if (headers.length > 0) violations.push(`${paymentId}: ${headers.length} ledger transactions without a charge`);
      if (orders.some((o) => o.wallet_updated === true))
        violations.push(`${paymentId}: wallet credited without a charge`);
    }
    // Every transaction balances per currency; its seller's payable entries are also items (the statements').
    // (The entry items are checked against the headers below, over the whole ledger.)
    const read = ledgerEntries(ledger);
    for (const header of headers) {
      const entries = read.entries.filter((e) => e.transaction_id === header.transaction_id);
      const sums = new Map<string, number>();
      for (const e of entries) {
        const signed = e.direction === 'DEBIT' ? Number(e.amount_minor) : -Number(e.amount_minor);
        sums.set(String(e.currency), (sums.get(String(e.currency)) ?? 0) + signed);
      }
      for (const [currency, sum] of sums) {
        if (sum !== 0) violations.push(`${header.transaction_id}: ${currency} off by ${sum}`);
      }
      if (entries.length !== Number(header.entry_count)) {
        violations.push(`${header.transaction_id}: ${entries.length} entries, header says ${header.entry_count}`);
      }
    }
  }
  // Every wallet equals its payable account's entries.
  if (sellers.size > 0) {
    const { entries, violations: itemViolations } = ledgerEntries(await scanAll(client, tableSchemas.ledger.id));
    violations.push(...itemViolations);
    for (const seller of sellers) {
      const wallets = await queryAll(client, tableSchemas.wallets.id, `WALLET#${seller}`);
      const account = `liability:seller_payable:${seller}`;
      const currencies = new Set([
        ...wallets.map((w) => String(w.sk)),
        ...entries.filter((e) => e.account === account).map((e) => String(e.currency)),
      ]);
      for (const currency of currencies) {
        const balance = Number(wallets.find((w) => w.sk === currency)?.balance_minor ?? 0);
        const booked = entries
          .filter((e) => e.account === account && e.currency === currency)
          .reduce((sum, e) => sum + (e.direction === 'CREDIT' ? Number(e.amount_minor) : -Number(e.amount_minor)), 0);
        if (balance !== booked) violations.push(`wallet ${seller} ${currency}: balance ${balance}, ledger ${booked}`);
        // balance = pending + available + held, nothing negative (payouts in flight hold money: checked by
        // test/support/payout-invariants.ts against the payouts themselves).
        const item = wallets.find((w) => w.sk === currency);
        if (item) {
          const pending = Number(item.pending_minor ?? 0) + Number(item.disputed_minor ?? 0);
          const available = Number(item.available_minor);
          const held = Number(item.held_minor);
          if (pending + available + held !== balance || available < 0 || held < 0 || pending < 0) {
            violations.push(
              `wallet ${seller} ${currency}: balance ${balance}, pending ${pending}, available ${available}, held ${held}`,
            );
          }
        }
      }
    }
  }
  client.destroy();
  return violations;
}
