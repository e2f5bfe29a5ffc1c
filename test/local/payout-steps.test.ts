/**
 * The pay-out's rules (src/payout) against DynamoDB Local in memory, with a scripted PSP: reserve with the payout
 * record in one transaction, transfer refused / unknown / made, payout paid / failed (also after paid), the
 * janitor settling UNKNOWN from the PSP's record, concurrent requests never reserving more than available, and
 * pending funds made available only when the PSP says so. After each scenario the seller's wallet equals its
 * payable account in the ledger and balance = pending + available + held.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTables, type LocalDynamo, startDynamoDbLocal } from '../../local/dynamodb';
import { freePort } from '../../local/processes';
import { PspOutcomeUnknownError } from '../../src/core/errors';
import { tableSchemas } from '../../src/core/table-schemas';
import { LedgerTable } from '../../src/ledger/ledger-table';
import { accounts, signedAmount } from '../../src/ledger/postings';
import { Wallets } from '../../src/ledger/wallets';
import { AmountAboveAvailableError, PayoutsDisabledError } from '../../src/payout/errors';
import { releaseAvailableFunds } from '../../src/payout/funds';
import { runPayoutJanitor } from '../../src/payout/janitor';
import { PayoutsTable } from '../../src/payout/payouts-table';
import type { PayoutDeps } from '../../src/payout/ports';
import { requestPayout } from '../../src/payout/request-payout';
import { SellersTable } from '../../src/payout/sellers-table';
import { applyPspPayout, sendPayout, transfer } from '../../src/payout/steps';
import type {
  ConnectPsp,
  FundsAvailability,
  MoneyMoveResult,
  PspPayout,
  PspTransfer,
} from '../../src/psp/connect-types';

jest.setTimeout(120_000);

const T = {
  wallets: 'PayoutTestWallets',
  payouts: 'PayoutTestPayouts',
  sellers: 'PayoutTestSellers',
  ledger: 'PayoutTestLedger',
};
const EUR = 'EUR';

/** A PSP whose next answers a test scripts; it records every call and keeps its own transfers and payouts. */
class ScriptedPsp implements ConnectPsp {
  transfers: (PspTransfer & { group: string; key: string })[] = [];
  payouts: (PspPayout & { key: string })[] = [];
  reversals: string[] = [];
  nextTransfer: 'ok' | 'refuse' | 'unknown-made' | 'unknown-not-made' = 'ok';
  nextPayout: 'ok' | 'refuse' = 'ok';
  available = new Map<string, boolean>();

  async createAccount(): Promise<never> {
    throw new Error('not used');
  }
  async updateAccountEmail(): Promise<never> {
    throw new Error('not used');
  }
  async retrieveAccount(): Promise<never> {
    throw new Error('not used');
  }
  async onboardingLink(): Promise<never> {
    throw new Error('not used');
  }
  async fundsAvailability(ref: string): Promise<FundsAvailability | undefined> {
    if (!this.available.has(ref)) return undefined;
    return { balanceTransaction: `txn_${ref}`, available: this.available.get(ref) === true, availableOn: 0 };
  }
  async transfer(request: Parameters<ConnectPsp['transfer']>[0]): Promise<MoneyMoveResult<PspTransfer>> {
    const existing = this.transfers.find((t) => t.key === request.idempotencyKey);
    const mode = this.nextTransfer;
    this.nextTransfer = 'ok';
    if (mode === 'refuse') return { outcome: 'REFUSED', code: 'balance_insufficient', message: 'short' };
    if (mode === 'unknown-not-made') throw new PspOutcomeUnknownError('500');
    const made = existing ?? {
      transferId: `tr_${this.transfers.length + 1}`,
      amountMinor: request.amountMinor,
      currency: request.currency,
      destination: request.destination,
      amountReversedMinor: 0,
      group: request.transferGroup,
      key: request.idempotencyKey,
    };
    if (!existing) this.transfers.push(made);
    if (mode === 'unknown-made') throw new PspOutcomeUnknownError('500 after the transfer');
    return { outcome: 'CREATED', value: made };
  }
  async findTransfers(group: string) {
    return this.transfers.filter((t) => t.group === group);
  }
  async reverseTransfer(transferId: string, request: { idempotencyKey: string }) {
    if (!this.reversals.includes(request.idempotencyKey)) this.reversals.push(request.idempotencyKey);
    return { outcome: 'CREATED' as const, value: { reversalId: `trr_${transferId}` } };
  }
  async payout(request: Parameters<ConnectPsp['payout']>[0]): Promise<MoneyMoveResult<PspPayout>> {
    const mode = this.nextPayout;
    this.nextPayout = 'ok';
    if (mode === 'refuse') return { outcome: 'REFUSED', code: 'payouts_not_allowed', message: 'disabled' };
    const existing = this.payouts.find((p) => p.key === request.idempotencyKey);
    const made = existing ?? {
      payoutId: `po_psp_${this.payouts.length + 1}`,
      status: 'pending' as const,
      amountMinor: request.amountMinor,
      currency: request.currency,
      ourPayoutId: request.metadata.payout_id,
      key: request.idempotencyKey,
    };
    if (!existing) this.payouts.push(made);
    return { outcome: 'CREATED', value: made };
  }
  async retrievePayout(_account: string, id: string) {
    const found = this.payouts.find((p) => p.payoutId === id);
    if (!found) throw new Error(`no payout ${id}`);
    return found;
  }
  async findPayouts(_account: string, ours: string) {
    return this.payouts.filter((p) => p.ourPayoutId === ours);
  }
}

let dynamo: LocalDynamo;
let doc: DynamoDBDocumentClient;
let psp: ScriptedPsp;
let deps: PayoutDeps;
let started: string[];
let wallets: Wallets;
let ledger: LedgerTable;

beforeAll(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payout-steps-'));
  dynamo = await startDynamoDbLocal({ host: '127.0.0.1', port: await freePort('127.0.0.1'), dataDir, inMemory: true });
  await ensureTables(dynamo.client, [
    { schema: tableSchemas.wallets, name: T.wallets },
    { schema: tableSchemas.payouts, name: T.payouts },
    { schema: tableSchemas.sellers, name: T.sellers },
    { schema: tableSchemas.ledger, name: T.ledger },
  ]);
  doc = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
  wallets = new Wallets(doc, T.wallets);
  ledger = new LedgerTable(doc, T.ledger);
});

afterAll(async () => {
  doc?.destroy();
  await dynamo?.stop();
});

beforeEach(() => {
  psp = new ScriptedPsp();
  started = [];
  deps = {
    sellers: new SellersTable(doc, T.sellers),
    payouts: new PayoutsTable(doc, T.payouts),
    wallets,
    ledger,
    psp,
    tasks: { succeed: async () => true },
    workflow: {
      start: async (id) => {
        started.push(id);
      },
    },
    settings: {
      minimumsMinor: { EUR: 1000 },
      staleAfterSeconds: 0,
      pspListLagSeconds: 0,
      onboardingReturnUrl: 'https://marketplace.test/r',
      onboardingRefreshUrl: 'https://marketplace.test/f',
    },
  };
});

let n = 0;
/** A seller with a connected account that may be paid out, and `available` minor units in its wallet. */
async function seller(available: number, enabled = true): Promise<string> {
  const id = `seller_${++n}_${Math.random().toString(36).slice(2, 6)}`;
  const now = new Date().toISOString();
  await deps.sellers.create({
    seller_account: id,
    country: 'FR',
    default_currency: EUR,
    email: 's@example.com',
    payouts_enabled: false,
    requirements: [],
    created_at: now,
    updated_at: now,
  });
  await deps.sellers.setAccount(id, {
    accountId: `acct_${id}`,
    payoutsEnabled: enabled,
    detailsSubmitted: enabled,
    requirements: enabled ? [] : ['external_account'],
    manualPayouts: true,
  });
  // The pay-in's way in: a pending credit and its ledger posting, then made available.
  await wallets.creditPending(
    { seller_account: id, currency: EUR, amount_minor: available },
    { source_id: `po_${id}`, payment_id: `pay_${id}`, psp_reference: `pi_${id}`, created_at: now },
  );
  await ledger.appendOnce({
    transaction_id: `payin:po_${id}`,
    reference: `pay_${id}`,
    description: 'pay-in',
    entries: [
      { account: accounts.pspClearing, direction: 'DEBIT', amount_minor: available, currency: EUR },
      { account: accounts.sellerPayable(id), direction: 'CREDIT', amount_minor: available, currency: EUR },
    ],
  });
  psp.available.set(`pi_${id}`, true);
  await releaseAvailableFunds(deps, { seller_account: id });
  return id;
}

async function wallet(id: string) {
  const [balance] = await wallets.balances(id);
  if (!balance) throw new Error(`no wallet for ${id}`);
  return balance;
}

/** The seller's payable balance in the ledger (credit positive), over every reference the test booked. */
async function payable(id: string, references: string[]): Promise<number> {
  let sum = 0;
  for (const ref of references) {
    for (const entry of await ledger.entriesFor(ref)) {
      if (entry.account === accounts.sellerPayable(id)) sum -= signedAmount(entry);
    }
  }
  return sum;
}

async function expectConsistent(id: string, payoutIds: string[]) {
  const w = await wallet(id);
  expect(w.pending_minor + w.available_minor + w.held_minor + w.disputed_minor).toBe(w.balance_minor);
  expect(w.available_minor).toBeGreaterThanOrEqual(0);
  expect(await payable(id, [`pay_${id}`, ...payoutIds])).toBe(w.balance_minor);
}

const order = (id: string, amount?: number, payoutId = `pout_${id}_${Math.random().toString(36).slice(2, 8)}`) => ({
  payout_id: payoutId,
  seller_account: id,
  currency: EUR,
  ...(amount === undefined ? {} : { amount_minor: amount }),
  trigger: 'request' as const,
});

describe('Pay-out steps on DynamoDB Local', () => {
  it('funds credited as pending become available only when the PSP says so', async () => {
    const id = `seller_pending_${Date.now()}`;
    const now = new Date().toISOString();
    await wallets.creditPending(
      { seller_account: id, currency: EUR, amount_minor: 700 },
      { source_id: `po_${id}`, payment_id: `pay_${id}`, psp_reference: `pi_${id}`, created_at: now },
    );
    psp.available.set(`pi_${id}`, false);
    expect(await releaseAvailableFunds(deps, { seller_account: id })).toEqual({ checked: 1, released: 0, failed: 0 });
    expect(await wallet(id)).toMatchObject({ pending_minor: 700, available_minor: 0, balance_minor: 700 });
    psp.available.set(`pi_${id}`, true);
    expect(await releaseAvailableFunds(deps, {})).toMatchObject({ released: 1 });
    // Twice changes nothing: the funds record left the pending index with the move.
    expect(await releaseAvailableFunds(deps, { seller_account: id })).toEqual({ checked: 0, released: 0, failed: 0 });
    expect(await wallet(id)).toMatchObject({ pending_minor: 0, available_minor: 700, balance_minor: 700 });
  });

  it('the janitor makes funds available when the PSP says so, without the webhook', async () => {
    const id = `seller_janitor_funds_${Date.now()}`;
    await wallets.creditPending(
      { seller_account: id, currency: EUR, amount_minor: 300 },
      {
        source_id: `po_${id}`,
        payment_id: `pay_${id}`,
        psp_reference: `pi_${id}`,
        created_at: new Date().toISOString(),
      },
    );
    psp.available.set(`pi_${id}`, true);
    const report = await runPayoutJanitor(deps);
    expect(report.fundsReleased).toBeGreaterThanOrEqual(1);
    expect(await wallet(id)).toMatchObject({ pending_minor: 0, available_minor: 300 });
  });

  it('refuses more than available (nothing reserved) and a seller whose payouts are disabled', async () => {
    const id = await seller(5000);
    await expect(requestPayout(deps, order(id, 5001))).rejects.toMatchObject({
      name: 'AmountAboveAvailableError',
      availableMinor: 5000,
    });
    expect(await wallet(id)).toMatchObject({ available_minor: 5000, held_minor: 0 });
    const disabled = await seller(5000, false);
    await expect(requestPayout(deps, order(disabled))).rejects.toBeInstanceOf(PayoutsDisabledError);
    expect(started).toEqual([]);
  });

  it('pays out: reserved, transferred (captured and booked once), in transit, paid', async () => {
    const id = await seller(5000);
    const { payout } = await requestPayout(deps, order(id, 3000));
    expect(started).toEqual([payout.payout_id]);
    expect(await wallet(id)).toMatchObject({ available_minor: 2000, held_minor: 3000, balance_minor: 5000 });
    expect((await transfer(deps, payout.payout_id)).status).toBe('TRANSFERRED');
    expect((await transfer(deps, payout.payout_id)).status).toBe('TRANSFERRED');
    expect(psp.transfers).toHaveLength(1);
    expect(await wallet(id)).toMatchObject({ available_minor: 2000, held_minor: 0, balance_minor: 2000 });
    expect((await sendPayout(deps, payout.payout_id)).status).toBe('IN_TRANSIT');
    const [pspPayout] = psp.payouts;
    if (!pspPayout) throw new Error('no PSP payout');
    pspPayout.status = 'paid';
    const stored = await deps.payouts.get(payout.payout_id);
    expect((await applyPspPayout(deps, stored!, pspPayout)).status).toBe('PAID');
    await expectConsistent(id, [payout.payout_id]);
  });

  it('a refused transfer releases the hold and fails the payout, in one transaction', async () => {
    const id = await seller(5000);
    const { payout } = await requestPayout(deps, order(id));
    psp.nextTransfer = 'refuse';
    const after = await transfer(deps, payout.payout_id);
    expect(after.status).toBe('FAILED');
    expect(await deps.payouts.get(payout.payout_id)).toMatchObject({ failure_code: 'balance_insufficient' });
    expect(await wallet(id)).toMatchObject({ available_minor: 5000, held_minor: 0, balance_minor: 5000 });
    await expectConsistent(id, [payout.payout_id]);
  });

  it('a transfer 500 makes the payout UNKNOWN; the janitor finds the PSP transfer and goes on (one transfer)', async () => {
    const id = await seller(5000);
    const { payout } = await requestPayout(deps, order(id));
    psp.nextTransfer = 'unknown-made';
    expect((await transfer(deps, payout.payout_id)).status).toBe('UNKNOWN');
    const report = await runPayoutJanitor(deps, new Date(Date.now() + 1000));
    expect(report.needPerson).toEqual([]);
    expect((await deps.payouts.get(payout.payout_id))?.status).toBe('IN_TRANSIT');
    expect(psp.transfers.filter((t) => t.group === payout.payout_id)).toHaveLength(1);
    await expectConsistent(id, [payout.payout_id]);
  });

  it('a transfer 500 with no transfer at the PSP: the janitor fails the payout and releases the hold', async () => {
    const id = await seller(5000);
    const { payout } = await requestPayout(deps, order(id));
    psp.nextTransfer = 'unknown-not-made';
    expect((await transfer(deps, payout.payout_id)).status).toBe('UNKNOWN');
    await runPayoutJanitor(deps, new Date(Date.now() + 1000));
    expect(await deps.payouts.get(payout.payout_id)).toMatchObject({ status: 'FAILED', failure_code: 'psp_error' });
    expect(await wallet(id)).toMatchObject({ available_minor: 5000, held_minor: 0 });
    expect(psp.transfers).toHaveLength(0);
  });

  it('a payout that fails after paid: the transfer reversed once, the wallet restored, the seller paused', async () => {
    const id = await seller(5000);
    const { payout } = await requestPayout(deps, order(id));
    await transfer(deps, payout.payout_id);
    await sendPayout(deps, payout.payout_id);
    const pspPayout = psp.payouts[0]!;
    pspPayout.status = 'paid';
    await applyPspPayout(deps, (await deps.payouts.get(payout.payout_id))!, pspPayout);
    pspPayout.status = 'failed';
    pspPayout.failureCode = 'account_closed';
    // Applied twice (a duplicated webhook and the janitor): reversed and restored once.
    await applyPspPayout(deps, (await deps.payouts.get(payout.payout_id))!, pspPayout);
    await applyPspPayout(deps, (await deps.payouts.get(payout.payout_id))!, pspPayout);
    expect(await deps.payouts.get(payout.payout_id)).toMatchObject({
      status: 'FAILED',
      failure_code: 'account_closed',
      failure_message: 'The bank account has been closed.',
      reversal_done: true,
    });
    expect(psp.reversals).toEqual([`${payout.payout_id}:transfer-reversal`]);
    expect(await wallet(id)).toMatchObject({ available_minor: 5000, held_minor: 0, balance_minor: 5000 });
    expect((await deps.sellers.get(id))?.payouts_paused_reason).toMatch(/account has been closed/);
    await expect(requestPayout(deps, order(id))).rejects.toBeInstanceOf(PayoutsDisabledError);
    await expectConsistent(id, [payout.payout_id]);
  });

  it('a payout refused by the PSP (payouts disabled) undoes the transfer', async () => {
    const id = await seller(4000);
    const { payout } = await requestPayout(deps, order(id));
    await transfer(deps, payout.payout_id);
    psp.nextPayout = 'refuse';
    expect((await sendPayout(deps, payout.payout_id)).status).toBe('FAILED');
    expect(psp.reversals).toHaveLength(1);
    expect(await wallet(id)).toMatchObject({ available_minor: 4000, held_minor: 0, balance_minor: 4000 });
    await expectConsistent(id, [payout.payout_id]);
  });

  it('20 concurrent requests for one seller never reserve more than available', async () => {
    const id = await seller(10_000);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => requestPayout(deps, order(id, 1500))));
    const made = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(made).toHaveLength(6);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AmountAboveAvailableError);
    expect(await wallet(id)).toMatchObject({ available_minor: 1000, held_minor: 9000, balance_minor: 10_000 });
  });

  it('the same payout id twice is one payout', async () => {
    const id = await seller(3000);
    const o = order(id, 1000);
    const [a, b] = await Promise.all([requestPayout(deps, o), requestPayout(deps, o)]);
    expect(a.payout.payout_id).toBe(b.payout.payout_id);
    expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
    expect(await wallet(id)).toMatchObject({ available_minor: 2000, held_minor: 1000 });
  });
});
