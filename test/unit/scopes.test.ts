/**
 * Scopes at the edge: each authorized route's handler (lambdas/catalog.ts `apiRoutes`, by its function's entry)
 * refuses a key that lacks the route's scope with 403 `insufficient_scope` naming it, before any work, and lets a key
 * with that scope (or `admin`) through; the public route's handler (`scope: 'public'`) asks for no key; no handler
 * can leave its scope out (`apiHandler`); and the risk review's four eyes (lambdas/api/review-payment.ts).
 * AWS clients are mocked (no network); the handlers read their settings from the environment on first use.
 */
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { apiRoutes, functions, type RouteSpec } from '../../lambdas/catalog';
import { SCOPES, type Scope } from '../../src/api/api-keys';

Object.assign(process.env, {
  PAYMENTS_TABLE: 'payments-table',
  WALLETS_TABLE: 'wallets-table',
  LEDGER_TABLE: 'ledger-table',
  API_KEYS_TABLE: 'api-keys-table',
  IDEMPOTENCY_TABLE: 'idempotency-table',
  SELLERS_TABLE: 'sellers-table',
  REFUNDS_TABLE: 'refunds-table',
  RECONCILIATION_TABLE: 'reconciliation-table',
  RECONCILIATION_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:Reconciliation',
  SETTLEMENT_BUCKET: 'settlement-bucket',
  REFUND_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:Refund',
  PAYOUTS_TABLE: 'payouts-table',
  PAYOUT_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:PayOut',
  PAYOUT_RUN_QUEUE_URL: 'http://localhost/queue/payout-runs',
  PSP_CONNECT_SECRET_KEY: 'sk_test_unit_never_used',
  PAYIN_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:PayIn',
  AWS_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'unit-test',
  PSP_SECRET_KEY: 'sk_test_unit_never_used',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

const { apiHandler } = require('../../src/api/middleware') as typeof import('../../src/api/middleware');

const ROOT = path.resolve(__dirname, '..', '..');
/** The handler of a catalog function, required once the environment is in place. */
const handlerOf = (functionId: RouteSpec['functionId']): Handler =>
  (require(path.join(ROOT, functions[functionId].entry)) as { handler: Handler }).handler;

const ddb = mockClient(DynamoDBDocumentClient);
const rawDdb = mockClient(DynamoDBClient);
const sfnMock = mockClient(SFNClient);

beforeEach(() => {
  ddb.reset();
  rawDdb.reset();
  sfnMock.reset();
  ddb.onAnyCommand().resolves({});
  rawDdb.onAnyCommand().resolves({});
  sfnMock.onAnyCommand().resolves({ executionArn: 'arn:exec', startDate: new Date() });
});

const context = {
  functionName: 'unit-test',
  awsRequestId: 'req-0001',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:unit-test',
  getRemainingTimeInMillis: () => 10_000,
} as Context;

const KEY_A = 'aaaaaaaaaaaaaaaa';
const KEY_B = 'bbbbbbbbbbbbbbbb';

/** A request as API Gateway passes it on after the authorizer: the key id and its scopes in the context. */
function request(route: RouteSpec, keyId: string, scopes: readonly Scope[], body?: unknown): APIGatewayProxyEvent {
  const pathParameters = Object.fromEntries([...route.path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => [name, 'x']));
  const concrete = route.path.replace(/\{[^}]+\}/g, 'x');
  return {
    httpMethod: route.method,
    path: concrete,
    resource: route.path,
    headers: { 'content-type': 'application/json', 'Idempotency-Key': 'idem-scopes' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
    stageVariables: null,
    requestContext: { authorizer: { principalId: keyId, keyId, scopes: scopes.join(' ') } } as never,
    body: route.method === 'POST' ? JSON.stringify(body ?? bodyFor(route)) : null,
    isBase64Encoded: false,
  };
}

/** A valid body for each POST route, so that a key with the scope gets past validation. */
function bodyFor(route: RouteSpec): unknown {
  if (route.functionId === 'ReviewPayment') return { decision: 'reject' };
  return {
    checkout_id: 'co_scopes',
    buyer: { id: 'buyer_1', country: 'DE' },
    currency: 'EUR',
    payment_method: 'pm_card_visa',
    payment_orders: [{ payment_order_id: 'po_scopes', seller_account: 'seller_a', amount: '10.00' }],
  };
}

const authorizedRoutes = apiRoutes.filter((route) => route.authorized);
const routeCases = authorizedRoutes.map((route) => [`${route.method} ${route.path}`, route] as const);

describe('Scopes of the API routes (lambdas/catalog.ts)', () => {
  it('names a scope on every authorized route, and none on the public one', () => {
    for (const route of apiRoutes) {
      if (route.authorized) expect(SCOPES).toContain(route.scope);
      else expect(route.scope).toBeUndefined();
    }
    expect(authorizedRoutes.map((route) => `${route.method} ${route.path} ${route.scope}`)).toEqual([
      'POST /v1/payments payments:write',
      'GET /v1/payments/{payment_id} payments:read',
      'GET /v1/payments/{payment_id}/timeline payments:read',
      'GET /v1/payments/{payment_id}/ledger payments:read',
      'GET /v1/wallets/{seller_account} payments:read',
      'POST /v1/payments/{payment_id}/review reviews:write',
      'PUT /v1/sellers/{seller_account} sellers:write',
      'GET /v1/sellers/{seller_account} sellers:read',
      'POST /v1/sellers/{seller_account}/onboarding-link sellers:write',
      'GET /v1/sellers/{seller_account}/payouts payouts:read',
      'POST /v1/payouts payouts:write',
      'GET /v1/payouts/{payout_id} payouts:read',
      'POST /v1/payout-runs payouts:write',
      'POST /v1/payments/{payment_id}/refunds refunds:write',
      'GET /v1/refunds/{refund_id} payments:read',
      'GET /v1/disputes payments:read',
      'GET /v1/disputes/{dispute_id} payments:read',
      'GET /v1/payout-runs/{run_id} payouts:read',
      'POST /v1/reconciliation/runs reconciliation:write',
      'GET /v1/reconciliation/runs/{run_id} reconciliation:read',
      'GET /v1/reconciliation/runs/{run_id}/report.html reconciliation:read',
      'GET /v1/reconciliation/runs reconciliation:read',
      'GET /v1/reconciliation/mismatches reconciliation:read',
      'POST /v1/reconciliation/mismatches/{mismatch_id}/resolve reconciliation:write',
    ]);
  });

  it.each(routeCases)('%s: a key with every scope but this one (and admin) gets 403 naming it', async (_, route) => {
    // Prepare
    const scope = route.scope!;
    const others = SCOPES.filter((s) => s !== scope && s !== 'admin');

    // Act
    const response = await handlerOf(route.functionId)(request(route, KEY_A, others), context);

    // Assess: refused before any work
    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body)).toEqual({
      error: { code: 'insufficient_scope', message: `this key lacks the scope ${scope}`, scope },
    });
    expect([ddb.calls(), rawDdb.calls(), sfnMock.calls()].flat()).toHaveLength(0);
  });

  it.each(routeCases)('%s: a key stored before scopes (no scopes) gets 403', async (_, route) => {
    const response = await handlerOf(route.functionId)(request(route, KEY_A, []), context);
    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body).error).toMatchObject({ code: 'insufficient_scope', scope: route.scope });
  });

  it.each(routeCases)('%s: a key with only this scope, or admin, is not refused', async (_, route) => {
    for (const scopes of [[route.scope!], ['admin' as const]]) {
      const response = await handlerOf(route.functionId)(request(route, KEY_A, scopes), context);
      expect(response.statusCode).not.toBe(403);
      expect(response.statusCode).toBeLessThan(500);
    }
  });
});

describe('The public route (lambdas/catalog.ts, authorized: false)', () => {
  const publicRoutes = apiRoutes.filter((route) => !route.authorized);

  it('is the PSP webhook only', () => {
    expect(publicRoutes.map((route) => `${route.method} ${route.path}`)).toEqual(['POST /v1/webhooks/psp']);
  });

  it.each(publicRoutes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s: its handler asks for no key: a call without one reaches it (an unsigned webhook: 400, not 403)',
    async (_, route) => {
      // Prepare: no authorizer ran (API Gateway calls no authorizer on a public route)
      const event = { ...request(route, KEY_A, []), requestContext: {} as never };

      // Act
      const response = await handlerOf(route.functionId)(event, context);

      // Assess
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body).error.code).toBe('invalid_signature');
    },
  );
});

describe('apiHandler: every handler names its scope', () => {
  const fn = async () => ({ statusCode: 200, body: '{}' });

  it('refuses options without a scope, or with one that is not a scope nor public', () => {
    // @ts-expect-error the options, and their scope, are required
    expect(() => apiHandler(fn)).toThrow(/options\.scope must be a scope or 'public'/);
    // @ts-expect-error the scope is required
    expect(() => apiHandler(fn, {})).toThrow(/options\.scope must be a scope or 'public' \(got undefined\)/);
    // @ts-expect-error not a scope
    expect(() => apiHandler(fn, { scope: 'payments:delete' })).toThrow(/\(got payments:delete\)/);
  });

  it("takes a scope, or 'public' for a route without a key", () => {
    expect(() => apiHandler(fn, { scope: 'payments:read' })).not.toThrow();
    expect(() => apiHandler(fn, { scope: 'public' })).not.toThrow();
  });
});

describe('Risk review: four eyes (lambdas/api/review-payment)', () => {
  const review = apiRoutes.find((route) => route.functionId === 'ReviewPayment')!;
  const T = '2026-11-29T10:00:00.000Z';

  /** A payment held for review, created by `creator` (undefined: accepted before the creator was recorded). */
  function heldForReview(creator: string | undefined) {
    ddb.on(QueryCommand).resolves({
      Items: [
        {
          pk: 'PAY#x',
          sk: 'EVENT',
          payment_id: 'x',
          checkout_id: 'co_1',
          buyer: { id: 'buyer_1', country: 'FR' },
          currency: 'EUR',
          total_minor: 600_000,
          mode: 'token',
          payment_method: 'pm_card_visa',
          status: 'PENDING',
          risk_decision: 'REVIEW',
          order_ids: ['po_1'],
          created_at: T,
          updated_at: T,
          ...(creator === undefined ? {} : { created_by_key_id: creator }),
        },
        {
          pk: 'PAY#x',
          sk: 'ORDER#po_1',
          payment_id: 'x',
          payment_order_id: 'po_1',
          seller_account: 'seller_a',
          currency: 'EUR',
          amount_minor: 600_000,
          fee_minor: 0,
          status: 'PENDING',
          wallet_updated: false,
          ledger_updated: false,
          created_at: T,
          updated_at: T,
        },
      ],
    });
  }

  const decide = (keyId: string, scopes: Scope[], decision: 'approve' | 'reject') =>
    handlerOf('ReviewPayment')(request(review, keyId, scopes, { decision }), context);

  it.each([
    ['approve', ['reviews:write']],
    ['reject', ['reviews:write']],
    ['approve', ['admin']],
  ] as const)('refuses to %s with the key that created the payment (scopes %j)', async (decision, scopes) => {
    // Prepare
    heldForReview(KEY_A);

    // Act
    const response = await decide(KEY_A, [...scopes], decision);

    // Assess
    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body).error).toEqual({
      code: 'four_eyes_required',
      message: 'payment x was created with this key: another key must review it (four eyes)',
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  it('lets another key with reviews:write decide', async () => {
    heldForReview(KEY_A);
    const response = await decide(KEY_B, ['reviews:write'], 'reject');
    expect(response.statusCode).toBe(200);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('lets a payment that does not record its creator be rejected, never approved', async () => {
    heldForReview(undefined);
    const approve = await decide(KEY_B, ['reviews:write'], 'approve');
    expect(approve.statusCode).toBe(403);
    expect(JSON.parse(approve.body).error.code).toBe('four_eyes_required');
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);

    const reject = await decide(KEY_B, ['reviews:write'], 'reject');
    expect(reject.statusCode).toBe(200);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });
});
