/**
 * The business metrics, as CloudWatch receives them: the Finalize and Janitor handlers run (their pay-in steps
 * replaced by fakes), and the payments table's move to FAILED, with Powertools' own Metrics, and the EMF lines it writes to stdout are read back:
 * names, units, dimensions, integer minor-unit values, the payment id riding along; and a metric that cannot be
 * published never fails the step.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';

jest.mock('../../src/payin/steps', () => ({ finalize: jest.fn(), recordFailure: jest.fn() }));
jest.mock('../../src/payin/deps', () => ({ stepDeps: () => ({}), payInPsp: { provide: () => undefined } }));
jest.mock('../../src/payin/janitor', () => ({
  runJanitor: jest.fn(),
  needingAPerson: jest.fn(),
  listFailure: jest.requireActual('../../src/payin/janitor').listFailure,
}));

Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'unit-test',
  PAYIN_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:PayIn',
  // What the CDK app and the local stack give every function.
  POWERTOOLS_SERVICE_NAME: 'payments',
  POWERTOOLS_METRICS_NAMESPACE: 'Payments',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});

const steps = jest.requireMock('../../src/payin/steps') as { finalize: jest.Mock; recordFailure: jest.Mock };
const janitor = jest.requireMock('../../src/payin/janitor') as { runJanitor: jest.Mock; needingAPerson: jest.Mock };
// The handler modules are required only now, once their environment is in place.
const finalizeLambda = require('../../lambdas/payin/finalize') as typeof import('../../lambdas/payin/finalize');
const recordFailureLambda =
  require('../../lambdas/payin/record-failure') as typeof import('../../lambdas/payin/record-failure');
const janitorLambda = require('../../lambdas/ops/janitor') as typeof import('../../lambdas/ops/janitor');
const { PaymentsTable } = require('../../src/payin/payments-table') as typeof import('../../src/payin/payments-table');

const context = {
  functionName: 'unit-test',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

/** A CloudWatch embedded-metric-format line: its `_aws` block, then dimensions, metrics and metadata as properties. */
interface Emf {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [property: string]: unknown;
}

let written: string[];
beforeEach(() => {
  written = [];
  jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);
  steps.finalize.mockReset();
  steps.recordFailure.mockReset();
});
afterEach(() => jest.restoreAllMocks());

/** The EMF lines written to stdout. */
function emf(): Emf[] {
  return written
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Emf);
}

/** Each published metric: name, unit, value, namespace, its dimension names and values, and the line's payment id. */
function published() {
  return emf().flatMap((line) =>
    line._aws.CloudWatchMetrics.flatMap((block) =>
      block.Metrics.map((metric) => ({
        name: metric.Name,
        unit: metric.Unit,
        value: line[metric.Name],
        namespace: block.Namespace,
        dimensions: Object.fromEntries(block.Dimensions.flat().map((dimension) => [dimension, line[dimension]])),
        payment_id: line.payment_id,
      })),
    ),
  );
}

describe('Finalize: PaymentsSucceeded and the amount per currency', () => {
  test('a payment finalized: one PaymentsSucceeded, and its total in minor units with the currency dimension', async () => {
    steps.finalize.mockResolvedValue({ status: 'SUCCESS', finalized: true, currency: 'EUR', total_minor: 1734 });
    await expect(finalizeLambda.handler({ payment_id: 'pay_1' }, context)).resolves.toEqual({
      status: 'SUCCESS',
      finalized: true,
      currency: 'EUR',
      total_minor: 1734,
    });
    expect(published()).toEqual([
      {
        name: 'PaymentsSucceeded',
        unit: 'Count',
        value: 1,
        namespace: 'Payments',
        dimensions: { service: 'payments' },
        payment_id: 'pay_1',
      },
      {
        name: 'PaymentAmountSucceeded',
        unit: 'None',
        value: 1734,
        namespace: 'Payments',
        dimensions: { service: 'payments', currency: 'EUR' },
        payment_id: 'pay_1',
      },
    ]);
    expect(Number.isInteger(published()[1]!.value)).toBe(true);
  });

  test('a zero-exponent currency keeps its integer amount (JPY 500 is 500)', async () => {
    steps.finalize.mockResolvedValue({ status: 'SUCCESS', finalized: true, currency: 'JPY', total_minor: 500 });
    await finalizeLambda.handler({ payment_id: 'pay_2' }, context);
    expect(published().find((m) => m.name === 'PaymentAmountSucceeded')).toMatchObject({
      value: 500,
      dimensions: { currency: 'JPY' },
    });
  });

  test('the step as it answers today ({status} only): the count, no amount', async () => {
    steps.finalize.mockResolvedValue({ status: 'SUCCESS' });
    await finalizeLambda.handler({ payment_id: 'pay_3' }, context);
    expect(published().map((m) => m.name)).toEqual(['PaymentsSucceeded']);
  });

  test('a retry of a payment already finalized (finalized: false) is not counted again', async () => {
    steps.finalize.mockResolvedValue({ status: 'SUCCESS', finalized: false, currency: 'EUR', total_minor: 1734 });
    await finalizeLambda.handler({ payment_id: 'pay_4' }, context);
    expect(published()).toEqual([]);
  });

  test('a float of major units is never published as an amount (the count still is), and the step succeeds', async () => {
    steps.finalize.mockResolvedValue({ status: 'SUCCESS', finalized: true, currency: 'EUR', total_minor: 17.34 });
    await expect(finalizeLambda.handler({ payment_id: 'pay_5' }, context)).resolves.toMatchObject({
      status: 'SUCCESS',
    });
    expect(published().map((m) => m.name)).toEqual(['PaymentsSucceeded']);
  });

  test('metrics that cannot be published do not fail the step', async () => {
    jest.spyOn(Metrics.prototype, 'publishStoredMetrics').mockImplementation(() => {
      throw new Error('EMF serialization failed');
    });
    steps.finalize.mockResolvedValue({ status: 'SUCCESS', finalized: true, currency: 'EUR', total_minor: 1734 });
    await expect(finalizeLambda.handler({ payment_id: 'pay_6' }, context)).resolves.toMatchObject({
      status: 'SUCCESS',
    });
    expect(published()).toEqual([]);
  });

  test('a step that fails publishes nothing (and still fails, for Step Functions to retry)', async () => {
    steps.finalize.mockRejectedValue(new Error('payment moved while being finalized'));
    await expect(finalizeLambda.handler({ payment_id: 'pay_7' }, context)).rejects.toThrow('moved');
    expect(published()).toEqual([]);
  });
});

describe('PaymentsFailed: counted by the write that moves a payment to FAILED', () => {
  const payment = {
    event: { payment_id: 'pay_8', status: 'EXECUTING', order_ids: ['o1'] },
    orders: [{ payment_id: 'pay_8', payment_order_id: 'o1', status: 'EXECUTING' }],
  } as unknown as import('../../src/payin/payment').Payment;
  const table = (send: () => Promise<unknown>) =>
    new PaymentsTable({ send } as unknown as import('@aws-sdk/lib-dynamodb').DynamoDBDocumentClient, 'payments');

  test('a decline moves the payment to FAILED: one PaymentsFailed, with the payment id and the reason', async () => {
    await expect(
      table(async () => ({})).transition(payment, 'FAILED', { reason: 'declined:card_declined' }),
    ).resolves.toBe(true);
    expect(published()).toEqual([
      {
        name: 'PaymentsFailed',
        unit: 'Count',
        value: 1,
        namespace: 'Payments',
        dimensions: { service: 'payments' },
        payment_id: 'pay_8',
      },
    ]);
    expect(emf()[0]).toMatchObject({ reason: 'declined:card_declined', status: 'FAILED' });
  });

  test('a second attempt whose condition fails (moved before) counts nothing', async () => {
    const refused = Object.assign(new Error('Transaction cancelled'), {
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'ConditionalCheckFailed' }],
    });
    await expect(
      table(async () => {
        throw refused;
      }).transition(payment, 'FAILED', { reason: 'declined:card_declined' }),
    ).resolves.toBe(false);
    expect(published()).toEqual([]);
  });

  test('other moves count no failure; RecordFailure (UNKNOWN: the janitor settles it) counts none', async () => {
    await table(async () => ({})).transition(payment, 'UNKNOWN', { reason: 'psp_outcome_unknown:x' });
    steps.recordFailure.mockResolvedValue({ status: 'UNKNOWN' });
    await expect(
      recordFailureLambda.handler(
        { payment_id: 'pay_9', stage: 'charge', error: { Error: 'PspTransientError' } },
        context,
      ),
    ).resolves.toEqual({ status: 'UNKNOWN' });
    expect(published()).toEqual([]);
  });

  test('metrics that cannot be published do not fail the write', async () => {
    jest.spyOn(Metrics.prototype, 'addMetric').mockImplementation(() => {
      throw new RangeError('bad metric');
    });
    await expect(table(async () => ({})).transition(payment, 'FAILED', { reason: 'x' })).resolves.toBe(true);
  });
});

describe('Janitor: the PendingPayments gauge', () => {
  const report = (examined: number) => ({ examined, redriven: [], resolved: [], errors: [] });

  test('each run publishes how many stale non-final payments it found', async () => {
    janitor.runJanitor.mockResolvedValue(report(3));
    janitor.needingAPerson.mockReturnValue([]);
    await janitorLambda.handler({}, context);
    expect(published()).toEqual([
      {
        name: 'PendingPayments',
        unit: 'Count',
        value: 3,
        namespace: 'Payments',
        dimensions: { service: 'payments' },
        payment_id: undefined,
      },
    ]);
  });

  test('a run that could not read the open payments fails (its error alarm) and publishes no partial gauge', async () => {
    janitor.runJanitor.mockResolvedValue({
      ...report(2),
      errors: [{ payment_id: '', error: 'User is not authorized', kind: 'AccessDeniedException' }],
    });
    janitor.needingAPerson.mockReturnValue([]);
    await expect(janitorLambda.handler({}, context)).rejects.toThrow(
      'the janitor could not read the open payments: AccessDeniedException: User is not authorized',
    );
    expect(published()).toEqual([]);
  });

  test('a run that fails (a payment needs a person) still publishes its gauge first', async () => {
    janitor.runJanitor.mockResolvedValue(report(1));
    janitor.needingAPerson.mockReturnValue([{ payment_id: 'pay_11', error: 'two charges', kind: 'x' }]);
    await expect(janitorLambda.handler({}, context)).rejects.toThrow('need a person');
    expect(published().map((m) => [m.name, m.value])).toEqual([['PendingPayments', 1]]);
  });
});
