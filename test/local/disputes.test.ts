/**
 * Disputes (src/refunds/disputes.ts) against DynamoDB Local with a scripted PSP: applied from the PSP's state, each
 * consequence once whatever the order and number of events; a dispute left half done (a failure midway) is finished by
 * the refund janitor; shares follow what remains of each order after refunds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTables, type LocalDynamo, startDynamoDbLocal } from '../../local/dynamodb';
import { freePort } from '../../local/processes';
import { tableSchemas } from '../../src/core/table-schemas';
import { LedgerTable } from '../../src/ledger/ledger-table';
import { accounts, signedAmount } from '../../src/ledger/postings';
import { Wallets } from '../../src/ledger/wallets';
import type { PspDispute, RefundsPsp } from '../../src/psp/refund-types';
import { applyDispute } from '../../src/refunds/disputes';
import { runRefundJanitor } from '../../src/refunds/janitor';
import type { RefundDeps } from '../../src/refunds/ports';
import type { RefundableOrder } from '../../src/refunds/refund';
import { RefundsTable } from '../../src/refunds/refunds-table';

jest.setTimeout(120_000);

const T = { wallets: 'DisputeTestWallets', refunds: 'DisputeTestRefunds', ledger: 'DisputeTestLedger' };
let dynamo: LocalDynamo;
let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'disputes-'));
  dynamo = await startDynamoDbLocal({ host: '127.0.0.1', port: await freePort('127.0.0.1'), dataDir, inMemory: true });
  await ensureTables(dynamo.client, [
    { schema: tableSchemas.wallets, name: T.wallets },
    { schema: tableSchemas.refunds, name: T.refunds },
    { schema: tableSchemas.ledger, name: T.ledger },
  ]);
  doc = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
});

afterAll(async () => {
  doc?.destroy();
  await dynamo?.stop();
});

let n = 0;

function setup(orders: { seller: string; amount: number }[]) {
  const id = `${++n}_${Math.random().toString(36).slice(2, 6)}`;
  const paymentId = `pay_${id}`;
  const wallets = new Wallets(doc, T.wallets);
  const ledger = new LedgerTable(doc, T.ledger);
  const refunds = new RefundsTable(doc, T.refunds);
  const state: PspDispute = {
    disputeId: `dp_${id}`,
    status: 'needs_response',
    amountMinor: orders.reduce((s, o) => s + o.amount, 0),
    currency: 'EUR',
    reason: 'fraudulent',
    paymentIntent: `pi_${id}`,
    paymentId,
    withdrawn: { amountMinor: orders.reduce((s, o) => s + o.amount, 0), feeMinor: 1500 },
    reinstated: false,
  };
  const psp: RefundsPsp = {
    refund: async () => {
      throw new Error('not used');
    },
    retrieveRefund: async () => {
      throw new Error('not used');
    },
    findRefunds: async () => [],
    retrieveDispute: async () => structuredClone(state),
  };
  const payment: RefundableOrder[] = orders.map((o, i) => ({
    payment_id: paymentId,
    payment_order_id: `po_${id}_${i}`,
    seller_account: `${o.seller}_${id}`,
    currency: 'EUR',
    amount_minor: o.amount,
    fee_minor: 0,
    status: 'SUCCESS',
    psp_reference: `pi_${id}`,
  }));
  const deps: RefundDeps = {
    refunds,
    wallets,
    ledger,
    psp,
    tasks: { succeed: async () => true },
    workflow: { start: async () => {} },
    orders: async (p) => (p === paymentId ? payment : undefined),
    settings: { staleAfterSeconds: 0, pspListLagSeconds: 0 },
  };
  return { deps, state, payment, paymentId, wallets, ledger };
}

/** Credits each order's seller as the pay-in does (pending), books it, and makes it available. */
async function paid(ctx: ReturnType<typeof setup>) {
  for (const order of ctx.payment) {
    await ctx.wallets.creditPending(
      { seller_account: order.seller_account, currency: 'EUR', amount_minor: order.amount_minor },
      {
        source_id: order.payment_order_id,
        payment_id: ctx.paymentId,
        psp_reference: order.psp_reference ?? '',
        created_at: new Date().toISOString(),
      },
    );
    await ctx.ledger.appendOnce({
      transaction_id: `payin:${order.payment_order_id}`,
      reference: ctx.paymentId,
      description: 'pay-in',
      entries: [
        { account: accounts.pspClearing, direction: 'DEBIT', amount_minor: order.amount_minor, currency: 'EUR' },
        {
          account: accounts.sellerPayable(order.seller_account),
          direction: 'CREDIT',
          amount_minor: order.amount_minor,
          currency: 'EUR',
        },
      ],
    });
    await ctx.wallets.makeAvailable(order.payment_order_id);
  }
}

async function expectWalletsEqualLedger(ctx: ReturnType<typeof setup>) {
  const entries = await ctx.ledger.entriesFor(ctx.paymentId);
  for (const order of ctx.payment) {
    const [wallet] = await ctx.wallets.balances(order.seller_account);
    const payable = entries
      .filter((e) => e.account === accounts.sellerPayable(order.seller_account))
      .reduce((s, e) => s - signedAmount(e), 0);
    expect(wallet?.balance_minor).toBe(payable);
    expect(
      (wallet?.pending_minor ?? 0) +
        (wallet?.available_minor ?? 0) +
        (wallet?.held_minor ?? 0) +
        (wallet?.disputed_minor ?? 0),
    ).toBe(wallet?.balance_minor);
  }
}

describe('Disputes on DynamoDB Local', () => {
  it('open: shares set aside by order amount, withdrawal and fee booked; applied again: nothing more', async () => {
    const ctx = setup([
      { seller: 'a', amount: 3000 },
      { seller: 'b', amount: 1000 },
    ]);
    await paid(ctx);
    ctx.state.amountMinor = 2000;
    ctx.state.withdrawn = { amountMinor: 2000, feeMinor: 1500 };
    await applyDispute(ctx.deps, ctx.state.disputeId);
    await applyDispute(ctx.deps, ctx.state.disputeId);
    const [a] = await ctx.wallets.balances(ctx.payment[0]!.seller_account);
    const [b] = await ctx.wallets.balances(ctx.payment[1]!.seller_account);
    expect(a).toMatchObject({ available_minor: 1500, disputed_minor: 1500, balance_minor: 3000 });
    expect(b).toMatchObject({ available_minor: 500, disputed_minor: 500, balance_minor: 1000 });
    const txns = new Set((await ctx.ledger.entriesFor(ctx.paymentId)).map((e) => e.transaction_id));
    expect(txns.has(`dispute:${ctx.state.disputeId}:withdrawal`)).toBe(true);
    expect((await ctx.deps.refunds.getDispute(ctx.state.disputeId))?.dispute_status).toBe('OPEN');
    await expectWalletsEqualLedger(ctx);
  });

  it('splits a dispute by what remains of each order after its refunds: a refunded sale bears nothing', async () => {
    const ctx = setup([
      { seller: 'r', amount: 3000 },
      { seller: 's', amount: 1000 },
    ]);
    await paid(ctx);
    const refunded = ctx.payment[0]!;
    const now = new Date().toISOString();
    await ctx.deps.refunds.create(
      {
        refund_id: `rf_${refunded.payment_order_id}`,
        payment_id: ctx.paymentId,
        payment_order_id: refunded.payment_order_id,
        seller_account: refunded.seller_account,
        currency: 'EUR',
        amount_minor: 3000,
        fee_share_minor: 0,
        reason: 'requested_by_customer',
        psp_reference: refunded.psp_reference ?? '',
        status: 'SUCCEEDED',
        wallet_debited: false,
        refund_booked: false,
        reversal_booked: false,
        wallet_restored: false,
        refundable_released: false,
        reversal_done: false,
        created_at: now,
        updated_at: now,
      },
      refunded,
      0,
      0,
    );
    ctx.state.amountMinor = 1000;
    ctx.state.withdrawn = { amountMinor: 1000, feeMinor: 1500 };
    await applyDispute(ctx.deps, ctx.state.disputeId);
    const dispute = await ctx.deps.refunds.getDispute(ctx.state.disputeId);
    expect(dispute?.shares.map((share) => share.amount_minor)).toEqual([0, 1000]);
    expect((await ctx.wallets.balances(ctx.payment[1]!.seller_account))[0]).toMatchObject({ disputed_minor: 1000 });
  });

  it('lost, applied half-way (a failure after the loss was booked): the janitor finishes it, once', async () => {
    const ctx = setup([{ seller: 'c', amount: 2500 }]);
    await paid(ctx);
    await applyDispute(ctx.deps, ctx.state.disputeId);
    ctx.state.status = 'lost';
    const capture = ctx.wallets.captureDispute.bind(ctx.wallets);
    ctx.wallets.captureDispute = async () => {
      throw new Error('the process died here');
    };
    await expect(applyDispute(ctx.deps, ctx.state.disputeId)).rejects.toThrow('the process died here');
    ctx.wallets.captureDispute = capture;
    expect((await ctx.deps.refunds.getDispute(ctx.state.disputeId))?.settled).not.toBe(true);
    const report = await runRefundJanitor(ctx.deps);
    expect(report.disputesFailed).toEqual([]);
    const dispute = await ctx.deps.refunds.getDispute(ctx.state.disputeId);
    expect(dispute).toMatchObject({ dispute_status: 'LOST', settled: true });
    const [wallet] = await ctx.wallets.balances(ctx.payment[0]!.seller_account);
    expect(wallet).toMatchObject({ balance_minor: 0, disputed_minor: 0, available_minor: 0 });
    await runRefundJanitor(ctx.deps);
    expect((await ctx.wallets.balances(ctx.payment[0]!.seller_account))[0]).toMatchObject({ balance_minor: 0 });
    await expectWalletsEqualLedger(ctx);
  });

  it('won after being seen lost by an older read: a decided dispute is never reopened, and won gives the share back', async () => {
    const ctx = setup([{ seller: 'd', amount: 1200 }]);
    await paid(ctx);
    ctx.state.status = 'won';
    ctx.state.reinstated = true;
    await applyDispute(ctx.deps, ctx.state.disputeId);
    // An older delivery, read before the decision, arrives last.
    ctx.state.status = 'needs_response';
    await applyDispute(ctx.deps, ctx.state.disputeId);
    expect((await ctx.deps.refunds.getDispute(ctx.state.disputeId))?.dispute_status).toBe('WON');
    expect((await ctx.wallets.balances(ctx.payment[0]!.seller_account))[0]).toMatchObject({
      balance_minor: 1200,
      disputed_minor: 0,
      available_minor: 1200,
    });
    await expectWalletsEqualLedger(ctx);
  });
});
