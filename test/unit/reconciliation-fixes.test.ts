/**
 * Reconciliation's automatic fixes, made by the flows' janitors: the invoking side (LambdaRecoveryActions: what it
 * sends, how it reads each kind of answer) and the janitor's side (orReconciliationFix: a fix request is checked and
 * answered, an error answered rather than thrown, anything else runs the sweep).
 */
import type { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import * as z from 'zod/mini';
import { isFixRequest, orReconciliationFix } from '../../lambdas/ops/reconciliation-fix';
import { text } from '../../src/core/step-handler';
import { FixFunctionError, LambdaRecoveryActions } from '../../src/reconciliation/fix-invoker';

type Answer = { Payload?: Uint8Array; FunctionError?: string };

/** A Lambda client that records each invocation and answers what the test says. */
function fakeLambda(answer: (request: { FunctionName: string; payload: unknown }) => Answer | Promise<Answer>) {
  const sent: Array<{ FunctionName: string; InvocationType?: string; payload: unknown }> = [];
  const client = {
    send: async (command: InvokeCommand) => {
      const input = command.input;
      const payload = JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array));
      const request = { FunctionName: String(input.FunctionName), InvocationType: input.InvocationType, payload };
      sent.push(request);
      return answer(request);
    },
  } as unknown as LambdaClient;
  return { client, sent };
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const NAMES = { payment: 'payments-Janitor', refund: 'payments-RefundJanitor', payout: 'payments-PayoutJanitor' };

describe('LambdaRecoveryActions: each fix asks its flow janitor, synchronously', () => {
  test('each kind of fix goes to its janitor with the record id, and answers what the janitor did', async () => {
    const lambda = fakeLambda(({ FunctionName }) => ({ Payload: json({ result: `done by ${FunctionName}` }) }));
    const actions = new LambdaRecoveryActions(
      () => lambda.client,
      () => NAMES,
    );
    await expect(actions.settlePayment('pay_1')).resolves.toBe('done by payments-Janitor');
    await expect(actions.settleRefund('ref_1')).resolves.toBe('done by payments-RefundJanitor');
    await expect(actions.applyDispute('dp_1')).resolves.toBe('done by payments-RefundJanitor');
    await expect(actions.settlePayout('po_1')).resolves.toBe('done by payments-PayoutJanitor');
    expect(lambda.sent).toEqual([
      {
        FunctionName: 'payments-Janitor',
        InvocationType: 'RequestResponse',
        payload: { reconciliation_fix: { payment_id: 'pay_1' } },
      },
      {
        FunctionName: 'payments-RefundJanitor',
        InvocationType: 'RequestResponse',
        payload: { reconciliation_fix: { refund_id: 'ref_1' } },
      },
      {
        FunctionName: 'payments-RefundJanitor',
        InvocationType: 'RequestResponse',
        payload: { reconciliation_fix: { dispute_id: 'dp_1' } },
      },
      {
        FunctionName: 'payments-PayoutJanitor',
        InvocationType: 'RequestResponse',
        payload: { reconciliation_fix: { payout_id: 'po_1' } },
      },
    ]);
  });

  test('a fix the janitor could not make (answered) is an error with its type and message', async () => {
    const lambda = fakeLambda(() => ({ Payload: json({ error: { type: 'TransientError', message: 'PSP 503' } }) }));
    const failed = await new LambdaRecoveryActions(
      () => lambda.client,
      () => NAMES,
    )
      .settleRefund('ref_1')
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(FixFunctionError);
    expect(failed).toMatchObject({ name: 'TransientError', message: 'PSP 503', functionName: NAMES.refund });
  });

  test("the janitor's crash (Lambda's FunctionError and error document) is an error too", async () => {
    const lambda = fakeLambda(() => ({
      FunctionError: 'Unhandled',
      Payload: json({ errorType: 'Runtime.ExitError', errorMessage: 'process exited' }),
    }));
    const actions = new LambdaRecoveryActions(
      () => lambda.client,
      () => NAMES,
    );
    await expect(actions.settlePayout('po_1')).rejects.toMatchObject({
      name: 'Runtime.ExitError',
      message: 'process exited',
    });
    const bare = fakeLambda(() => ({ FunctionError: 'Unhandled' }));
    await expect(
      new LambdaRecoveryActions(
        () => bare.client,
        () => NAMES,
      ).settlePayout('po_1'),
    ).rejects.toMatchObject({
      name: 'Unhandled',
      message: 'payments-PayoutJanitor failed (Unhandled)',
    });
  });

  test('an answer without a result is refused, never taken as done', async () => {
    for (const payload of [json({}), json({ result: 42 }), new TextEncoder().encode('not json'), undefined]) {
      const lambda = fakeLambda(() => ({ Payload: payload }));
      await expect(
        new LambdaRecoveryActions(
          () => lambda.client,
          () => NAMES,
        ).settlePayment('pay_1'),
      ).rejects.toThrow(/payments-Janitor answered no fix result/);
    }
  });

  test('a janitor whose name is not configured: a ConfigError naming the variable, nothing sent', async () => {
    const lambda = fakeLambda(() => ({ Payload: json({ result: 'x' }) }));
    const actions = new LambdaRecoveryActions(
      () => lambda.client,
      () => ({ payment: 'payments-Janitor' }),
    );
    await expect(actions.settlePayout('po_1')).rejects.toThrow('PAYOUT_JANITOR_FUNCTION_NAME is not set');
    await expect(actions.applyDispute('dp_1')).rejects.toThrow('REFUND_JANITOR_FUNCTION_NAME is not set');
    expect(lambda.sent).toEqual([]);
  });
});

describe("orReconciliationFix: the janitor's second door", () => {
  const schema = z.object({ payment_id: text() });

  function janitor(fix: (input: { payment_id: string }) => Promise<string>) {
    const calls = { sweeps: 0, fixes: [] as string[] };
    const handler = orReconciliationFix(
      'FixPayment',
      schema,
      async (input) => {
        calls.fixes.push(input.payment_id);
        return fix(input);
      },
      async () => {
        calls.sweeps += 1;
        return { examined: 0 };
      },
    );
    return { handler, calls };
  }

  test('a fix request runs the fix on that record only, and answers its result', async () => {
    const { handler, calls } = janitor(async ({ payment_id }) => `pay-in recovery: settled ${payment_id}`);
    await expect(handler({ reconciliation_fix: { payment_id: 'pay_1' } })).resolves.toEqual({
      result: 'pay-in recovery: settled pay_1',
    });
    expect(calls).toEqual({ sweeps: 0, fixes: ['pay_1'] });
  });

  test('a scheduled event (or any other) runs the sweep, never a fix', async () => {
    const { handler, calls } = janitor(async () => 'x');
    for (const event of [{}, { source: 'aws.events', 'detail-type': 'Scheduled Event' }, null, 'tick']) {
      await expect(handler(event)).resolves.toEqual({ examined: 0 });
    }
    expect(calls).toEqual({ sweeps: 4, fixes: [] });
    expect(isFixRequest({ reconciliation_fix: {} })).toBe(true);
    expect(isFixRequest({ source: 'aws.events' })).toBe(false);
  });

  test('a fix that throws is answered as an error (the janitor itself does not fail: its alarm is the sweep’s)', async () => {
    const { handler } = janitor(async () => {
      throw new Error('no payment pay_9');
    });
    await expect(handler({ reconciliation_fix: { payment_id: 'pay_9' } })).resolves.toEqual({
      error: { type: 'Error', message: 'no payment pay_9' },
    });
  });

  test('a request that is not valid is answered as an error naming the field, and fixes nothing', async () => {
    const { handler, calls } = janitor(async () => 'x');
    const answer = (await handler({ reconciliation_fix: { payment_id: '' } })) as { error: { message: string } };
    expect(answer.error.message).toMatch(/FixPayment: the task input is not valid: payment_id/);
    const other = (await handler({ reconciliation_fix: { refund_id: 're_1' } })) as { error: { type: string } };
    expect(other.error.type).toBe('InvalidStepInputError');
    expect(calls.fixes).toEqual([]);
  });
});
