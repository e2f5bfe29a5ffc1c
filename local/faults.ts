/**
 * Crash injection for the local stack's fault tests, in the local Lambda runtime and nowhere in the deployed code
 * (test/infra/production-bundles.test.ts checks the production bundles). With LOCAL_FAULT_INJECTION=true, an
 * invocation of CreditWallet or AppendLedger for an order whose seller account starts with `fault_crash_<point>`
 * fails with a TransientError after the real handler returned, once per order and process: what Step Functions
 * sees when a function crashes right after its write. The workflow's Retry runs the step again, which must change
 * nothing.
 *
 * The pay-out's Transfer step has two points, for payouts whose seller starts with `fault_crash_<point>`:
 * `after-transfer` (once per payout, after the handler returned: the retry must not transfer twice) and
 * `before-transfer` (every invocation, before the handler: the process dies after the reserve, every time, so the
 * workflow gives up and the payout janitor must finish it). The refund's DebitAndBook step has `after-wallet-debit`
 * (once per refund, after the handler returned), for refunds of orders whose seller starts with
 * `fault_crash_after-wallet-debit`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import type { FunctionId } from '../lambdas/catalog';
import { loadRuntimeConfig, tableName } from '../src/core/config';
import { TransientError } from '../src/core/errors';
import { keys } from '../src/payin/payments-table';

export type CrashPoint = 'after-wallet-write' | 'after-ledger-write';
export type PayoutCrashPoint = 'after-transfer' | 'before-transfer' | 'after-wallet-debit';

/** The pay-out and refund functions that can crash, and where. */
export const PAYOUT_CRASH_POINTS: Partial<Record<FunctionId, PayoutCrashPoint[]>> = {
  Transfer: ['after-transfer', 'before-transfer'],
  DebitAndBook: ['after-wallet-debit'],
};

/** The functions that can crash, and where: right after the write of their step. */
export const CRASH_POINTS: Partial<Record<FunctionId, CrashPoint>> = {
  CreditWallet: 'after-wallet-write',
  AppendLedger: 'after-ledger-write',
};

export const FAULT_INJECTION_VAR = 'LOCAL_FAULT_INJECTION';

/**
 * Whether crash injection is on. Read here, in the local launcher layer (allowed to read the environment), and not
 * in src/core/config.ts: that module is in every production bundle, and no trace of crash injection may be
 * (test/infra/production-bundles.test.ts). Parsed as the configuration parses its flags, refusing anything else.
 */
export function faultInjectionEnabled(env: Record<string, string | undefined> = process.env): boolean {
  const raw = env[FAULT_INJECTION_VAR];
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new Error(`${FAULT_INJECTION_VAR} must be true or false, got '${raw}'`);
}

/** The seller account of a payment order, or undefined when there is no such order. */
export type SellerLookup = (paymentId: string, paymentOrderId: string) => Promise<string | undefined>;

let cached: { endpoint: string | undefined; client: DynamoDBDocumentClient } | undefined;

/** One client for the process, made again only if the stack's DynamoDB endpoint changed. */
function documentClient(region: string, endpoint: string | undefined): DynamoDBDocumentClient {
  if (!cached || cached.endpoint !== endpoint) {
    cached?.client.destroy();
    cached = { endpoint, client: DynamoDBDocumentClient.from(new DynamoDBClient({ region, endpoint })) };
  }
  return cached.client;
}

/**
 * Reads the order from the payments table with the functions' environment (which the local stack sets on
 * process.env before any invocation): the step event carries the order's id, not its seller.
 */
export const sellerFromPaymentsTable: SellerLookup = async (paymentId, paymentOrderId) => {
  const config = loadRuntimeConfig(process.env);
  const { Item } = await documentClient(config.region, config.endpoints.dynamodb).send(
    new GetCommand({
      TableName: tableName(config, 'payments'),
      Key: keys.order(paymentId, paymentOrderId),
      ProjectionExpression: 'seller_account',
      ConsistentRead: true,
    }),
  );
  return typeof Item?.seller_account === 'string' ? Item.seller_account : undefined;
};

/** The seller of a payout (the pay-out steps' event carries the payout id). */
export type PayoutSellerLookup = (payoutId: string) => Promise<string | undefined>;

export const sellerFromPayoutsTable: PayoutSellerLookup = async (id) => {
  const config = loadRuntimeConfig(process.env);
  const refund = id.startsWith('rf_');
  const { Item } = await documentClient(config.region, config.endpoints.dynamodb).send(
    new GetCommand({
      TableName: tableName(config, refund ? 'refunds' : 'payouts'),
      Key: refund ? { pk: `REFUND#${id}`, sk: 'REFUND' } : { pk: `PAYOUT#${id}`, sk: 'PAYOUT' },
      ProjectionExpression: 'seller_account',
      ConsistentRead: true,
    }),
  );
  return typeof Item?.seller_account === 'string' ? Item.seller_account : undefined;
};

export interface CrashInjectionOptions {
  /** Default: LOCAL_FAULT_INJECTION, read at every invocation. */
  enabled?: () => boolean;
  /** Default: the order's item in the payments table. */
  sellerOf?: SellerLookup;
  /** The (point, order) pairs that already crashed. Default: one set for the whole process. */
  crashed?: Set<string>;
  /** Default: the payout's item in the payouts table. */
  sellerOfPayout?: PayoutSellerLookup;
}

const crashedInThisProcess = new Set<string>();

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * The handler of function `id` as the local runtime calls it: unchanged for functions without a crash point; for
 * the others, it throws a TransientError after the handler returned, the first time it runs for a crashing order.
 */
export function withCrashInjection(id: FunctionId, handler: Handler, options: CrashInjectionOptions = {}): Handler {
  const payoutPoints = PAYOUT_CRASH_POINTS[id];
  if (payoutPoints) return withPayoutCrashInjection(id, payoutPoints, handler, options);
  const point = CRASH_POINTS[id];
  if (!point) return handler;
  const {
    enabled = faultInjectionEnabled,
    sellerOf = sellerFromPaymentsTable,
    crashed = crashedInThisProcess,
  } = options;
  return async (event, context) => {
    // Read before the handler runs, so an invalid setting fails the invocation before any write.
    if (!enabled()) return handler(event, context);
    const result = await handler(event, context);
    const { payment_id: paymentId, payment_order_id: orderId } = (event ?? {}) as Record<string, unknown>;
    if (typeof paymentId !== 'string' || typeof orderId !== 'string') return result;
    const key = `${point}:${orderId}`;
    if (crashed.has(key)) return result;
    let seller: string | undefined;
    try {
      seller = await sellerOf(paymentId, orderId);
    } catch (error) {
      // The step itself succeeded: a failed lookup only means no crash this time (the test that expects one fails).
      process.stderr.write(
        `crash injection: cannot read the seller of order ${orderId}: ${(error as Error).message}\n`,
      );
      return result;
    }
    if (!seller?.startsWith(`fault_crash_${point}`) || crashed.has(key)) return result;
    crashed.add(key);
    process.stderr.write(`crash injection: ${id} crashes ${point} of order ${orderId}\n`);
    throw new TransientError(`injected crash ${point} of order ${orderId} (${id})`);
  };
}

function withPayoutCrashInjection(
  id: FunctionId,
  points: PayoutCrashPoint[],
  handler: Handler,
  options: CrashInjectionOptions,
): Handler {
  const {
    enabled = faultInjectionEnabled,
    sellerOfPayout = sellerFromPayoutsTable,
    crashed = crashedInThisProcess,
  } = options;
  const crashingPoint = async (payoutId: string): Promise<PayoutCrashPoint | undefined> => {
    try {
      const seller = await sellerOfPayout(payoutId);
      return points.find((point) => seller?.startsWith(`fault_crash_${point}`));
    } catch (error) {
      process.stderr.write(
        `crash injection: cannot read the seller of payout ${payoutId}: ${(error as Error).message}\n`,
      );
      return undefined;
    }
  };
  return async (event, context) => {
    if (!enabled()) return handler(event, context);
    const { payout_id: payoutOf, refund_id: refundOf } = (event ?? {}) as Record<string, unknown>;
    const payoutId = typeof payoutOf === 'string' ? payoutOf : refundOf;
    if (typeof payoutId !== 'string') return handler(event, context);
    const point = await crashingPoint(payoutId);
    if (point === 'before-transfer') {
      process.stderr.write(`crash injection: ${id} crashes before the transfer of payout ${payoutId}\n`);
      throw new TransientError(`injected crash before the transfer of payout ${payoutId} (${id})`);
    }
    const result = await handler(event, context);
    const key = `${point}:${payoutId}`;
    if ((point !== 'after-transfer' && point !== 'after-wallet-debit') || crashed.has(key)) return result;
    crashed.add(key);
    process.stderr.write(`crash injection: ${id} crashes ${point} of ${payoutId}\n`);
    throw new TransientError(`injected crash ${point} of ${payoutId} (${id})`);
  };
}
