/**
 * The ledger on DynamoDB Local: a transaction's header carries its entries, so a day's shard reads each transaction
 * whole from its header alone; only an entry on a seller's payable account is also an item (the by-account index the
 * wallet check reads); a transaction booked before headers carried entries is still read whole from the entries
 * beside it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ensureTables, type LocalDynamo, startDynamoDbLocal } from '../../local/dynamodb';
import { freePort } from '../../local/processes';
import { tableSchemas } from '../../src/core/table-schemas';
import { dayShardKey, LedgerTable } from '../../src/ledger/ledger-table';
import { accounts, payInTransaction, pspFeeTransaction, SETTLEMENT_SHARDS } from '../../src/ledger/postings';

jest.setTimeout(120_000);

const TABLE = 'LedgerTest';
let dynamo: LocalDynamo;
let doc: DynamoDBDocumentClient;
let ledger: LedgerTable;

beforeAll(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-'));
  dynamo = await startDynamoDbLocal({ host: '127.0.0.1', port: await freePort('127.0.0.1'), dataDir, inMemory: true });
  await ensureTables(dynamo.client, [{ schema: tableSchemas.ledger, name: TABLE }]);
  doc = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
  ledger = new LedgerTable(doc, TABLE);
});

afterAll(async () => {
  doc?.destroy();
  await dynamo?.stop();
});

const DAY = '2026-11-29';
const order = (id: string) => ({
  payment_id: `pay_${id}`,
  payment_order_id: `po_${id}`,
  seller_account: `acct_${id}`,
  currency: 'EUR',
  amount_minor: 1234,
  fee_minor: 31,
});

/** Every shard of the day, read as reconciliation reads them. */
async function day() {
  const shards = await Promise.all(
    Array.from({ length: SETTLEMENT_SHARDS }, (_, shard) => ledger.transactionsOfDay(DAY, shard)),
  );
  return shards.flat();
}

describe('LedgerTable: a day’s transactions', () => {
  it('reads a transaction whole from its header, the only item of it in the by-day index', async () => {
    const transaction = { ...payInTransaction(order('new')), value_date: DAY };
    expect(await ledger.appendOnce(transaction)).toBe(true);

    const read = (await day()).find((t) => t.transaction_id === transaction.transaction_id);
    expect(read?.entries).toEqual(transaction.entries);
    expect(read?.entry_count).toBe(3);
    const indexed = await Promise.all(
      Array.from({ length: SETTLEMENT_SHARDS }, async (_, shard) => {
        const { Items = [] } = await doc.send(
          new QueryCommand({
            TableName: TABLE,
            IndexName: 'by-day',
            KeyConditionExpression: 'day_shard = :d',
            ExpressionAttributeValues: { ':d': dayShardKey(DAY, shard) },
          }),
        );
        return Items.filter((item) => item.transaction_id === transaction.transaction_id).map((item) => item.entity);
      }),
    );
    expect(indexed.flat()).toEqual(['TRANSACTION']);
    // The payment's ledger reads every entry from the header.
    expect((await ledger.entriesFor(transaction.reference)).map((e) => e.account)).toEqual(
      transaction.entries.map((e) => e.account),
    );
  });

  it('reads a transaction booked before headers carried entries from the entries beside it', async () => {
    const transaction = payInTransaction(order('old'));
    const pk = `REF#${transaction.reference}`;
    const shardKey = dayShardKey(DAY, 3);
    await doc.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          pk,
          sk: `TXN#${transaction.transaction_id}`,
          entity: 'TRANSACTION',
          transaction_id: transaction.transaction_id,
          reference: transaction.reference,
          entry_count: transaction.entries.length,
          posted_at: `${DAY}T10:00:00.000Z`,
          day: DAY,
          day_shard: shardKey,
        },
      }),
    );
    for (const [n, entry] of transaction.entries.entries()) {
      await doc.send(
        new PutCommand({
          TableName: TABLE,
          Item: {
            pk,
            sk: `TXN#${transaction.transaction_id}#${n}`,
            entity: 'ENTRY',
            transaction_id: transaction.transaction_id,
            reference: transaction.reference,
            ...entry,
            posted_at: `${DAY}T10:00:00.000Z#${transaction.transaction_id}#${n}`,
            day_shard: shardKey,
          },
        }),
      );
    }

    const read = (await ledger.transactionsOfDay(DAY, 3)).find((t) => t.transaction_id === transaction.transaction_id);
    expect(read?.entries).toHaveLength(3);
    expect(new Set(read?.entries.map((e) => e.account))).toEqual(new Set(transaction.entries.map((e) => e.account)));
  });
});

describe('LedgerTable: one item per transaction, and the statements of sellers', () => {
  const partition = async (reference: string) => {
    const { Items = [] } = await doc.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `REF#${reference}` },
      }),
    );
    return Items.map((item) => [item.sk, item.entity, item.account]);
  };

  it("writes the header and the seller's payable entry, and reads every entry back from the header", async () => {
    const transaction = payInTransaction(order('items'));
    expect(transaction.entries).toHaveLength(3); // clearing, seller payable, platform fee
    expect(await ledger.appendOnce(transaction)).toBe(true);

    expect(await partition(transaction.reference)).toEqual([
      [`TXN#${transaction.transaction_id}`, 'TRANSACTION', undefined],
      [`TXN#${transaction.transaction_id}#001`, 'ENTRY', accounts.sellerPayable('acct_items')],
    ]);
    expect(await ledger.entriesOfTransaction(transaction.reference, transaction.transaction_id)).toEqual(
      transaction.entries,
    );
    const stored = await ledger.entriesFor(transaction.reference);
    expect(
      stored.map(({ account, direction, amount_minor, currency }) => ({ account, direction, amount_minor, currency })),
    ).toEqual(transaction.entries);
    expect(stored.every((e) => e.transaction_id === transaction.transaction_id && /^\d{4}-/.test(e.posted_at))).toBe(
      true,
    );
    // The seller's statement (by-account) has the credit; the platform's accounts have no statement: asking for one
    // is refused, not answered with an empty balance.
    expect(await ledger.accountBalance(accounts.sellerPayable('acct_items'))).toEqual(new Map([['EUR', -(1234 - 31)]]));
    await expect(ledger.accountBalance(accounts.pspClearing)).rejects.toThrow(/has no statement/);
    // Booked once: the same transaction again writes nothing.
    expect(await ledger.appendOnce(transaction)).toBe(false);
    expect(await partition(transaction.reference)).toHaveLength(2);
  });

  it('books many transactions once each when some were booked before, whatever items each writes', async () => {
    const fees = [1, 2, 3].map((n) =>
      pspFeeTransaction({
        balance_transaction_id: `txn_many_${n}`,
        currency: 'EUR',
        fee_minor: 10 * n,
        value_date: DAY,
        description: `fee ${n}`,
      }),
    );
    const payIns = ['m1', 'm2'].map((id) => payInTransaction(order(id)));
    // One of each kind booked before: the batch holding them is cancelled whole, the others booked after.
    expect(await ledger.appendOnce(fees[1]!)).toBe(true);
    expect(await ledger.appendOnce(payIns[1]!)).toBe(true);

    const booked = await ledger.appendManyOnce([fees[0]!, payIns[0]!, fees[1]!, payIns[1]!, fees[2]!]);

    expect([...booked].sort()).toEqual([fees[0]!, payIns[0]!, fees[2]!].map((t) => t.transaction_id).sort());
    // A fee touches no seller: its header alone.
    expect(await partition(fees[0]!.reference)).toEqual([[`TXN#${fees[0]!.transaction_id}`, 'TRANSACTION', undefined]]);
    expect(await partition(payIns[0]!.reference)).toHaveLength(2);
  });
});
