/**
 * The wallet posting API (src/ledger/wallets.ts) against DynamoDB Local in memory: every posting is one
 * transaction of the caller's guard and the wallet update, so a refused posting (floor, hold, guard, legacy item,
 * bad amount) changes nothing, and balance = available + held after any sequence.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as fc from 'fast-check';
import { ensureTables, type LocalDynamo, startDynamoDbLocal } from '../../local/dynamodb';
import { freePort } from '../../local/processes';
import { tableSchemas } from '../../src/core/table-schemas';
import {
  InsufficientFundsError,
  InvalidPostingError,
  type TransactGuard,
  type WalletPosting,
  Wallets,
  walletKey,
} from '../../src/ledger/wallets';

jest.setTimeout(120_000);

const TABLE = 'WalletsTest';
const CURRENCY = 'EUR';

let dynamo: LocalDynamo;
let doc: DynamoDBDocumentClient;
let wallets: Wallets;

beforeAll(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wallets-'));
  dynamo = await startDynamoDbLocal({ host: '127.0.0.1', port: await freePort('127.0.0.1'), dataDir, inMemory: true });
  await ensureTables(dynamo.client, [{ schema: tableSchemas.wallets, name: TABLE }]);
  doc = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
  wallets = new Wallets(doc, TABLE);
});

afterAll(async () => {
  doc?.destroy();
  await dynamo?.stop();
});

let sellers = 0;
/** A fresh seller per test (and per property run), so tests never share a wallet. */
const newSeller = () => `acct_${++sellers}_${Math.random().toString(36).slice(2, 8)}`;

const posting = (seller: string, amount: number): WalletPosting => ({
  seller_account: seller,
  currency: CURRENCY,
  amount_minor: amount,
});

async function rawWallet(seller: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await doc.send(
    new GetCommand({ TableName: TABLE, Key: walletKey(seller, CURRENCY), ConsistentRead: true }),
  );
  return Item;
}

async function amounts(seller: string) {
  const item = await rawWallet(seller);
  if (!item) return undefined;
  return {
    balance: item.balance_minor as number,
    available: item.available_minor as number,
    held: item.held_minor as number,
  };
}

const markerKey = (id: string) => ({ pk: `GUARD#${id}`, sk: 'marker' });

/** The caller's guard: writes a marker once (fails when the marker exists). */
const onceGuard = (id: string): TransactGuard => ({
  Put: {
    TableName: TABLE,
    Item: { ...markerKey(id), written_at: new Date().toISOString() },
    ConditionExpression: 'attribute_not_exists(pk)',
  },
});

async function marker(id: string) {
  const { Item } = await doc.send(new GetCommand({ TableName: TABLE, Key: markerKey(id), ConsistentRead: true }));
  return Item;
}

async function writeMarker(id: string) {
  await doc.send(new PutCommand({ TableName: TABLE, Item: { ...markerKey(id), pre_existing: true } }));
}

/** A wallet with `available` available and `held` held (credit then hold). */
async function walletWith(available: number, held: number): Promise<string> {
  const seller = newSeller();
  await wallets.credit(posting(seller, available + held));
  if (held > 0) await wallets.hold(posting(seller, held));
  expect(await amounts(seller)).toEqual({ balance: available + held, available, held });
  return seller;
}

type Operation = 'credit' | 'debit' | 'hold' | 'release' | 'capture';

function run(operation: Operation, seller: string, amount: number, guard?: TransactGuard, floor?: number) {
  const p = posting(seller, amount);
  switch (operation) {
    case 'credit':
      return wallets.credit(p, guard);
    case 'debit':
      return wallets.debit(p, guard, floor);
    case 'hold':
      return wallets.hold(p, guard, floor);
    case 'release':
      return wallets.release(p, guard);
    case 'capture':
      return wallets.capture(p, guard);
  }
}

const operations: Operation[] = ['credit', 'debit', 'hold', 'release', 'capture'];

/** A wallet of 150 (100 available, 50 held) after a posting of 10. */
const afterTen: Record<Operation, { balance: number; available: number; held: number }> = {
  credit: { balance: 160, available: 110, held: 50 },
  debit: { balance: 140, available: 90, held: 50 },
  hold: { balance: 150, available: 90, held: 60 },
  release: { balance: 150, available: 110, held: 40 },
  capture: { balance: 140, available: 100, held: 40 },
};

describe('Class: Wallets', () => {
  describe('credit', () => {
    it('creates the item with balance = available = amount and nothing held', async () => {
      const seller = newSeller();
      const before = Date.now();

      await expect(wallets.credit(posting(seller, 1_250))).resolves.toBe(true);

      const item = await rawWallet(seller);
      expect(item).toMatchObject({
        ...walletKey(seller, CURRENCY),
        seller_account: seller,
        currency: CURRENCY,
        balance_minor: 1_250,
        available_minor: 1_250,
        held_minor: 0,
      });
      expect(Date.parse(item?.updated_at as string)).toBeGreaterThanOrEqual(before - 1_000);
    });

    it('adds to an existing wallet and reports it in balances()', async () => {
      const seller = newSeller();
      await wallets.credit(posting(seller, 100));
      await wallets.credit(posting(seller, 23));
      await wallets.credit({ seller_account: seller, currency: 'USD', amount_minor: 7 });

      const balances = await wallets.balances(seller);

      expect(balances).toHaveLength(2);
      expect(balances.find((b) => b.currency === CURRENCY)).toMatchObject({
        seller_account: seller,
        currency: CURRENCY,
        balance_minor: 123,
        available_minor: 123,
        held_minor: 0,
      });
      expect(balances.find((b) => b.currency === 'USD')).toMatchObject({
        balance_minor: 7,
        available_minor: 7,
        held_minor: 0,
      });
    });

    it('balances() of an unknown seller is empty', async () => {
      await expect(wallets.balances(newSeller())).resolves.toEqual([]);
    });
  });

  describe('a sequence of postings', () => {
    it('keeps balance = available + held through credit, hold, debit, release and capture', async () => {
      const seller = newSeller();
      const check = async (expected: { balance: number; available: number; held: number }) => {
        const now = await amounts(seller);
        expect(now).toEqual(expected);
        expect(now!.balance).toBe(now!.available + now!.held);
      };

      await wallets.credit(posting(seller, 1_000));
      await check({ balance: 1_000, available: 1_000, held: 0 });
      await wallets.hold(posting(seller, 300));
      await check({ balance: 1_000, available: 700, held: 300 });
      await wallets.debit(posting(seller, 200));
      await check({ balance: 800, available: 500, held: 300 });
      await wallets.release(posting(seller, 100));
      await check({ balance: 800, available: 600, held: 200 });
      await wallets.capture(posting(seller, 200));
      await check({ balance: 600, available: 600, held: 0 });
      await wallets.debit(posting(seller, 600));
      await check({ balance: 0, available: 0, held: 0 });
    });

    it('property: random sequences keep balance = available + held, available >= floor, held >= 0', async () => {
      const step = fc.record({
        operation: fc.constantFrom(...operations),
        amount: fc.integer({ min: 0, max: 500 }),
        floor: fc.integer({ min: 0, max: 200 }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
          const seller = newSeller();
          // The model: undefined until the first credit creates the item.
          let model: { balance: number; available: number; held: number } | undefined;
          for (const { operation, amount, floor } of steps) {
            const current = model ?? { balance: 0, available: 0, held: 0 };
            let next: typeof model;
            switch (operation) {
              case 'credit':
                next = { balance: current.balance + amount, available: current.available + amount, held: current.held };
                break;
              case 'debit':
                next =
                  model && model.available >= amount + floor
                    ? { balance: model.balance - amount, available: model.available - amount, held: model.held }
                    : undefined;
                break;
              case 'hold':
                next =
                  model && model.available >= amount + floor
                    ? { balance: model.balance, available: model.available - amount, held: model.held + amount }
                    : undefined;
                break;
              case 'release':
                next =
                  model && model.held >= amount
                    ? { balance: model.balance, available: model.available + amount, held: model.held - amount }
                    : undefined;
                break;
              case 'capture':
                next =
                  model && model.held >= amount
                    ? { balance: model.balance - amount, available: model.available, held: model.held - amount }
                    : undefined;
                break;
            }
            const before = await rawWallet(seller);
            const result = run(operation, seller, amount, undefined, floor);
            if (next) {
              await expect(result).resolves.toBe(true);
              model = next;
            } else {
              await expect(result).rejects.toBeInstanceOf(InsufficientFundsError);
              expect(await rawWallet(seller)).toEqual(before);
            }
            const stored = await amounts(seller);
            expect(stored).toEqual(model);
            if (stored) {
              expect(stored.balance).toBe(stored.available + stored.held);
              expect(stored.available).toBeGreaterThanOrEqual(0);
              expect(stored.held).toBeGreaterThanOrEqual(0);
              if (next && (operation === 'debit' || operation === 'hold')) {
                expect(stored.available).toBeGreaterThanOrEqual(floor);
              }
            }
          }
        }),
        { numRuns: 40 },
      );
    });
  });

  describe('the floor', () => {
    it.each([
      ['debit', 0],
      ['hold', 0],
      ['debit', 50],
      ['hold', 50],
    ] as const)(
      'refuses a %s below a floor of %i (InsufficientFundsError), changing nothing',
      async (operation, floor) => {
        const seller = await walletWith(100, 40);
        const before = await rawWallet(seller);

        await expect(run(operation, seller, 101 - floor, undefined, floor)).rejects.toBeInstanceOf(
          InsufficientFundsError,
        );

        expect(await rawWallet(seller)).toEqual(before);
      },
    );

    it.each(['debit', 'hold'] as const)('allows a %s down to exactly the floor', async (operation) => {
      const seller = await walletWith(100, 0);

      await expect(run(operation, seller, 70, undefined, 30)).resolves.toBe(true);

      expect((await amounts(seller))?.available).toBe(30);
    });

    it.each(['debit', 'hold'] as const)(
      'refuses a %s on a wallet that does not exist, creating nothing',
      async (operation) => {
        const seller = newSeller();

        await expect(run(operation, seller, 1)).rejects.toBeInstanceOf(InsufficientFundsError);

        expect(await rawWallet(seller)).toBeUndefined();
      },
    );

    it('does not count held money as available', async () => {
      const seller = await walletWith(10, 90);
      const before = await rawWallet(seller);

      await expect(wallets.debit(posting(seller, 11))).rejects.toBeInstanceOf(InsufficientFundsError);

      expect(await rawWallet(seller)).toEqual(before);
    });
  });

  describe('release and capture', () => {
    it.each(['release', 'capture'] as const)('refuses to %s more than is held, changing nothing', async (operation) => {
      const seller = await walletWith(500, 40);
      const before = await rawWallet(seller);

      await expect(run(operation, seller, 41)).rejects.toBeInstanceOf(InsufficientFundsError);

      expect(await rawWallet(seller)).toEqual(before);
    });

    it.each(['release', 'capture'] as const)('allows a %s of exactly what is held', async (operation) => {
      const seller = await walletWith(500, 40);

      await expect(run(operation, seller, 40)).resolves.toBe(true);

      expect((await amounts(seller))?.held).toBe(0);
    });

    it.each(['release', 'capture'] as const)('refuses a %s on a wallet that does not exist', async (operation) => {
      const seller = newSeller();

      await expect(run(operation, seller, 1)).rejects.toBeInstanceOf(InsufficientFundsError);

      expect(await rawWallet(seller)).toBeUndefined();
    });
  });

  describe('the guard', () => {
    it.each(operations)('%s: writes the guard and the posting together', async (operation) => {
      const seller = await walletWith(100, 50);
      const id = `ok-${seller}-${operation}`;

      await expect(run(operation, seller, 10, onceGuard(id))).resolves.toBe(true);

      expect(await marker(id)).toBeDefined();
      expect(await amounts(seller)).toEqual(afterTen[operation]);
    });

    it.each(operations)('%s: a failed guard returns false and changes nothing', async (operation) => {
      const seller = await walletWith(100, 50);
      const id = `failed-${seller}-${operation}`;
      await writeMarker(id);
      const before = await rawWallet(seller);

      await expect(run(operation, seller, 10, onceGuard(id))).resolves.toBe(false);

      expect(await rawWallet(seller)).toEqual(before);
      expect(await marker(id)).toEqual({ ...markerKey(id), pre_existing: true });
    });

    it('a failed guard on a credit creates no wallet', async () => {
      const seller = newSeller();
      const id = `failed-new-${seller}`;
      await writeMarker(id);

      await expect(wallets.credit(posting(seller, 10), onceGuard(id))).resolves.toBe(false);

      expect(await rawWallet(seller)).toBeUndefined();
    });

    it.each([
      ['debit', 101],
      ['hold', 101],
      ['release', 51],
      ['capture', 51],
    ] as const)(
      '%s: a failed guard returns false even when the wallet condition fails too',
      async (operation, amount) => {
        const seller = await walletWith(100, 50);
        const id = `both-${seller}-${operation}`;
        await writeMarker(id);
        const before = await rawWallet(seller);

        await expect(run(operation, seller, amount, onceGuard(id))).resolves.toBe(false);

        expect(await rawWallet(seller)).toEqual(before);
      },
    );

    it('runs the posting once: the second posting with the same guard returns false', async () => {
      const seller = newSeller();
      const id = `once-${seller}`;

      await expect(wallets.credit(posting(seller, 10), onceGuard(id))).resolves.toBe(true);
      await expect(wallets.credit(posting(seller, 10), onceGuard(id))).resolves.toBe(false);

      expect(await amounts(seller)).toEqual({ balance: 10, available: 10, held: 0 });
    });

    it.each([
      ['debit', 101],
      ['hold', 101],
      ['release', 51],
      ['capture', 51],
    ] as const)('%s: a refused posting does not write a passing guard', async (operation, amount) => {
      const seller = await walletWith(100, 50);
      const id = `refused-${seller}-${operation}`;
      const before = await rawWallet(seller);

      await expect(run(operation, seller, amount, onceGuard(id))).rejects.toBeInstanceOf(InsufficientFundsError);

      expect(await marker(id)).toBeUndefined();
      expect(await rawWallet(seller)).toEqual(before);
    });
  });

  describe('invalid postings', () => {
    it.each(
      operations.flatMap((operation) =>
        [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1].map(
          (amount) => [operation, amount] as const,
        ),
      ),
    )('%s refuses an amount of %p (InvalidPostingError), changing nothing', async (operation, amount) => {
      const seller = await walletWith(100, 50);
      const before = await rawWallet(seller);
      const id = `invalid-${seller}`;

      await expect(run(operation, seller, amount, onceGuard(id))).rejects.toBeInstanceOf(InvalidPostingError);

      expect(await rawWallet(seller)).toEqual(before);
      expect(await marker(id)).toBeUndefined();
    });

    it('a refused credit creates no wallet', async () => {
      const seller = newSeller();

      await expect(wallets.credit(posting(seller, -5))).rejects.toBeInstanceOf(InvalidPostingError);

      expect(await rawWallet(seller)).toBeUndefined();
    });

    it.each((['debit', 'hold'] as const).flatMap((operation) => [-1, 0.5].map((floor) => [operation, floor] as const)))(
      '%s refuses a floor of %p (InvalidPostingError)',
      async (operation, floor) => {
        const seller = await walletWith(100, 0);
        const before = await rawWallet(seller);

        await expect(run(operation, seller, 1, undefined, floor)).rejects.toBeInstanceOf(InvalidPostingError);

        expect(await rawWallet(seller)).toEqual(before);
      },
    );
  });

  describe('a legacy wallet item (balance_minor but no available_minor)', () => {
    async function legacyWallet(): Promise<string> {
      const seller = newSeller();
      await doc.send(
        new PutCommand({
          TableName: TABLE,
          Item: {
            ...walletKey(seller, CURRENCY),
            seller_account: seller,
            currency: CURRENCY,
            balance_minor: 1_000,
            updated_at: '2024-01-01T00:00:00.000Z',
          },
        }),
      );
      return seller;
    }

    it.each(operations)('%s is refused (throws) and changes nothing', async (operation) => {
      const seller = await legacyWallet();
      const before = await rawWallet(seller);

      await expect(run(operation, seller, 10)).rejects.toThrow();

      expect(await rawWallet(seller)).toEqual(before);
    });

    it.each(operations)('%s with a passing guard is refused (throws) and writes neither', async (operation) => {
      const seller = await legacyWallet();
      const before = await rawWallet(seller);
      const id = `legacy-${seller}-${operation}`;

      await expect(run(operation, seller, 10, onceGuard(id))).rejects.toThrow();

      expect(await rawWallet(seller)).toEqual(before);
      expect(await marker(id)).toBeUndefined();
    });
  });

  describe('pending credits, refunds and disputes', () => {
    const buckets = async (seller: string) => {
      const item = await rawWallet(seller);
      return {
        balance: Number(item?.balance_minor),
        pending: Number(item?.pending_minor ?? 0),
        available: Number(item?.available_minor),
        disputed: Number(item?.disputed_minor ?? 0),
      };
    };
    const pendingCredit = async (seller: string, amount: number) => {
      const source = `po_${seller}`;
      await wallets.creditPending(posting(seller, amount), {
        source_id: source,
        payment_id: `pay_${seller}`,
        psp_reference: `pi_${seller}`,
        created_at: new Date().toISOString(),
      });
      return source;
    };

    it('a refund of a pending credit takes from pending; the credit then makes only the rest available', async () => {
      const seller = newSeller();
      const source = await pendingCredit(seller, 1_000);
      expect(await wallets.debitForRefund(posting(seller, 300), source, () => onceGuard(`${seller}-r1`))).toBe(true);
      expect(await buckets(seller)).toEqual({ balance: 700, pending: 700, available: 0, disputed: 0 });
      // The same guard again: nothing moves twice.
      expect(await wallets.debitForRefund(posting(seller, 300), source, () => onceGuard(`${seller}-r1`))).toBe(false);
      expect(await wallets.makeAvailable(source)).toBe(true);
      expect(await buckets(seller)).toEqual({ balance: 700, pending: 0, available: 700, disputed: 0 });
    });

    it('a refund after the credit became available takes from available, below zero if it must', async () => {
      const seller = newSeller();
      const source = await pendingCredit(seller, 500);
      await wallets.makeAvailable(source);
      await wallets.hold(posting(seller, 500));
      await wallets.capture(posting(seller, 500));
      expect(await wallets.debitForRefund(posting(seller, 200), source, () => onceGuard(`${seller}-r`))).toBe(true);
      expect(await buckets(seller)).toEqual({ balance: -200, pending: 0, available: -200, disputed: 0 });
      expect(
        await wallets.creditForFailedRefund(posting(seller, 200), source, onceGuard(`${seller}-f`), 'available'),
      ).toBe(true);
      expect(await buckets(seller)).toEqual({ balance: 0, pending: 0, available: 0, disputed: 0 });
    });

    it('a failed refund of a still pending credit goes back to pending', async () => {
      const seller = newSeller();
      const source = await pendingCredit(seller, 800);
      await wallets.debitForRefund(posting(seller, 800), source, () => onceGuard(`${seller}-r`));
      await wallets.creditForFailedRefund(posting(seller, 800), source, onceGuard(`${seller}-f`), 'pending');
      expect(await buckets(seller)).toEqual({ balance: 800, pending: 800, available: 0, disputed: 0 });
      expect(await wallets.makeAvailable(source)).toBe(true);
      expect(await buckets(seller)).toEqual({ balance: 800, pending: 0, available: 800, disputed: 0 });
    });

    it('a dispute sets the share aside from pending, gives it back if won, takes it if lost', async () => {
      const seller = newSeller();
      const source = await pendingCredit(seller, 600);
      await wallets.holdForDisputeFrom(posting(seller, 600), source, () => onceGuard(`${seller}-h`));
      expect(await buckets(seller)).toEqual({ balance: 600, pending: 0, available: 0, disputed: 600 });
      await wallets.releaseDisputeTo(posting(seller, 600), source, onceGuard(`${seller}-w`), 'pending');
      expect(await buckets(seller)).toEqual({ balance: 600, pending: 600, available: 0, disputed: 0 });
      await wallets.holdForDisputeFrom(posting(seller, 600), source, () => onceGuard(`${seller}-h2`));
      await wallets.captureDispute(posting(seller, 600), onceGuard(`${seller}-l`));
      expect(await buckets(seller)).toEqual({ balance: 0, pending: 0, available: 0, disputed: 0 });
      await expect(wallets.captureDispute(posting(seller, 1), onceGuard(`${seller}-l2`))).rejects.toBeInstanceOf(
        InsufficientFundsError,
      );
    });
  });
});
