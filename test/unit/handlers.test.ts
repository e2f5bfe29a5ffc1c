/**
 * Handler tests: the Lambda handlers and pay-in steps against aws-sdk-client-mock (no network).
 * The handlers read their settings from the environment on first use, so it is set before they are required.
 */

import { createHash, randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { promisify } from 'node:util';
import { DynamoDBClient, ThrottlingException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { ApiKeys } from '../../src/api/api-keys';
import { loadPayInSettings } from '../../src/core/config';
import { InconsistentStateError, PspTransientError } from '../../src/core/errors';
import { LedgerTable } from '../../src/ledger/ledger-table';
import { Wallets } from '../../src/ledger/wallets';
import { paymentIdFor } from '../../src/payin/create-payment';
import type { PaymentEvent, PaymentOrder } from '../../src/payin/payment';
import { PaymentsTable } from '../../src/payin/payments-table';
import { appendLedger, charge, creditWallet, decideReview, finalize } from '../../src/payin/steps';
import type { ChargeRequest, ChargeResult, Psp, PspChargeState } from '../../src/psp/types';

const TABLES = {
  PAYMENTS_TABLE: 'payments-table',
  WALLETS_TABLE: 'wallets-table',
  LEDGER_TABLE: 'ledger-table',
  API_KEYS_TABLE: 'api-keys-table',
  IDEMPOTENCY_TABLE: 'idempotency-table',
};
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:PayIn';
Object.assign(process.env, {
  ...TABLES,
  PAYIN_STATE_MACHINE_ARN: STATE_MACHINE_ARN,
  AWS_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'unit-test',
  PSP_SECRET_KEY: 'sk_test_unit_never_used',
  PLATFORM_FEE_BPS: '250',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});
// The handler modules are required only now, once their environment is in place.
const createPaymentLambda =
  require('../../lambdas/api/create-payment') as typeof import('../../lambdas/api/create-payment');
const authorizerLambda = require('../../lambdas/api/authorizer') as typeof import('../../lambdas/api/authorizer');
const finalizeLambda = require('../../lambdas/payin/finalize') as typeof import('../../lambdas/payin/finalize');
const chargeLambda = require('../../lambdas/payin/charge') as typeof import('../../lambdas/payin/charge');
const creditWalletLambda =
  require('../../lambdas/payin/credit-wallet') as typeof import('../../lambdas/payin/credit-wallet');

/** The document client (our tables) and the low-level client (Powertools idempotency records). */
const ddb = mockClient(DynamoDBDocumentClient);
const rawDdb = mockClient(DynamoDBClient);
const sfnMock = mockClient(SFNClient);

afterEach(() => {
  ddb.reset();
  rawDdb.reset();
  sfnMock.reset();
});

const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'unit-test',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:unit-test',
  memoryLimitInMB: '128',
  awsRequestId: 'req-0001',
  logGroupName: '/aws/lambda/unit-test',
  logStreamName: 'stream',
  getRemainingTimeInMillis: () => 10_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
} as Context;

const API_KEY_ID = '0123456789abcdef';

function apiEvent(
  body: unknown,
  { idempotencyKey = 'idem-1', ...overrides }: Partial<APIGatewayProxyEvent> & { idempotencyKey?: string | null } = {},
): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path: '/v1/payments',
    resource: '/v1/payments',
    headers: {
      'content-type': 'application/json',
      ...(idempotencyKey === null ? {} : { 'Idempotency-Key': idempotencyKey }),
    },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      authorizer: { keyId: API_KEY_ID, principalId: API_KEY_ID, scopes: 'payments:write payments:read' },
    } as never,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    ...overrides,
  };
}

const checkout = (overrides: Record<string, unknown> = {}) => ({
  checkout_id: 'co_77',
  buyer: { id: 'buyer_1', country: 'DE' },
  currency: 'EUR',
  payment_method: 'pm_card_visa',
  payment_orders: [
    { payment_order_id: 'po_1', seller_account: 'seller_a', amount: '10.00' },
    { payment_order_id: 'po_2', seller_account: 'seller_b', amount: '5.55' },
  ],
  ...overrides,
});

const canceled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

type TransactItems = NonNullable<TransactWriteCommand['input']['TransactItems']>;
const transactItems = (callIndex = 0): TransactItems =>
  ddb.commandCalls(TransactWriteCommand)[callIndex]?.args[0].input.TransactItems ?? [];

/** Every AWS call made through any of the mocked clients. */
const awsCalls = () => ddb.calls().length + rawDdb.calls().length + sfnMock.calls().length;

/** The happy path of the AWS calls behind POST /v1/payments. */
function acceptEverything() {
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
}

describe('Handler: POST /v1/payments (lambdas/api/create-payment)', () => {
  const { handler } = createPaymentLambda;
  const PAYMENT_ID_1 = paymentIdFor(API_KEY_ID, 'idem-1');

  it('derives the payment id from the API key id and the Idempotency-Key', () => {
    expect(PAYMENT_ID_1).toMatch(/^pay_[0-9a-f]{32}$/);
    expect(paymentIdFor(API_KEY_ID, 'idem-1')).toBe(PAYMENT_ID_1);
    expect(paymentIdFor(API_KEY_ID, 'idem-2')).not.toBe(PAYMENT_ID_1);
    expect(paymentIdFor('fedcba9876543210', 'idem-1')).not.toBe(PAYMENT_ID_1);
  });

  it('accepts a checkout: 202, one transaction with guards and conditions, one execution named after the payment', async () => {
    // Prepare
    acceptEverything();

    // Act
    const response = await handler(apiEvent(checkout()), context);

    // Assess: the response
    expect(response.statusCode).toBe(202);
    expect(response.headers).toEqual({ 'content-type': 'application/json', 'cache-control': 'no-store' });
    const body = JSON.parse(response.body);
    expect(body).toMatchObject({
      payment_id: PAYMENT_ID_1,
      checkout_id: 'co_77',
      status: 'NOT_STARTED',
      status_reason: null,
      currency: 'EUR',
      amount: '15.55',
      psp_reference: null,
      status_url: `/v1/payments/${PAYMENT_ID_1}`,
    });
    expect(body.payment_orders).toEqual([
      expect.objectContaining({ payment_order_id: 'po_1', amount: '10.00', fee: '0.25', status: 'NOT_STARTED' }),
      expect.objectContaining({ payment_order_id: 'po_2', amount: '5.55', fee: '0.13', status: 'NOT_STARTED' }),
    ]);

    // Assess: the DynamoDB transaction
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    const items = transactItems();
    expect(items).toHaveLength(6); // checkout guard, event, 2 order guards, 2 orders
    for (const item of items) {
      expect(item.Put?.TableName).toBe('payments-table');
      expect(item.Put?.ConditionExpression).toBe('attribute_not_exists(pk)');
    }
    expect(items[0]?.Put?.Item).toEqual({
      pk: 'CHECKOUT#co_77',
      sk: 'GUARD',
      entity: 'CHECKOUT_GUARD',
      payment_id: PAYMENT_ID_1,
    });
    expect(items[1]?.Put?.Item).toMatchObject({
      pk: `PAY#${PAYMENT_ID_1}`,
      sk: 'EVENT',
      entity: 'EVENT',
      // Open payments by creation time: written once here, removed when final, never rewritten in between.
      gsi1pk: 'OPEN',
      gsi1sk: expect.stringMatching(new RegExp(`^\\d{4}-\\d{2}-\\d{2}T.*Z#${PAYMENT_ID_1}$`)),
      payment_id: PAYMENT_ID_1,
      checkout_id: 'co_77',
      total_minor: 1555,
      currency: 'EUR',
      status: 'NOT_STARTED',
      order_ids: ['po_1', 'po_2'],
      // The key that created it, for the four-eyes review.
      created_by_key_id: API_KEY_ID,
    });
    expect(items[2]?.Put?.Item).toEqual({
      pk: 'ORDER#po_1',
      sk: 'GUARD',
      entity: 'ORDER_GUARD',
      payment_id: PAYMENT_ID_1,
    });
    expect(items[3]?.Put?.Item).toEqual({
      pk: 'ORDER#po_2',
      sk: 'GUARD',
      entity: 'ORDER_GUARD',
      payment_id: PAYMENT_ID_1,
    });
    expect(items[4]?.Put?.Item).toMatchObject({
      pk: `PAY#${PAYMENT_ID_1}`,
      sk: 'ORDER#po_1',
      entity: 'ORDER',
      amount_minor: 1000,
      fee_minor: 25,
      status: 'NOT_STARTED',
      wallet_updated: false,
      ledger_updated: false,
    });
    expect(items[5]?.Put?.Item).toMatchObject({ sk: 'ORDER#po_2', amount_minor: 555, fee_minor: 13 });

    // Assess: the workflow start, and the execution name kept on the event
    const starts = sfnMock.commandCalls(StartExecutionCommand);
    expect(starts).toHaveLength(1);
    const input = starts[0]!.args[0].input;
    expect(input.stateMachineArn).toBe(STATE_MACHINE_ARN);
    expect(input.name).toBe(PAYMENT_ID_1);
    expect(JSON.parse(input.input ?? '')).toEqual({
      payment_id: PAYMENT_ID_1,
      orders: [{ payment_order_id: 'po_1' }, { payment_order_id: 'po_2' }],
      subject: { buyer: { id: 'buyer_1', country: 'DE' }, currency: 'EUR', total_minor: 1555, status: 'NOT_STARTED' },
    });
    // The execution's name was stored with the payment, so the start writes nothing more.
    expect(items[1]?.Put?.Item).toMatchObject({ sk: 'EVENT', execution_name: PAYMENT_ID_1 });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);

    // Assess: the payment is the request's idempotency record (its id from the key, its body's fingerprint kept):
    // no other record is written.
    expect(items[1]?.Put?.Item?.request_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rawDdb.calls()).toHaveLength(0);
    expect(ddb.calls()).toHaveLength(1);
  });

  /** The items a first request stored, as the payment partition's query returns them (moved on to `status`). */
  async function storeFirst(key: string, status = 'SUCCESS') {
    acceptEverything();
    const first = await handler(apiEvent(checkout(), { idempotencyKey: key }), context);
    const written = transactItems().map((item) => item.Put?.Item ?? {});
    const paymentItems = written
      .filter((item) => String(item.pk).startsWith('PAY#'))
      .map((item) => ({ ...item, status, updated_at: '2030-01-01T00:00:00.000Z', psp_reference: 'pi_later' }));
    const paymentId = String((paymentItems[0] as Record<string, unknown> | undefined)?.payment_id);
    rawDdb.reset();
    ddb.reset();
    sfnMock.reset();
    // The repeat's transaction finds the checkout guard and the payment there; the guard names this payment.
    ddb.on(TransactWriteCommand).rejects(canceled('ConditionalCheckFailed', 'ConditionalCheckFailed'));
    ddb.on(GetCommand).resolves({ Item: { payment_id: paymentId } });
    ddb.on(QueryCommand).resolves({ Items: paymentItems });
    sfnMock.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    ddb
      .on(UpdateCommand)
      .rejects(Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' }));
    return first;
  }

  it('replays the first answer for the same Idempotency-Key and body, with no second payment or execution', async () => {
    // Prepare: the payment of a first request, charged since
    const first = await storeFirst('idem-replay');

    // Act
    const second = await handler(apiEvent(checkout(), { idempotencyKey: 'idem-replay' }), context);

    // Assess: the first answer (the payment as accepted), told again
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(202);
    expect(second.headers?.['idempotent-replayed']).toBe('true');
    expect(JSON.parse(second.body)).toEqual(JSON.parse(first.body));
    // Only the one execution of the payment (the repeat's start finds it exists).
    expect(sfnMock.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name)).toEqual([
      paymentIdFor(API_KEY_ID, 'idem-replay'),
    ]);
  });

  it('replays the first answer for the same body with its keys in another order', async () => {
    const first = await storeFirst('idem-order');
    const reordered = Object.fromEntries(Object.entries(checkout()).reverse());
    const second = await handler(apiEvent(reordered, { idempotencyKey: 'idem-order' }), context);
    expect([second.statusCode, second.headers?.['idempotent-replayed']]).toEqual([202, 'true']);
    expect(JSON.parse(second.body)).toEqual(JSON.parse(first.body));
  });

  it('answers 422 when an Idempotency-Key is reused with another body, starting nothing', async () => {
    // Prepare
    await storeFirst('idem-reuse');
    const changed = checkout({
      payment_orders: [
        { payment_order_id: 'po_1', seller_account: 'seller_a', amount: '10.00' },
        { payment_order_id: 'po_2', seller_account: 'seller_b', amount: '99.00' },
      ],
    });

    // Act
    const response = await handler(apiEvent(changed, { idempotencyKey: 'idem-reuse' }), context);

    // Assess
    expect(response.statusCode).toBe(422);
    expect(JSON.parse(response.body).error.code).toBe('idempotency_key_reused');
    expect(sfnMock.calls()).toHaveLength(0);
  });

  it('answers 409 with Retry-After while another request with the key is storing the payment', async () => {
    // Prepare: the transaction meets a concurrent one writing the same payment
    acceptEverything();
    ddb.on(TransactWriteCommand).rejects(canceled('None', 'TransactionConflict', 'None', 'None', 'None', 'None'));

    // Act
    const response = await handler(apiEvent(checkout(), { idempotencyKey: 'idem-busy' }), context);

    // Assess
    expect(response.statusCode).toBe(409);
    expect(response.headers?.['retry-after']).toBe('1');
    expect(JSON.parse(response.body).error.code).toBe('request_in_progress');
    expect(sfnMock.calls()).toHaveLength(0);
  });

  it.each([
    ['missing', null, 'idempotency_key_missing'],
    ['blank', '   ', 'idempotency_key_missing'],
    ['with a space inside', 'a b', 'invalid_request'],
    ['longer than 255 characters', 'k'.repeat(256), 'invalid_request'],
  ])('answers 400 when the Idempotency-Key header is %s, without any AWS call', async (_label, key, code) => {
    // Act
    const response = await handler(apiEvent(checkout(), { idempotencyKey: key }), context);

    // Assess
    expect(response.statusCode).toBe(400);
    const { error } = JSON.parse(response.body);
    expect(error.code).toBe(code);
    expect(error.errors).toEqual([{ field: 'Idempotency-Key', message: expect.any(String) }]);
    expect(awsCalls()).toBe(0);
  });

  it('reads a base64-encoded body', async () => {
    // Prepare
    acceptEverything();
    const encoded = Buffer.from(JSON.stringify(checkout())).toString('base64');

    // Act
    const response = await handler(apiEvent(encoded, { isBase64Encoded: true }), context);

    // Assess
    expect(response.statusCode).toBe(202);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('answers 409 checkout_already_accepted naming the existing payment, and frees the Idempotency-Key', async () => {
    // Prepare
    acceptEverything();
    ddb.on(TransactWriteCommand).rejects(canceled('ConditionalCheckFailed', 'None', 'None', 'None', 'None', 'None'));
    ddb
      .on(GetCommand, { TableName: 'payments-table', Key: { pk: 'CHECKOUT#co_77', sk: 'GUARD' } })
      .resolves({ Item: { pk: 'CHECKOUT#co_77', sk: 'GUARD', payment_id: 'pay_existing' } });

    // Act
    const response = await handler(apiEvent(checkout()), context);

    // Assess
    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body)).toEqual({
      error: {
        code: 'checkout_already_accepted',
        message: 'checkout co_77 was already accepted as payment pay_existing',
        payment_id: 'pay_existing',
      },
    });
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input.ConsistentRead).toBe(true);
    expect(sfnMock.calls()).toHaveLength(0);
    // Nothing was stored under the key: a retry with it runs again.
    expect(rawDdb.calls()).toHaveLength(0);
  });

  it('finishes its own earlier attempt when the checkout guard holds its own payment id (retry after a crash)', async () => {
    // Prepare: the transaction of an earlier attempt went through, its workflow start did not
    acceptEverything();
    ddb.on(TransactWriteCommand).rejects(canceled('ConditionalCheckFailed', 'ConditionalCheckFailed'));
    ddb.on(GetCommand).resolves({ Item: { payment_id: PAYMENT_ID_1 } });
    const stored = {
      payment_id: PAYMENT_ID_1,
      checkout_id: 'co_77',
      buyer: { id: 'buyer_1', country: 'DE' },
      currency: 'EUR',
      total_minor: 1555,
      payment_method: 'pm_card_visa',
      status: 'NOT_STARTED',
      order_ids: ['po_1', 'po_2'],
      created_at: '2025-01-01T00:00:00.000Z',
      updated_at: '2025-01-01T00:00:00.000Z',
    };
    const order = (id: string, amount: number, fee: number) => ({
      pk: `PAY#${PAYMENT_ID_1}`,
      sk: `ORDER#${id}`,
      payment_id: PAYMENT_ID_1,
      payment_order_id: id,
      seller_account: `seller_${id}`,
      currency: 'EUR',
      amount_minor: amount,
      fee_minor: fee,
      status: 'NOT_STARTED',
      wallet_updated: false,
      ledger_updated: false,
      created_at: stored.created_at,
      updated_at: stored.updated_at,
    });
    ddb.on(QueryCommand).resolves({
      Items: [{ pk: `PAY#${PAYMENT_ID_1}`, sk: 'EVENT', ...stored }, order('po_1', 1000, 25), order('po_2', 555, 13)],
    });
    sfnMock.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));

    // Act
    const response = await handler(apiEvent(checkout()), context);

    // Assess
    expect(response.statusCode).toBe(202);
    const body = JSON.parse(response.body);
    expect(body.payment_id).toBe(PAYMENT_ID_1);
    expect(body.created_at).toBe('2025-01-01T00:00:00.000Z');
    expect(sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input.name).toBe(PAYMENT_ID_1);
  });

  it('answers 409 payment_order_already_exists when an order guard exists', async () => {
    // Prepare: item 3 is the guard of the second order
    acceptEverything();
    ddb.on(TransactWriteCommand).rejects(canceled('None', 'None', 'None', 'ConditionalCheckFailed', 'None', 'None'));

    // Act
    const response = await handler(apiEvent(checkout()), context);

    // Assess
    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body).error).toEqual({
      code: 'payment_order_already_exists',
      message: 'payment_order_id already used: po_2',
      payment_order_ids: ['po_2'],
    });
    expect(sfnMock.calls()).toHaveLength(0);
  });

  it('answers 422 when the payment id of the key already belongs to another checkout', async () => {
    // Prepare: item 1 is the payment event
    acceptEverything();
    ddb.on(TransactWriteCommand).rejects(canceled('None', 'ConditionalCheckFailed', 'None', 'None', 'None', 'None'));

    // Act
    const response = await handler(apiEvent(checkout()), context);

    // Assess
    expect(response.statusCode).toBe(422);
    expect(JSON.parse(response.body).error.code).toBe('idempotency_key_reused');
    expect(sfnMock.calls()).toHaveLength(0);
  });

  it.each([
    ['invalid JSON', '{"checkout_id": '],
    ['a JSON array', '[1, 2]'],
    ['a JSON string', '"hello"'],
    ['JSON null', 'null'],
    ['an empty body', ''],
  ])('answers 400 on %s without any AWS call', async (_label, body) => {
    // Act
    const response = await handler(apiEvent(body), context);

    // Assess
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toEqual({
      error: {
        code: 'invalid_request',
        message: 'the request body must be a JSON object',
        // The error names the field at fault: the body itself.
        errors: [{ field: '(body)', message: expect.any(String) }],
      },
    });
    expect(awsCalls()).toBe(0);
  });

  it('answers 400 naming the fields of an invalid checkout, without any AWS call', async () => {
    // Act
    const response = await handler(
      apiEvent(
        checkout({ currency: 'usd', payment_orders: [{ payment_order_id: 'po#1', seller_account: 's', amount: '1' }] }),
      ),
      context,
    );

    // Assess
    expect(response.statusCode).toBe(400);
    const { error } = JSON.parse(response.body);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe('the checkout is not valid');
    expect(error.errors.map((e: { field: string }) => e.field)).toEqual([
      'currency',
      'payment_orders[0].payment_order_id',
    ]);
    expect(awsCalls()).toBe(0);
  });

  it('answers 400 on card data, without echoing it and without any AWS call', async () => {
    // Act
    const response = await handler(apiEvent({ ...checkout(), card_number: '4242 4242 4242 4242' }), context);

    // Assess
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error.errors).toEqual([{ field: 'card_number', message: 'looks like card data' }]);
    expect(response.body).toMatch(/card data is never accepted/);
    expect(response.body).not.toContain('4242');
    expect(awsCalls()).toBe(0);
  });

  it('answers 413 on a body above 64 KiB', async () => {
    const response = await handler(apiEvent(`{"pad":"${'x'.repeat(64 * 1024)}"}`), context);
    expect(response.statusCode).toBe(413);
    expect(JSON.parse(response.body).error.code).toBe('body_too_large');
    expect(awsCalls()).toBe(0);
  });

  it('treats ExecutionAlreadyExists from Step Functions as success', async () => {
    // Prepare
    acceptEverything();
    sfnMock
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));

    // Act
    const response = await handler(apiEvent(checkout()), context);

    // Assess
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body).status).toBe('NOT_STARTED');
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1); // the execution name is still recorded
  });

  it('answers 503 with Retry-After, without details, when DynamoDB is throttling', async () => {
    // Prepare
    acceptEverything();
    ddb
      .on(TransactWriteCommand)
      .rejects(new ThrottlingException({ message: 'Rate exceeded for table', $metadata: {} }));

    // Act
    const response = await handler(apiEvent(checkout()), context);

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '1' });
    expect(JSON.parse(response.body)).toEqual({
      error: {
        code: 'temporarily_unavailable',
        message: 'a service this request needs is unavailable for a moment; retry the request with the same key',
      },
    });
    expect(response.body).not.toContain('Rate exceeded');
    expect(sfnMock.calls()).toHaveLength(0);
  });
});

describe('Handler: API authorizer (lambdas/api/authorizer)', () => {
  const { handler } = authorizerLambda;
  const METHOD_ARN = 'arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/POST/v1/payments';
  const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

  const authEvent = (headers: Record<string, string> | null): APIGatewayRequestAuthorizerEvent =>
    ({
      type: 'REQUEST',
      methodArn: METHOD_ARN,
      resource: '/v1/payments',
      path: '/v1/payments',
      httpMethod: 'POST',
      headers,
      multiValueHeaders: null,
      pathParameters: null,
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      stageVariables: null,
      requestContext: {},
    }) as unknown as APIGatewayRequestAuthorizerEvent;

  /** Issues a key with the real ApiKeys logic, capturing the stored item from the PutCommand. */
  async function issueKey(): Promise<{ keyId: string; secretKey: string; item: Record<string, unknown> }> {
    ddb.on(PutCommand).resolves({});
    const issued = await new ApiKeys(DynamoDBDocumentClient.from(new DynamoDBClient({})), TABLES.API_KEYS_TABLE).issue(
      'unit test',
      { scopes: ['payments:read', 'reviews:write'] },
    );
    const put = ddb.commandCalls(PutCommand).at(-1)!.args[0].input;
    expect(put.TableName).toBe('api-keys-table');
    expect(put.ConditionExpression).toBe('attribute_not_exists(pk)');
    return { ...issued, item: put.Item as Record<string, unknown> };
  }

  function storeKey(keyId: string, item: Record<string, unknown> | undefined) {
    ddb.on(GetCommand, { TableName: 'api-keys-table', Key: { pk: `KEY#${keyId}` } }).resolves({ Item: item });
  }

  it('stores only a salted SHA-256 hash of the secret, with the scopes', async () => {
    // Act
    const { keyId, secretKey, item } = await issueKey();

    // Assess
    const secret = secretKey.slice(`mpk_${keyId}_`.length);
    expect(secretKey).toMatch(/^mpk_[a-f0-9]{16}_[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(item)).not.toContain(secret);
    const expected = createHash('sha256')
      .update(Buffer.from(String(item.salt), 'base64'))
      .update(secret)
      .digest();
    expect(Buffer.from(String(item.salt), 'base64')).toHaveLength(16);
    expect(item).toMatchObject({
      pk: `KEY#${keyId}`,
      key_id: keyId,
      revoked: false,
      hash: expected.toString('base64'),
      algorithm: 'sha256-salted',
      scopes: ['payments:read', 'reviews:write'],
    });
  });

  it('allows the whole stage for a valid key, with its scopes in the context', async () => {
    // Prepare
    const { keyId, secretKey, item } = await issueKey();
    storeKey(keyId, item);

    // Act
    const result = await handler(authEvent({ Authorization: `Bearer ${secretKey}` }));

    // Assess
    expect(result).toEqual({
      principalId: keyId,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: 'arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/*/*',
          },
        ],
      },
      context: { keyId, scopes: 'payments:read reviews:write' },
    });
    const gets = ddb.commandCalls(GetCommand);
    expect(gets).toHaveLength(1);
    expect(gets[0]!.args[0].input).toEqual({
      TableName: 'api-keys-table',
      Key: { pk: `KEY#${keyId}` },
      ConsistentRead: true,
    });
  });

  it('accepts a lower-case authorization header and serves a repeated key from its cache', async () => {
    // Prepare
    const { keyId, secretKey, item } = await issueKey();
    storeKey(keyId, item);

    // Act
    const first = await handler(authEvent({ authorization: `bearer ${secretKey}` }));
    const second = await handler(authEvent({ authorization: `Bearer ${secretKey}` }));

    // Assess
    expect(first.principalId).toBe(keyId);
    expect(second.principalId).toBe(keyId);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
  });

  it('refuses a wrong secret for a known key id', async () => {
    // Prepare
    const { keyId, item } = await issueKey();
    storeKey(keyId, item);
    const wrong = `mpk_${keyId}_${randomBytes(32).toString('base64url')}`;

    // Act & Assess
    await expect(handler(authEvent({ Authorization: `Bearer ${wrong}` }))).rejects.toThrow(new Error('Unauthorized'));
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
  });

  it('refuses an unknown key id', async () => {
    // Prepare
    const keyId = randomBytes(8).toString('hex');
    storeKey(keyId, undefined);
    const key = `mpk_${keyId}_${randomBytes(32).toString('base64url')}`;

    // Act & Assess
    await expect(handler(authEvent({ Authorization: `Bearer ${key}` }))).rejects.toThrow(new Error('Unauthorized'));
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
  });

  it('refuses a revoked key', async () => {
    // Prepare
    const { keyId, secretKey, item } = await issueKey();
    storeKey(keyId, { ...item, revoked: true });

    // Act & Assess
    await expect(handler(authEvent({ Authorization: `Bearer ${secretKey}` }))).rejects.toThrow(
      new Error('Unauthorized'),
    );
  });

  it('refuses a key stored before scopes (salted scrypt, no scopes: it could do nothing) without a re-hash', async () => {
    // Prepare
    const keyId = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const salt = randomBytes(16);
    storeKey(keyId, {
      pk: `KEY#${keyId}`,
      key_id: keyId,
      label: 'before scopes',
      salt: salt.toString('base64'),
      hash: (await scrypt(secret, salt, 32)).toString('base64'),
      algorithm: 'scrypt-N16384-r8-p1',
      created_at: '2026-01-01T00:00:00.000Z',
      revoked: false,
    });

    // Act & Assess
    await expect(handler(authEvent({ Authorization: `Bearer mpk_${keyId}_${secret}` }))).rejects.toThrow(
      'Unauthorized',
    );
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('allows a legacy scrypt key given scopes, and re-hashes it once with SHA-256', async () => {
    // Prepare: a key as it was stored before this change, given scopes by an operator
    const keyId = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const salt = randomBytes(16);
    const legacyHash = (await scrypt(secret, salt, 32)).toString('base64');
    storeKey(keyId, {
      pk: `KEY#${keyId}`,
      key_id: keyId,
      label: 'before scopes',
      salt: salt.toString('base64'),
      hash: legacyHash,
      algorithm: 'scrypt-N16384-r8-p1',
      created_at: '2026-01-01T00:00:00.000Z',
      revoked: false,
      scopes: ['payments:read'],
    });
    ddb.on(UpdateCommand).resolves({});

    // Act
    const first = await handler(authEvent({ Authorization: `Bearer mpk_${keyId}_${secret}` }));
    const second = await handler(authEvent({ Authorization: `Bearer mpk_${keyId}_${secret}` }));

    // Assess: authenticated with its scopes
    expect(first.context).toEqual({ keyId, scopes: 'payments:read' });
    expect(second.context).toEqual({ keyId, scopes: 'payments:read' });
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    // Assess: one conditional re-hash, only over that very scrypt hash
    const updates = ddb.commandCalls(UpdateCommand);
    expect(updates).toHaveLength(1);
    const update = updates[0]!.args[0].input;
    expect(update).toMatchObject({
      TableName: 'api-keys-table',
      Key: { pk: `KEY#${keyId}` },
      ConditionExpression: '#algorithm = :legacy AND #hash = :legacyHash',
    });
    const values = update.ExpressionAttributeValues as Record<string, string>;
    expect(values).toMatchObject({
      ':algorithm': 'sha256-salted',
      ':legacy': 'scrypt-N16384-r8-p1',
      ':legacyHash': legacyHash,
    });
    const newSalt = Buffer.from(values[':salt']!, 'base64');
    expect(newSalt.equals(salt)).toBe(false);
    expect(values[':hash']).toBe(createHash('sha256').update(newSalt).update(secret).digest('base64'));
  });

  it.each([
    ['no headers at all', null],
    ['no Authorization header', { 'content-type': 'application/json' }],
    ['an empty Authorization header', { Authorization: '' }],
    ['a Basic scheme', { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ['a bare key without Bearer', { Authorization: `mpk_${'a'.repeat(16)}_${'b'.repeat(43)}` }],
    ['Bearer with two tokens', { Authorization: `Bearer mpk_${'a'.repeat(16)}_${'b'.repeat(43)} extra` }],
    ['a key of the wrong format', { Authorization: 'Bearer sk_live_abc' }],
    ['a key id that is not hex', { Authorization: `Bearer mpk_${'g'.repeat(16)}_${'b'.repeat(43)}` }],
    ['a secret that is too short', { Authorization: `Bearer mpk_${'a'.repeat(16)}_${'b'.repeat(42)}` }],
  ])('refuses %s without reading the table', async (_label, headers) => {
    await expect(handler(authEvent(headers))).rejects.toThrow(new Error('Unauthorized'));
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('surfaces a throttled key lookup as an error other than Unauthorized (API Gateway answers 500, not 401)', async () => {
    // Prepare
    const keyId = randomBytes(8).toString('hex');
    ddb.on(GetCommand).rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));

    // Act & Assess
    await expect(
      handler(authEvent({ Authorization: `Bearer mpk_${keyId}_${randomBytes(32).toString('base64url')}` })),
    ).rejects.toThrow('Rate exceeded');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Pay-in steps: the real table adapters over the mocked document client, with a fake PSP.

const PAYMENT_ID = 'pay_unit_1';
const T0 = '2025-01-01T00:00:00.000Z';

function paymentEvent(overrides: Partial<PaymentEvent> = {}): PaymentEvent {
  return {
    payment_id: PAYMENT_ID,
    checkout_id: 'co_1',
    buyer: { id: 'buyer_1', country: 'FR' },
    currency: 'USD',
    total_minor: 1500,
    mode: 'token',
    payment_method: 'pm_card_visa',
    // Fixed before the first PSP call (so a retried request sends the same parameters).
    pending_deadline: '2025-01-01T01:00:00.000Z',
    psp_expires_at: 1735695060,
    status: 'NOT_STARTED',
    order_ids: ['po_1', 'po_2'],
    created_at: T0,
    updated_at: T0,
    ...overrides,
  };
}

function paymentOrder(id: string, overrides: Partial<PaymentOrder> = {}): PaymentOrder {
  return {
    payment_id: PAYMENT_ID,
    payment_order_id: id,
    seller_account: `seller_${id}`,
    currency: 'USD',
    amount_minor: id === 'po_1' ? 1000 : 500,
    fee_minor: id === 'po_1' ? 25 : 12,
    status: 'NOT_STARTED',
    wallet_updated: false,
    ledger_updated: false,
    created_at: T0,
    updated_at: T0,
    ...overrides,
  };
}

/** The items a Query of the payment's collection returns. */
function paymentItems(event: PaymentEvent, orders: PaymentOrder[]) {
  return {
    Items: [
      { pk: `PAY#${event.payment_id}`, sk: 'EVENT', entity: 'EVENT', gsi1pk: 'OPEN', ...event },
      ...orders.map((o) => ({ pk: `PAY#${o.payment_id}`, sk: `ORDER#${o.payment_order_id}`, entity: 'ORDER', ...o })),
    ],
  };
}

/** A payment whose event is `eventStatus` and whose two orders are `orderStatus` with `orderOverrides`. */
function stored(
  eventStatus: PaymentEvent['status'],
  orderStatus: PaymentOrder['status'] = eventStatus,
  orderOverrides: Partial<PaymentOrder> = {},
) {
  return paymentItems(paymentEvent({ status: eventStatus }), [
    paymentOrder('po_1', { status: orderStatus, ...orderOverrides }),
    paymentOrder('po_2', { status: orderStatus, ...orderOverrides }),
  ]);
}

class FakePsp implements Psp {
  readonly requests: ChargeRequest[] = [];
  constructor(private readonly results: (ChargeResult | Error)[]) {}
  async charge(request: ChargeRequest): Promise<ChargeResult> {
    this.requests.push(request);
    const next = this.results.shift();
    if (!next) throw new Error('FakePsp: no more results');
    if (next instanceof Error) throw next;
    return next;
  }
  async findCharges(): Promise<PspChargeState[]> {
    throw new Error('FakePsp: findCharges is not expected here');
  }
  async registerHostedPayment(): Promise<never> {
    throw new Error('FakePsp: registerHostedPayment is not expected here');
  }
  async retrieve(): Promise<never> {
    throw new Error('FakePsp: retrieve is not expected here');
  }
  async stopPending(): Promise<never> {
    throw new Error('FakePsp: stopPending is not expected here');
  }
}

function stepDeps(psp: Psp = new FakePsp([])) {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  return {
    payments: new PaymentsTable(client, TABLES.PAYMENTS_TABLE),
    wallets: new Wallets(client, TABLES.WALLETS_TABLE),
    ledger: new LedgerTable(client, TABLES.LEDGER_TABLE),
    psp,
    settings: loadPayInSettings({}),
  };
}

const charged = { psp_reference: 'pi_1' };
const booked = { ...charged, wallet_updated: true, ledger_updated: true };

describe('Step: charge (src/payin/steps)', () => {
  it('reads the payment once, moves it to EXECUTING with its deadline, charges the total once, then records the reference and the charged orders in one write', async () => {
    // Prepare
    ddb.on(QueryCommand).resolvesOnce(stored('NOT_STARTED'));
    ddb.on(TransactWriteCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    const psp = new FakePsp([{ outcome: 'SUCCEEDED', pspReference: 'pi_123' }]);

    // Act
    const result = await charge(stepDeps(psp), PAYMENT_ID);

    // Assess
    expect(result).toEqual({ outcome: 'SUCCEEDED', psp_reference: 'pi_123' });
    expect(psp.requests).toEqual([
      {
        amountMinor: 1500,
        currency: 'USD',
        paymentMethod: 'pm_card_visa',
        metadata: { payment_id: PAYMENT_ID, checkout_id: 'co_1' },
        idempotencyKey: `${PAYMENT_ID}:charge`,
        description: 'checkout co_1',
      },
    ]);
    // The payment is read once; every write is one of the two transactions.
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(1);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
    // 1. NOT_STARTED -> EXECUTING on the event and both orders, the deadline fixed on the event in the same write
    const toExecuting = transactItems(0);
    expect(toExecuting[0]?.Update?.ExpressionAttributeNames).toMatchObject({
      '#e_pending_deadline': 'pending_deadline',
      '#e_psp_expires_at': 'psp_expires_at',
    });
    expect(toExecuting[1]?.Update?.UpdateExpression).not.toMatch(/pending_deadline/);
    // A move between open states leaves the by-status index entry alone (no index write).
    expect(toExecuting[0]?.Update?.UpdateExpression).not.toMatch(/gsi1/);
    expect(toExecuting.map((i) => i.Update?.Key)).toEqual([
      { pk: `PAY#${PAYMENT_ID}`, sk: 'EVENT' },
      { pk: `PAY#${PAYMENT_ID}`, sk: 'ORDER#po_1' },
      { pk: `PAY#${PAYMENT_ID}`, sk: 'ORDER#po_2' },
    ]);
    for (const item of toExecuting) {
      // Only from the state observed (NOT_STARTED): a payment held for review meanwhile (PENDING) is not charged.
      expect(item.Update?.ConditionExpression).toBe('#status IN (:from0)');
      expect(item.Update?.ExpressionAttributeValues).toMatchObject({ ':to': 'EXECUTING', ':from0': 'NOT_STARTED' });
      expect(item.Update?.ExpressionAttributeValues).not.toHaveProperty(':from1');
    }
    // 2. The orders to SUCCESS with the reference and, in the same transaction, the reference and where the outcome
    // came from on the event, whose status stays EXECUTING until booked
    const toSuccess = transactItems(1);
    expect(toSuccess.map((i) => i.Update?.Key?.sk)).toEqual(['EVENT', 'ORDER#po_1', 'ORDER#po_2']);
    expect(toSuccess[0]?.Update).toMatchObject({
      UpdateExpression: expect.not.stringMatching(/#status/),
      ExpressionAttributeNames: { '#e_psp_reference': 'psp_reference', '#e_outcome_from': 'outcome_from' },
      ExpressionAttributeValues: expect.objectContaining({
        ':e_psp_reference': 'pi_123',
        ':e_outcome_from': 'charge_response',
      }),
    });
    for (const item of toSuccess.slice(1)) {
      expect(item.Update?.ExpressionAttributeValues).toMatchObject({ ':to': 'SUCCESS', ':ref': 'pi_123' });
    }
  });

  it('moves the payment and its orders to FAILED with the decline reason on DECLINED', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves(stored('EXECUTING'));
    ddb.on(TransactWriteCommand).resolves({});
    const psp = new FakePsp([
      { outcome: 'DECLINED', pspReference: 'pi_declined', reason: 'card_declined:insufficient_funds' },
    ]);

    // Act
    const result = await charge(stepDeps(psp), PAYMENT_ID);

    // Assess
    expect(result).toEqual({
      outcome: 'DECLINED',
      psp_reference: 'pi_declined',
      reason: 'card_declined:insufficient_funds',
    });
    expect(psp.requests.map((r) => r.idempotencyKey)).toEqual([`${PAYMENT_ID}:charge`]);
    const items = transactItems(0);
    expect(items.map((i) => i.Update?.Key?.sk)).toEqual(['EVENT', 'ORDER#po_1', 'ORDER#po_2']);
    for (const item of items) {
      expect(item.Update?.UpdateExpression).toMatch(/status_reason = :reason/);
      expect(item.Update?.ExpressionAttributeValues).toMatchObject({
        ':to': 'FAILED',
        ':reason': 'declined:card_declined:insufficient_funds',
        ':ref': 'pi_declined',
      });
      expect(item.Update?.ConditionExpression).toBe('#status IN (:from0, :from1, :from2, :from3)');
    }
  });

  it('sends the same idempotency key on every attempt', async () => {
    // Prepare: two attempts fail at the PSP, the third succeeds
    ddb
      .on(QueryCommand)
      .resolvesOnce(stored('EXECUTING'))
      .resolvesOnce(stored('EXECUTING'))
      .resolvesOnce(stored('EXECUTING'))
      .resolves(stored('EXECUTING', 'SUCCESS', { psp_reference: 'pi_retry' }));
    ddb.on(TransactWriteCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    const psp = new FakePsp([
      new PspTransientError('PSP unavailable'),
      new PspTransientError('PSP unavailable'),
      { outcome: 'SUCCEEDED', pspReference: 'pi_retry' },
    ]);
    const deps = stepDeps(psp);

    // Act
    await expect(charge(deps, PAYMENT_ID)).rejects.toThrow(PspTransientError);
    await expect(charge(deps, PAYMENT_ID)).rejects.toThrow(PspTransientError);
    const third = await charge(deps, PAYMENT_ID);
    const fourth = await charge(deps, PAYMENT_ID); // a re-drive after success: no PSP call at all

    // Assess
    expect(third).toEqual({ outcome: 'SUCCEEDED', psp_reference: 'pi_retry' });
    expect(fourth).toEqual({ outcome: 'SUCCEEDED', psp_reference: 'pi_retry' });
    expect(psp.requests.map((r) => r.idempotencyKey)).toEqual([
      'pay_unit_1:charge',
      'pay_unit_1:charge',
      'pay_unit_1:charge',
    ]);
  });

  it('does not call the PSP for a payment already FAILED', async () => {
    // Prepare
    const psp = new FakePsp([]);
    ddb
      .on(QueryCommand)
      .resolves(paymentItems(paymentEvent({ status: 'FAILED', status_reason: 'risk_rejected:x' }), []));

    // Act
    const result = await charge(stepDeps(psp), PAYMENT_ID);

    // Assess
    expect(result).toEqual({ outcome: 'DECLINED', reason: 'risk_rejected:x' });
    expect(psp.requests).toHaveLength(0);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it.each([
    ['UNKNOWN', 'UNKNOWN'],
    ['PENDING', 'PENDING'],
  ] as const)('refuses a payment %s without calling the PSP', async (eventStatus, orderStatus) => {
    // Prepare
    const psp = new FakePsp([]);
    ddb.on(QueryCommand).resolves(stored(eventStatus, orderStatus));

    // Act & Assess
    await expect(charge(stepDeps(psp), PAYMENT_ID)).rejects.toThrow(InconsistentStateError);
    expect(psp.requests).toHaveLength(0);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
});

describe('Steps: creditWallet and appendLedger (src/payin/steps)', () => {
  it('books the order in one transaction: the wallet credit, the ledger transaction and both flags', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', charged));
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    const result = await creditWallet(stepDeps(), PAYMENT_ID, 'po_1');

    // Assess
    expect(result).toEqual({ credited: true, ledger_booked: true });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    const items = transactItems(0);
    // Order flags, wallet, funds record, the ledger header (carrying its 3 entries) and the seller's payable entry.
    expect(items).toHaveLength(5);
    expect(items[0]?.Update).toMatchObject({
      TableName: 'payments-table',
      Key: { pk: `PAY#${PAYMENT_ID}`, sk: 'ORDER#po_1' },
      UpdateExpression: 'SET #flag = :true, #flag1 = :true, updated_at = :now',
      ConditionExpression: '#status = :success AND #flag = :false AND #flag1 = :false',
      ExpressionAttributeNames: { '#flag': 'wallet_updated', '#flag1': 'ledger_updated', '#status': 'status' },
      ExpressionAttributeValues: expect.objectContaining({ ':success': 'SUCCESS', ':true': true, ':false': false }),
    });
    // The ledger's balanced transaction of the same money, each item written once.
    expect(items.slice(3).map((i) => [i.Put?.TableName, i.Put?.Item?.sk, i.Put?.ConditionExpression])).toEqual([
      ['ledger-table', 'TXN#payin:po_1', 'attribute_not_exists(pk)'],
      ['ledger-table', 'TXN#payin:po_1#001', 'attribute_not_exists(pk)'],
    ]);
    expect(items[3]?.Put?.Item?.entries).toHaveLength(3);
    expect(items[4]?.Put?.Item).toMatchObject({ entity: 'ENTRY', account: 'liability:seller_payable:seller_po_1' });
    // Credited as pending (available once the PSP says so), with the funds record naming the PSP payment.
    expect(items[1]?.Update).toMatchObject({
      TableName: 'wallets-table',
      Key: { pk: 'WALLET#seller_po_1', sk: 'USD' },
      ExpressionAttributeValues: expect.objectContaining({ ':amount': 975, ':pending': 975 }),
    });
    expect(items[1]?.Update?.ExpressionAttributeValues).not.toHaveProperty(':available');
    expect(items[2]?.Put).toMatchObject({
      TableName: 'wallets-table',
      Item: { pk: 'FUNDS#po_1', status: 'PENDING', amount_minor: 975, payment_id: PAYMENT_ID, psp_reference: 'pi_1' },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  it('is a no-op when wallet_updated is already set', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', { ...charged, wallet_updated: true }));

    // Act
    const result = await creditWallet(stepDeps(), PAYMENT_ID, 'po_2');

    // Assess: whether the ledger is booked is said, so AppendLedger knows what is left
    expect(result).toEqual({ credited: false, ledger_booked: false });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('credits only the wallet of an order whose ledger transaction was booked before', async () => {
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', { ...charged, ledger_updated: true }));
    ddb.on(TransactWriteCommand).resolves({});
    await expect(creditWallet(stepDeps(), PAYMENT_ID, 'po_1')).resolves.toEqual({
      credited: true,
      ledger_booked: true,
    });
    const items = transactItems(0);
    expect(items).toHaveLength(3);
    expect(items[0]?.Update?.ExpressionAttributeNames).toEqual({ '#flag': 'wallet_updated', '#status': 'status' });
  });

  it('AppendLedger reads and writes nothing when CreditWallet booked the ledger', async () => {
    await expect(
      appendLedger(stepDeps(), PAYMENT_ID, 'po_1', { credited: false, ledger_booked: true }),
    ).resolves.toEqual({ appended: false });
    expect(ddb.calls()).toHaveLength(0);
  });

  it('reports no credit when the flags were set concurrently (guard condition failed), and what is booked', async () => {
    // Prepare: the read after the refused write finds the order booked
    ddb
      .on(QueryCommand)
      .resolvesOnce(stored('EXECUTING', 'SUCCESS', charged))
      .resolves(stored('EXECUTING', 'SUCCESS', booked));
    ddb.on(TransactWriteCommand).rejects(canceled('ConditionalCheckFailed', 'None'));

    // Act & Assess
    await expect(creditWallet(stepDeps(), PAYMENT_ID, 'po_1')).resolves.toEqual({
      credited: false,
      ledger_booked: true,
    });
  });

  it('refuses loudly when a record of the booking exists without the order’s flags (never credits twice)', async () => {
    // Prepare: the ledger transaction's condition fails, the order's flags are still false
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', charged));
    ddb
      .on(TransactWriteCommand)
      .rejects(canceled('None', 'None', 'None', 'ConditionalCheckFailed', 'None', 'None', 'None'));

    // Act & Assess
    await expect(creditWallet(stepDeps(), PAYMENT_ID, 'po_1')).rejects.toThrow(InconsistentStateError);
  });

  it('surfaces a transaction cancelled by a TransactionConflict as TransientError (a multi-item write, retried)', async () => {
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', charged));
    ddb.on(TransactWriteCommand).rejects(canceled('TransactionConflict', 'None', 'None'));
    await expect(
      creditWalletLambda.handler({ payment_id: PAYMENT_ID, payment_order_id: 'po_1' }, context),
    ).rejects.toMatchObject({
      name: 'TransientError',
    });
  });

  it.each([
    ['an order still EXECUTING', stored('EXECUTING')],
    ['a SUCCESS order without a PSP reference', stored('EXECUTING', 'SUCCESS')],
  ])('refuses to book %s', async (_label, items) => {
    // Prepare
    ddb.on(QueryCommand).resolves(items);

    // Act & Assess
    await expect(creditWallet(stepDeps(), PAYMENT_ID, 'po_1')).rejects.toThrow(InconsistentStateError);
    await expect(appendLedger(stepDeps(), PAYMENT_ID, 'po_1')).rejects.toThrow(InconsistentStateError);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('appends the balanced pay-in transaction with the order flag, every item conditional', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', charged));
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    const result = await appendLedger(stepDeps(), PAYMENT_ID, 'po_1');

    // Assess
    expect(result).toEqual({ appended: true });
    const items = transactItems(0);
    // The header carries the three entries; the seller's payable entry is also an item (the by-account statement).
    expect(items).toHaveLength(3); // header, the seller's payable entry, order flag
    expect(items[0]?.Put?.Item).toMatchObject({
      pk: `REF#${PAYMENT_ID}`,
      sk: 'TXN#payin:po_1',
      entity: 'TRANSACTION',
      entry_count: 3,
      entries: [
        { account: 'asset:psp_clearing', direction: 'DEBIT', amount_minor: 1000, currency: 'USD' },
        { account: 'liability:seller_payable:seller_po_1', direction: 'CREDIT', amount_minor: 975, currency: 'USD' },
        { account: 'revenue:platform_fees', direction: 'CREDIT', amount_minor: 25, currency: 'USD' },
      ],
    });
    expect(
      items
        .slice(1, 2)
        .map((i) => [i.Put?.Item?.sk, i.Put?.Item?.account, i.Put?.Item?.direction, i.Put?.Item?.amount_minor]),
    ).toEqual([['TXN#payin:po_1#001', 'liability:seller_payable:seller_po_1', 'CREDIT', 975]]);
    for (const item of items.slice(0, 2)) {
      expect(item.Put?.TableName).toBe('ledger-table');
      expect(item.Put?.ConditionExpression).toBe('attribute_not_exists(pk)');
    }
    expect(items[2]?.Update?.ExpressionAttributeNames).toEqual({ '#flag': 'ledger_updated', '#status': 'status' });
  });

  it('is a no-op when ledger_updated is already set', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', { ...charged, ledger_updated: true }));

    // Act
    const result = await appendLedger(stepDeps(), PAYMENT_ID, 'po_1');

    // Assess
    expect(result).toEqual({ appended: false });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('reports nothing appended when the transaction id exists already', async () => {
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', charged));
    ddb.on(TransactWriteCommand).rejects(canceled('ConditionalCheckFailed', 'None', 'None', 'None', 'None'));
    await expect(appendLedger(stepDeps(), PAYMENT_ID, 'po_1')).resolves.toEqual({ appended: false });
  });
});

describe('Step: finalize (src/payin/steps)', () => {
  it('refuses with InconsistentStateError when an order is not booked', async () => {
    // Prepare: po_2 has its wallet credit but not its ledger entry
    ddb
      .on(QueryCommand)
      .resolves(
        paymentItems(paymentEvent({ status: 'EXECUTING' }), [
          paymentOrder('po_1', { status: 'SUCCESS', ...booked }),
          paymentOrder('po_2', { status: 'SUCCESS', ...booked, ledger_updated: false }),
        ]),
      );

    // Act & Assess
    await expect(finalize(stepDeps(), PAYMENT_ID)).rejects.toThrow(
      new InconsistentStateError(`payment ${PAYMENT_ID}: orders not charged and booked: po_2`),
    );
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('refuses when an order is booked but not charged', async () => {
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'EXECUTING', booked));
    await expect(finalize(stepDeps(), PAYMENT_ID)).rejects.toThrow(InconsistentStateError);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('moves the payment event to SUCCESS (one conditional update) when every order is charged and booked', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', booked));
    ddb.on(UpdateCommand).resolves({});

    // Act
    const result = await finalize(stepDeps(), PAYMENT_ID);

    // Assess
    expect(result).toMatchObject({ status: 'SUCCESS', finalized: true, currency: 'USD' });
    expect(Number.isSafeInteger(result.total_minor)).toBe(true);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    const updates = ddb.commandCalls(UpdateCommand);
    expect(updates).toHaveLength(1);
    const update = updates[0]!.args[0].input;
    expect(update.Key).toEqual({ pk: `PAY#${PAYMENT_ID}`, sk: 'EVENT' });
    // A final payment leaves the by-status index (the janitor looks only for open ones).
    expect(update.UpdateExpression).toMatch(/ REMOVE status_reason, gsi1pk, gsi1sk$/);
    expect(update.UpdateExpression).not.toMatch(/gsi1pk =/);
    expect(update.ConditionExpression).toBe('#status IN (:from0, :from1, :from2)');
    expect(update.ExpressionAttributeValues).toMatchObject({
      ':to': 'SUCCESS',
      ':from0': 'EXECUTING',
      ':from1': 'PENDING',
      ':from2': 'UNKNOWN',
    });
  });

  it('refuses when the payment moved while being finalized', async () => {
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', booked));
    ddb
      .on(UpdateCommand)
      .rejects(Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' }));
    await expect(finalize(stepDeps(), PAYMENT_ID)).rejects.toThrow(
      new InconsistentStateError(`payment ${PAYMENT_ID} moved while being finalized`),
    );
  });

  const refused = () =>
    Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
  /** The payment as read again after the refused update: SUCCESS, marked by the attempt `by` (or none). */
  const successMarked = (by?: string) =>
    paymentItems(paymentEvent({ status: 'SUCCESS', ...(by ? { finalized_by: by } : {}) }), [
      paymentOrder('po_1', { status: 'SUCCESS', ...booked }),
      paymentOrder('po_2', { status: 'SUCCESS', ...booked }),
    ]);

  it('counts its own landed write (answer lost, the retry refused) as the move to SUCCESS', async () => {
    // Prepare: the update lands, its answer is lost, the SDK's retry is refused; reading again finds this attempt's mark
    let mark: string | undefined;
    ddb.on(UpdateCommand).callsFake(async (input) => {
      mark = input.ExpressionAttributeValues?.[':e_finalized_by'] as string;
      throw refused();
    });
    ddb
      .on(QueryCommand)
      .resolvesOnce(stored('EXECUTING', 'SUCCESS', booked))
      .callsFake(async () => successMarked(mark));

    // Act & Assess
    await expect(finalize(stepDeps(), PAYMENT_ID)).resolves.toMatchObject({ status: 'SUCCESS', finalized: true });
    expect(mark).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('does not count a move to SUCCESS another attempt made', async () => {
    ddb.on(UpdateCommand).rejects(refused());
    ddb
      .on(QueryCommand)
      .resolvesOnce(stored('EXECUTING', 'SUCCESS', booked))
      .resolves(successMarked('another-attempt'));
    await expect(finalize(stepDeps(), PAYMENT_ID)).resolves.toMatchObject({ status: 'SUCCESS', finalized: false });
  });

  it('is a no-op for a payment already SUCCESS', async () => {
    ddb.on(QueryCommand).resolves(stored('SUCCESS', 'SUCCESS', booked));
    await expect(finalize(stepDeps(), PAYMENT_ID)).resolves.toMatchObject({ status: 'SUCCESS', finalized: false });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
});

describe('Handlers: pay-in step Lambdas (lambdas/payin)', () => {
  it('finalize handler moves a booked payment to SUCCESS through the configured table', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', booked));
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    const result = await finalizeLambda.handler({ payment_id: PAYMENT_ID }, context);

    // Assess
    expect(result).toEqual({ status: 'SUCCESS', finalized: true, currency: 'USD', total_minor: 1500 });
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      TableName: 'payments-table',
      ExpressionAttributeValues: { ':pk': `PAY#${PAYMENT_ID}` },
    });
  });

  it.each([
    ['finalize', () => finalizeLambda.handler({ payment_id: PAYMENT_ID }, context)],
    ['charge', () => chargeLambda.handler({ payment_id: PAYMENT_ID }, context)],
    ['credit-wallet', () => creditWalletLambda.handler({ payment_id: PAYMENT_ID, payment_order_id: 'po_1' }, context)],
  ])('%s handler surfaces a DynamoDB ThrottlingException as an error named TransientError', async (_name, invoke) => {
    // Prepare
    ddb
      .on(QueryCommand)
      .rejects(new ThrottlingException({ message: 'Rate of requests exceeds the allowed throughput', $metadata: {} }));

    // Act
    let thrown: unknown;
    try {
      await invoke();
    } catch (error) {
      thrown = error;
    }

    // Assess
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).name).toBe('TransientError');
    expect((thrown as Error).message).toBe(
      'transient AWS error: ThrottlingException: Rate of requests exceeds the allowed throughput',
    );
    expect(((thrown as Error).cause as Error).name).toBe('ThrottlingException');
  });

  it('surfaces a conflict with a transaction in flight (TransactionConflictException) as TransientError', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves(stored('EXECUTING', 'SUCCESS', booked));
    ddb
      .on(UpdateCommand)
      .rejects(
        Object.assign(new Error('Transaction is ongoing for the item'), { name: 'TransactionConflictException' }),
      );

    // Act & Assess
    await expect(finalizeLambda.handler({ payment_id: PAYMENT_ID }, context)).rejects.toMatchObject({
      name: 'TransientError',
    });
  });

  it('lets a business error keep its own name (not retried as transient)', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await expect(finalizeLambda.handler({ payment_id: PAYMENT_ID }, context)).rejects.toMatchObject({
      name: 'NotFoundError',
      message: `payment ${PAYMENT_ID} not found`,
    });
  });

  it('refuses a task input without payment_id before any DynamoDB call', async () => {
    await expect(finalizeLambda.handler({ payment_order_id: 'po_1' }, context)).rejects.toMatchObject({
      name: 'InvalidStepInputError',
      message: expect.stringContaining('payment_id'),
    });
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('Step: decideReview (src/payin/steps)', () => {
  function held() {
    return paymentItems(paymentEvent({ status: 'PENDING', risk_decision: 'REVIEW' }), [
      paymentOrder('po_1', { status: 'PENDING' }),
      paymentOrder('po_2', { status: 'PENDING' }),
    ]);
  }

  it.each([
    ['approve', 'EXECUTING'],
    ['reject', 'FAILED'],
  ] as const)('%s writes only from the observed state: PENDING and still held for review', async (decision, to) => {
    // Prepare
    ddb.on(QueryCommand).resolves(held());
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    const { changed } = await decideReview(stepDeps(), PAYMENT_ID, decision);

    // Assess: a concurrent opposite decision (or a later PSP wait, also PENDING) fails these conditions.
    expect(changed).toBe(true);
    const [event, ...orders] = transactItems(0);
    expect(event?.Update?.ConditionExpression).toBe('#status IN (:from0) AND #if = :if');
    expect(event?.Update?.ExpressionAttributeValues).toMatchObject({ ':to': to, ':from0': 'PENDING', ':if': 'REVIEW' });
    expect(event?.Update?.ExpressionAttributeNames).toMatchObject({ '#if': 'risk_decision' });
    for (const order of orders) expect(order.Update?.ConditionExpression).toBe('#status IN (:from0)');
  });

  it('changes nothing when the opposite decision won the race (the transaction is cancelled)', async () => {
    ddb.on(QueryCommand).resolves(held());
    ddb.on(TransactWriteCommand).rejects(canceled('ConditionalCheckFailed', 'None', 'None'));
    const { changed } = await decideReview(stepDeps(), PAYMENT_ID, 'approve');
    expect(changed).toBe(false);
  });
});
