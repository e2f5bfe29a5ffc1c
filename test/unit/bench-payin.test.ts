/** The pay-in benchmark's arithmetic: which calls are a payment's, what they add up to, the cost model, the replay's renaming. */
import { callsOfPayments, costPerMillion, countCalls, type PaymentCount, PRICES, renamed } from '../../bench/payin';
import type { MeteredCall } from '../../local/dynamodb-meter';

const PAY_A = `pay_${'a'.repeat(32)}`;
const PAY_B = `pay_${'b'.repeat(32)}`;
const metered = (at: number, operation: string, extra: Partial<MeteredCall> = {}): MeteredCall => ({
  at,
  operation,
  tables: ['Payments'],
  items: 1,
  wcu: 0,
  rcu: 0,
  aws_wcu: 0,
  aws_wcu_indexes: 0,
  ms: 1,
  status: 200,
  request: '{}',
  ...extra,
});

describe('the pay-in benchmark', () => {
  it('gives a payment the calls that name it, and the unnamed ones made while it was in flight', () => {
    const calls = [
      metered(10, 'PutItem', { payment_id: PAY_A, wcu: 2 }),
      metered(15, 'PutItem', { tables: ['Idempotency'], wcu: 1 }),
      metered(25, 'Query', { payment_id: PAY_A, rcu: 0.5 }),
      metered(26, 'GetItem', { tables: ['ApiKeys'], rcu: 1 }),
      metered(40, 'TransactWriteItems', { payment_id: PAY_B, items: 3, wcu: 6, aws_wcu: 10, aws_wcu_indexes: 4 }),
      metered(99, 'Scan'),
    ];
    const byPayment = callsOfPayments(calls, [
      { payment_id: PAY_A, from: 0, to: 20 },
      { payment_id: PAY_B, from: 20, to: 50 },
    ]);
    expect(byPayment.get(PAY_A)?.map((c) => c.at)).toEqual([10, 15, 25]);
    expect(byPayment.get(PAY_B)?.map((c) => c.at)).toEqual([26, 40]);
    expect(countCalls(byPayment.get(PAY_B) ?? [])).toEqual({
      dynamodb_calls: 2,
      by_operation: { GetItem: 1, TransactWriteItems: 1 },
      by_table: { ApiKeys: 1, Payments: 1 },
      transaction_items: [3],
      wcu: 6,
      rcu: 1,
      aws_wcu: 10,
      aws_wcu_indexes: 4,
    });
  });

  it('a payment whose writes the meter could not all model has unknown AWS units, never a lower total', () => {
    const counted = countCalls([
      metered(1, 'PutItem', { wcu: 1, aws_wcu: 1, aws_wcu_indexes: 0 }),
      metered(2, 'UpdateItem', { wcu: 1, aws_wcu: null, aws_wcu_indexes: null }),
    ]);
    expect(counted.wcu).toBe(2);
    expect(counted.aws_wcu).toBeNaN();
    expect(counted.aws_wcu_indexes).toBeNaN();
  });

  it('models the cost of a million payments from the counts and the dated list prices', () => {
    const count = {
      state_transitions: 10,
      invocations: 10,
      task_ms: 100,
      wcu: 20,
      aws_wcu: 30,
      rcu: 10,
      webhook_events: 2,
    } as PaymentCount;
    const cost = costPerMillion(count, 0.5);
    expect(cost.step_functions).toBeCloseTo(10 * PRICES.stepFunctionsPerTransition * 1e6, 2);
    // Writes at the units AWS bills (modeled), not DynamoDB Local's lower figure for transactions.
    expect(cost.dynamodb).toBeCloseTo((30 * PRICES.dynamoPerWriteUnit + 10 * PRICES.dynamoPerReadUnit) * 1e6, 2);
    expect(cost.sqs).toBeCloseTo(6 * PRICES.sqsPerRequest * 1e6, 2);
    expect(cost.api_gateway).toBeCloseTo(3 * PRICES.apiGatewayPerRequest * 1e6, 2);
    expect(cost.lambda).toBeCloseTo(
      (10 * PRICES.lambdaPerRequest + 10 * 0.1 * 0.5 * PRICES.lambdaPerGbSecondArm) * 1e6,
      2,
    );
    expect(cost.total).toBeCloseTo(cost.step_functions + cost.lambda + cost.dynamodb + cost.sqs + cost.api_gateway, 1);
  });

  it('replays a payment under fresh ids: every id of ours renamed alike, the idempotency record keyed anew', () => {
    const calls = [
      metered(1, 'PutItem', {
        request: `{"Item":{"pk":{"S":"PAY#${PAY_A}"},"checkout":{"S":"chk_0123abcd"},"buyer":{"S":"buyer_89abcdef"}}}`,
      }),
      metered(2, 'PutItem', { tables: ['Idempotency'], request: '{"Item":{"id":{"S":"CreatePayment#5d41"}}}' }),
      metered(4, 'TransactWriteItems', {
        request: `{"TransactItems":[{"Put":{"Item":{"pk":{"S":"PAY#${PAY_A}"}}}}],"ClientRequestToken":"c0ffee"}`,
      }),
      metered(3, 'UpdateItem', {
        request: `{"Key":{"pk":{"S":"PAY#${PAY_A}"}},"order":{"S":"chk_0123abcd_po1"},"evt":{"S":"evt_X1"}}`,
      }),
    ];
    const copy = renamed(calls, 'r7');
    expect(copy.map((c) => c.status)).toEqual([200, 200, 200, 200]);
    // A transaction's token is the SDK's, not ours: a copy goes without it (else DynamoDB refuses it as a replay).
    expect(copy[2]?.body).toBe(`{"TransactItems":[{"Put":{"Item":{"pk":{"S":"PAY#${PAY_A}r7"}}}}]}`);
    expect(copy.map((c) => c.target)).toEqual([
      'DynamoDB_20120810.PutItem',
      'DynamoDB_20120810.PutItem',
      'DynamoDB_20120810.TransactWriteItems',
      'DynamoDB_20120810.UpdateItem',
    ]);
    expect(copy[0]?.body).toBe(
      `{"Item":{"pk":{"S":"PAY#${PAY_A}r7"},"checkout":{"S":"chk_0123abcdr7"},"buyer":{"S":"buyer_89abcdefr7"}}}`,
    );
    expect(copy[1]?.body).toBe('{"Item":{"id":{"S":"CreatePayment#5d41r7"}}}');
    expect(copy[3]?.body).toContain('"chk_0123abcdr7_po1"');
    expect(copy[3]?.body).toContain('"evt_X1r7"');
  });
});
