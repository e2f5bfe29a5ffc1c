/** A client of the local stack for tests: plain HTTP, as a user of the API would call it. */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiKeys } from '../../src/api/api-keys';
import { tableSchemas } from '../../src/core/table-schemas';
import type { StackInfo } from './local-stack-process';

export function stackInfo(): StackInfo {
  const raw = process.env.LOCAL_STACK;
  if (!raw) throw new Error('LOCAL_STACK is not set: run the integration project (its global setup starts the stack)');
  return JSON.parse(raw) as StackInfo;
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = Record<string, unknown>>(
  method: string,
  path: string,
  options: {
    body?: unknown;
    key?: string | null;
    headers?: Record<string, string>;
    base?: string;
    /** Idempotency-Key of a POST: a fresh one by default, `null` to send none. */
    idempotencyKey?: string | null;
    /** Another stack than the shared one of the integration tests. */
    stack?: StackInfo;
  } = {},
): Promise<ApiResponse<T>> {
  const info = options.stack ?? stackInfo();
  const headers: Record<string, string> = { ...options.headers };
  if (method === 'POST' && options.idempotencyKey !== null) {
    headers['idempotency-key'] = options.idempotencyKey ?? randomUUID();
  }
  const key = options.key === undefined ? info.devApiKey : options.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${options.base ?? info.urls.api}${path}`, {
    method,
    headers,
    body:
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: body as T, headers: response.headers };
}

const reviewerKeys = new Map<string, Promise<string>>();

/**
 * A key of the stack other than the dev key, with `reviews:write` and `payments:read`: a risk review needs a key
 * other than the one that created the payment (four eyes), and the dev key creates the tests' payments. Created once
 * per stack (and test file) in the stack's DynamoDB, as `npm run keys -- create` would.
 */
export function reviewerKey(stack: StackInfo = stackInfo()): Promise<string> {
  let key = reviewerKeys.get(stack.urls.dynamodb);
  if (!key) {
    const client = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: stack.urls.dynamodb,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }),
    );
    key = new ApiKeys(client, tableSchemas.apiKeys.id)
      .issue('integration tests: reviewer', { scopes: ['reviews:write', 'payments:read'] })
      .then((issued) => issued.secretKey)
      .finally(() => client.destroy());
    reviewerKeys.set(stack.urls.dynamodb, key);
  }
  return key;
}

export const unique = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;

export function checkout(options: {
  sellers: { seller: string; amount: string }[];
  currency?: string;
  paymentMethod?: string;
  country?: string;
}) {
  const id = unique('chk');
  return {
    checkout_id: id,
    buyer: { id: unique('buyer'), country: options.country ?? 'FR' },
    currency: options.currency ?? 'EUR',
    payment_method: options.paymentMethod ?? 'pm_card_visa',
    payment_orders: options.sellers.map((s, i) => ({
      payment_order_id: `${id}_po${i + 1}`,
      seller_account: s.seller,
      amount: s.amount,
    })),
  };
}

export type PaymentView = {
  payment_id: string;
  status: string;
  status_reason: string | null;
  psp_reference: string | null;
  amount: string;
  currency: string;
  payment_orders: {
    payment_order_id: string;
    seller_account: string;
    status: string;
    amount: string;
    fee: string;
    wallet_updated: boolean;
    ledger_updated: boolean;
  }[];
};

/** Polls GET /v1/payments/{id} until the payment reaches one of `statuses` (bounded, generous for a busy machine). */
export async function waitForStatus(
  paymentId: string,
  statuses: string[],
  timeoutMs = 60_000,
  stack?: StackInfo,
): Promise<PaymentView> {
  const deadline = Date.now() + timeoutMs;
  let last: ApiResponse<PaymentView> | undefined;
  while (Date.now() < deadline) {
    last = await call<PaymentView>('GET', `/v1/payments/${paymentId}`, { stack });
    if (last.status === 200 && statuses.includes(last.body.status)) return last.body;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `payment ${paymentId} did not reach ${statuses.join('/')} in ${timeoutMs} ms; last: ${JSON.stringify(last?.body)}`,
  );
}
