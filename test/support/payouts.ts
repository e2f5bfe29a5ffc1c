/** Helpers of the pay-out tests: sellers onboarded at the PSP simulator, pay-ins, the money clock, waits. */
import { call, checkout, stackInfo, unique, waitForStatus } from './api-client';
import type { StackInfo } from './local-stack-process';

export type SellerView = {
  seller_account: string;
  psp_account_id: string | null;
  payouts_enabled: boolean;
  requirements: string[];
  payouts_paused: { reason: string; since: string | null } | null;
  onboarding_url?: string;
};
export type PayoutView = {
  payout_id: string;
  seller_account: string;
  status: string;
  amount: string;
  currency: string;
  transfer_id: string | null;
  psp_payout_id: string | null;
  failure_code: string | null;
  failure_message: string | null;
  reversal_complete: boolean | null;
};
export type WalletView = {
  seller_account: string;
  balances: { currency: string; amount: string; pending: string; available: string; reserved: string }[];
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `done` holds (bounded, generous for a busy machine). */
export async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await sleep(200);
  }
  throw new Error(`${what}: not reached in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

export async function pspAdmin<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  stack: StackInfo = stackInfo(),
) {
  const response = await fetch(`${stack.urls.psp}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Moves the PSP's money clock: funds become available, payouts progress. */
export const advanceClock = (seconds: number) => pspAdmin('POST', '/__admin/clock/advance', { seconds });
export const DAYS = 86_400;

export const getSeller = async (seller: string) => (await call<SellerView>('GET', `/v1/sellers/${seller}`)).body;
export const getWallet = async (seller: string) => (await call<WalletView>('GET', `/v1/wallets/${seller}`)).body;
export const getPayout = async (id: string) => (await call<PayoutView>('GET', `/v1/payouts/${id}`)).body;
export const balanceOf = async (seller: string, currency = 'EUR') =>
  (await getWallet(seller)).balances.find((b) => b.currency === currency);

/** A seller created through the API, its connected account enabled at the PSP (as onboarding would). */
export async function onboardedSeller(prefix = 'seller'): Promise<{ seller: string; account: string }> {
  const seller = unique(prefix);
  const put = await call<SellerView>('PUT', `/v1/sellers/${seller}`, {
    body: { country: 'FR', default_currency: 'EUR', email: `${seller}@example.com` },
  });
  if (put.status !== 201 || !put.body.psp_account_id)
    throw new Error(`PUT seller: ${put.status} ${JSON.stringify(put.body)}`);
  const account = put.body.psp_account_id;
  await pspAdmin('POST', `/__admin/accounts/${account}`, { payouts_enabled: true });
  // The PSP's account.updated webhook tells us.
  await until(
    'payouts enabled',
    () => getSeller(seller),
    (s) => s.payouts_enabled,
  );
  return { seller, account };
}

/** A paid checkout with one order per (seller, amount). */
export async function payIn(orders: { seller: string; amount: string }[]): Promise<string> {
  const accepted = await call<{ payment_id: string }>('POST', '/v1/payments', { body: checkout({ sellers: orders }) });
  if (accepted.status !== 202)
    throw new Error(`POST /v1/payments: ${accepted.status} ${JSON.stringify(accepted.body)}`);
  const payment = await waitForStatus(accepted.body.payment_id, ['SUCCESS', 'FAILED']);
  if (payment.status !== 'SUCCESS') throw new Error(`pay-in ${payment.payment_id} ${payment.status}`);
  return payment.payment_id;
}

/** Advances the clock past the availability delay and waits until the seller's money is available. */
export async function makeAvailable(seller: string, expected: string, currency = 'EUR') {
  await advanceClock(2 * DAYS);
  return until(
    `${seller} available ${expected}`,
    () => balanceOf(seller, currency),
    (b) => b?.available === expected,
  );
}

export async function requestPayout(body: Record<string, unknown>, idempotencyKey?: string) {
  return call<
    PayoutView & {
      error?: {
        code: string;
        message: string;
        available?: string;
        reason?: string;
        errors?: { field: string; message: string }[];
      };
    }
  >('POST', '/v1/payouts', { body, ...(idempotencyKey ? { idempotencyKey } : {}) });
}

export const waitForPayout = (id: string, statuses: string[], timeoutMs = 60_000) =>
  until(
    `payout ${id} ${statuses.join('/')}`,
    () => getPayout(id),
    (p) => statuses.includes(p.status),
    timeoutMs,
  );
