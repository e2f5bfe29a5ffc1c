/**
 * The reconciliation workflow as the local engine runs it: state-machines/reconciliation.asl.json, unchanged (its
 * Distributed Map included), in LocalStepFunctions, with stub step functions in place of the handler modules. What is
 * checked is the file's wiring: the report polled (Wait of the step's poll_seconds) until ready, the file split, one
 * MatchShard per shard with the run id and the shard, FinishRun after all of them; and every failure (a step that
 * gives up, a shard that fails, a report the PSP fails) ending in FailRun with the error, then a failed execution.
 */
import { type FunctionId, stateMachines } from '../../lambdas/catalog';
import {
  type Execution,
  type HistoryEvent,
  LocalStepFunctions,
  stateMachineArn,
} from '../../local/stepfunctions/engine';

jest.setTimeout(30_000);

const spec = stateMachines.reconciliation;
const arn = stateMachineArn(spec);

type Step = (input: Record<string, unknown>) => Promise<unknown>;
interface Call {
  functionId: FunctionId;
  input: Record<string, unknown>;
}

/** An error as a step throws it: its name is what Retry and Catch match. */
function stepError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * Runs one execution with these steps (the others answer `{}`), and returns how it ended and the calls made, in
 * order. Retry pauses last 5 ms (the number of attempts stays the file's).
 */
async function run(
  steps: Partial<Record<FunctionId, Step>>,
  input: Record<string, unknown> = { run_id: 'rec_2026-11-28', date: '2026-11-28' },
): Promise<{ execution: Execution; calls: Call[] }> {
  const calls: Call[] = [];
  const engine = new LocalStepFunctions([spec], 5, async (functionId, taskInput) => {
    const stepInput = taskInput as Record<string, unknown>;
    calls.push({ functionId, input: stepInput });
    const step = steps[functionId];
    return step ? step(stepInput) : {};
  });
  const closed = new Promise<Execution>((resolve) => {
    engine.onClosed = resolve;
  });
  engine.start(arn, `run-${Math.random().toString(36).slice(2)}`, JSON.stringify(input));
  const execution = await closed;
  // The history is recorded from the engine's event log as it comes: wait for its last event.
  for (let i = 0; i < 100 && !execution.history.some((e) => /^Execution(Succeeded|Failed)$/.test(e.type)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { execution, calls };
}

const succeeded = { status: 'succeeded', poll_seconds: 1, report_run: 'frr_1' };
const split = { rows: 7, shards: [{ shard: 0 }, { shard: 1 }, { shard: 2 }] };

/** The states entered, in order, from the execution's history. */
const entered = (history: HistoryEvent[]) =>
  history
    .filter((event) => event.type.endsWith('StateEntered'))
    .map((event) => (event.stateEnteredEventDetails as { name: string }).name);

describe('the reconciliation workflow in the local engine (stub steps)', () => {
  test('the file is the one the CDK app deploys, with its Distributed Map, run as it is', () => {
    expect(spec.file).toBe('state-machines/reconciliation.asl.json');
    const definition = JSON.parse(
      new LocalStepFunctions([spec], 5, async () => ({})).describeStateMachine(arn).definition,
    );
    expect(definition.States.MatchShards.ItemProcessor.ProcessorConfig).toEqual({
      Mode: 'DISTRIBUTED',
      ExecutionType: 'STANDARD',
    });
    // Every Task resolved to a local function ARN (as CDK substitutes the deployed ones).
    expect(JSON.stringify(definition)).not.toMatch(/\$\{/);
  });

  test('report pending once, then ready: waits poll_seconds, splits, one MatchShard per shard, then FinishRun', async () => {
    let polls = 0;
    const { execution, calls } = await run({
      RequestReport: async () => ({ status: 'pending', poll_seconds: 1, report_run: 'frr_1' }),
      CheckReport: async () => {
        polls += 1;
        return succeeded;
      },
      SplitFile: async () => split,
      MatchShard: async ({ shard }) => ({ shard, matched: 2 }),
      FinishRun: async () => ({ status: 'SUCCEEDED', open_mismatches: 0 }),
    });

    expect(execution.status).toBe('SUCCEEDED');
    expect(polls).toBe(1);
    const order = calls.map((call) => call.functionId);
    expect(order.slice(0, 3)).toEqual(['RequestReport', 'CheckReport', 'SplitFile']);
    expect(order.slice(3, 6)).toEqual(['MatchShard', 'MatchShard', 'MatchShard']);
    expect(order.slice(6)).toEqual(['FinishRun']);
    // Each step gets the run id; each MatchShard its shard too (ItemSelector), and nothing else.
    for (const call of calls.filter((c) => c.functionId !== 'MatchShard')) {
      expect([call.functionId, call.input]).toEqual([call.functionId, { run_id: 'rec_2026-11-28' }]);
    }
    expect(
      calls
        .filter((call) => call.functionId === 'MatchShard')
        .map((call) => call.input)
        .sort((a, b) => Number(a.shard) - Number(b.shard)),
    ).toEqual([0, 1, 2].map((shard) => ({ run_id: 'rec_2026-11-28', shard })));
    expect(entered(execution.history)).toEqual([
      'RequestReport',
      'ReportReady?',
      'WaitForReport',
      'CheckReport',
      'ReportReady?',
      'SplitFile',
      'MatchShards',
      'MatchShard',
      'MatchShard',
      'MatchShard',
      'FinishRun',
    ]);
    // The Wait lasted the step's poll_seconds.
    const waitEntered = execution.history.find((e) => e.type === 'WaitStateEntered')!;
    const waitExited = execution.history.find((e) => e.type === 'WaitStateExited')!;
    expect(waitExited.timestamp - waitEntered.timestamp).toBeGreaterThanOrEqual(0.95);
    expect(waitExited.timestamp - waitEntered.timestamp).toBeLessThan(3);
    // The execution's output: the input, the report, the split and FinishRun's result (the Map's results dropped).
    expect(JSON.parse(execution.output ?? '{}')).toEqual({
      run_id: 'rec_2026-11-28',
      date: '2026-11-28',
      report: succeeded,
      split,
      result: { status: 'SUCCEEDED', open_mismatches: 0 },
    });
  });

  test('a report ready at once goes straight to the split (no Wait, no CheckReport); no shard means no MatchShard', async () => {
    const { execution, calls } = await run({
      RequestReport: async () => succeeded,
      SplitFile: async () => ({ rows: 0, shards: [] }),
    });
    expect(execution.status).toBe('SUCCEEDED');
    expect(calls.map((call) => call.functionId)).toEqual(['RequestReport', 'SplitFile', 'FinishRun']);
  });

  test('a transient error is retried (TransientError, PspTransientError); the step then goes on', async () => {
    let attempts = 0;
    const { execution, calls } = await run({
      RequestReport: async () => {
        attempts += 1;
        if (attempts === 1) throw stepError('PspTransientError', 'PSP answered 503');
        if (attempts === 2) throw stepError('TransientError', 'throttled');
        return succeeded;
      },
      SplitFile: async () => ({ rows: 0, shards: [] }),
    });
    expect(execution.status).toBe('SUCCEEDED');
    expect(calls.map((call) => call.functionId)).toEqual([
      'RequestReport',
      'RequestReport',
      'RequestReport',
      'SplitFile',
      'FinishRun',
    ]);
  });

  test('a step that fails (not retryable) ends in FailRun with its error, then the execution fails with it', async () => {
    const { execution, calls } = await run({
      RequestReport: async () => succeeded,
      SplitFile: async () => {
        throw stepError('SettlementFileInvalid', 'row 3: amount is not a decimal');
      },
    });
    expect(calls.map((call) => call.functionId)).toEqual(['RequestReport', 'SplitFile', 'FailRun']);
    expect(calls[2]!.input).toEqual({
      run_id: 'rec_2026-11-28',
      error: { Error: 'SettlementFileInvalid', Cause: expect.stringContaining('row 3: amount is not a decimal') },
    });
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('SettlementFileInvalid');
    expect(entered(execution.history).slice(-2)).toEqual(['FailRun', 'Failed']);
  });

  test('a step that keeps failing transiently gives up after its retries, then FailRun', async () => {
    const { execution, calls } = await run({
      RequestReport: async () => {
        throw stepError('PspTransientError', 'PSP down');
      },
    });
    // The pay-out's Retry: 6 attempts after the first.
    expect(calls.filter((call) => call.functionId === 'RequestReport')).toHaveLength(7);
    expect(calls.at(-1)).toEqual({
      functionId: 'FailRun',
      input: { run_id: 'rec_2026-11-28', error: expect.objectContaining({ Error: 'PspTransientError' }) },
    });
    expect([execution.status, execution.error]).toEqual(['FAILED', 'PspTransientError']);
  });

  test('a shard that fails fails the Map, caught on the Map: FailRun with the error, no FinishRun', async () => {
    const { execution, calls } = await run({
      RequestReport: async () => succeeded,
      SplitFile: async () => split,
      MatchShard: async ({ shard }) => {
        if (shard === 1) throw stepError('LedgerInconsistent', 'shard 1: a transaction without entries');
        return {};
      },
    });
    const ids = calls.map((call) => call.functionId);
    expect(ids).not.toContain('FinishRun');
    expect(ids.at(-1)).toBe('FailRun');
    expect(calls.at(-1)!.input).toEqual({
      run_id: 'rec_2026-11-28',
      error: expect.objectContaining({ Error: 'LedgerInconsistent' }),
    });
    expect([execution.status, execution.error]).toEqual(['FAILED', 'LedgerInconsistent']);
  });

  test('a report the PSP failed: FailRun with ReportFailed and the report as its cause', async () => {
    const failed = { status: 'failed', poll_seconds: 1, error: 'report run frr_1 failed at the PSP' };
    const { execution, calls } = await run({ RequestReport: async () => failed });
    expect(calls.map((call) => call.functionId)).toEqual(['RequestReport', 'FailRun']);
    expect(calls[1]!.input).toEqual({
      run_id: 'rec_2026-11-28',
      error: { Error: 'ReportFailed', Cause: JSON.stringify(failed) },
    });
    expect([execution.status, execution.error]).toEqual(['FAILED', 'ReportFailed']);
  });

  test('FailRun itself failing (after its retries) fails the execution with its own error', async () => {
    const { execution, calls } = await run({
      RequestReport: async () => ({ status: 'failed', poll_seconds: 1 }),
      FailRun: async () => {
        throw stepError('RunStoreUnavailable', 'no table');
      },
    });
    expect(calls.map((call) => call.functionId)).toEqual(['RequestReport', 'FailRun']);
    expect([execution.status, execution.error]).toEqual(['FAILED', 'RunStoreUnavailable']);
  });
});
