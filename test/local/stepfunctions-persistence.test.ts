/**
 * The local Step Functions engine on disk: executions and their history outlive the engine (a restart of the local
 * stack), a running one comes back ABORTED, a torn last line (a crash mid-write) is skipped, and memory stays
 * bounded (closed executions beyond the cap are read back from disk, or reduced to their start and close in memory).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { type Execution, LocalStepFunctions, type SfnError, stateMachineArn } from '../../local/stepfunctions/engine';
import { STOPPED_ERROR } from '../../local/stepfunctions/history-store';
import { startSfnServer } from '../../local/stepfunctions/server';

jest.setTimeout(30_000);

const spec = { id: 'WaitTest', file: 'test/local/fixtures/wait.asl.json', substitutions: {}, envVar: 'UNUSED' };
const arn = stateMachineArn(spec);
const executionArn = (name: string) => `${arn.replace(':stateMachine:', ':execution:')}:${name}`;
const dirs: string[] = [];
const engines: LocalStepFunctions[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfn-persistence-'));
  dirs.push(dir);
  return dir;
}

function engine(dataDir?: string, maxClosedInMemory?: number): LocalStepFunctions {
  const created = new LocalStepFunctions([spec], undefined, undefined, { dataDir, maxClosedInMemory });
  engines.push(created);
  return created;
}

afterAll(() => {
  // Ends the executions still waiting in engines that stood for a killed process.
  for (const e of engines) e.abortAll();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function waitFor(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never: ${what}`);
}

/** Until the execution is closed and its history has its last event (the log runs a little after the close). */
async function closed(execution: Execution): Promise<Execution> {
  await waitFor(
    `${execution.name} closed`,
    () =>
      execution.status !== 'RUNNING' &&
      execution.history.some((e) => /^Execution(Succeeded|Failed|Aborted|TimedOut)$/.test(e.type)),
  );
  return execution;
}

const fileOf = (dir: string, name: string) => path.join(dir, 'executions', 'WaitTest', `${name}.ndjson`);

describe('Local Step Functions engine: executions on disk', () => {
  it('lists and describes the executions of an engine that stopped, with their full history', async () => {
    const dir = tempDir();
    const first = engine(dir);
    const ok = await closed(first.start(arn, 'ok-1', '{"nap_seconds":0}'));
    const failed = await closed(first.start(arn, 'fail-1', '{"nap_seconds":0,"fail":true}'));
    const running = first.start(arn, 'run-1', '{"nap_seconds":60}');
    await waitFor('run-1 waiting', () => running.history.some((e) => e.type === 'WaitStateEntered'));
    // The process is killed here: nothing more is written (the events of this turn reach the file first).
    await waitFor('run-1 written', () => fs.readFileSync(fileOf(dir, 'run-1'), 'utf8').includes('WaitStateEntered'));
    const runningHistory = structuredClone(running.history);
    // ...and the kill tore the last line it was writing.
    fs.appendFileSync(fileOf(dir, 'run-1'), '{"event":{"id":99,"previousEv');
    fs.appendFileSync(path.join(dir, 'index.ndjson'), '{"a":"arn:aws:states:us-east-1:000000000000:exec');

    const second = engine(dir);
    expect(second.list(arn).map((e) => [e.name, e.status])).toEqual([
      ['run-1', 'ABORTED'],
      ['fail-1', 'FAILED'],
      ['ok-1', 'SUCCEEDED'],
    ]);
    const okAgain = second.execution(ok.executionArn);
    expect(okAgain).toMatchObject({
      executionArn: ok.executionArn,
      status: 'SUCCEEDED',
      input: '{"nap_seconds":0}',
      output: ok.output,
      startDate: ok.startDate,
      stopDate: ok.stopDate,
    });
    expect(okAgain.history).toEqual(ok.history);
    expect(second.execution(failed.executionArn)).toMatchObject({
      status: 'FAILED',
      error: 'Boom',
      cause: 'asked to fail',
    });
    expect(second.execution(failed.executionArn).history).toEqual(failed.history);

    // Running when the process stopped: ABORTED, honestly (the history says why), its torn line skipped.
    const aborted = second.execution(running.executionArn);
    expect(aborted).toMatchObject({ status: 'ABORTED', error: STOPPED_ERROR });
    expect(aborted.cause).toMatch(/local stack stopped while this execution was running/);
    expect(aborted.history.slice(0, -1)).toEqual(runningHistory);
    expect(aborted.history.at(-1)).toMatchObject({
      id: runningHistory.length + 1,
      previousEventId: runningHistory.length,
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { error: STOPPED_ERROR },
    });
    // Its name stays taken, as a closed execution's on AWS.
    expect(() => second.start(arn, 'run-1', '{"nap_seconds":60}')).toThrow(
      expect.objectContaining({ type: 'ExecutionAlreadyExists' }) as SfnError,
    );

    // A third start reads what the second wrote (the abort appended after the torn line, on a line of its own).
    const third = engine(dir);
    expect(third.execution(running.executionArn).history).toEqual(aborted.history);
    expect(third.execution(running.executionArn).stopDate).toBe(aborted.stopDate);
    expect(third.list(arn)).toHaveLength(3);

    // The endpoint answers for them with the real SDK.
    const server = await startSfnServer(third, '127.0.0.1', 0);
    const sfn = new SFNClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    try {
      const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
      expect(listed.executions?.map((e) => e.name)).toEqual(['run-1', 'fail-1', 'ok-1']);
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: ok.executionArn }));
      expect([described.status, described.output]).toEqual(['SUCCEEDED', ok.output]);
      const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn: ok.executionArn }));
      expect(history.events?.map((e) => e.type)).toEqual(ok.history.map((e) => e.type));
      const abortedHistory = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn: running.executionArn, reverseOrder: true, maxResults: 1 }),
      );
      expect(abortedHistory.events?.[0]?.executionAbortedEventDetails?.error).toBe(STOPPED_ERROR);
    } finally {
      sfn.destroy();
      await server.close();
    }
  });

  it('closes running executions ABORTED when the stack stops, and keeps new executions after a restart', async () => {
    const dir = tempDir();
    const first = engine(dir);
    const running = first.start(arn, 'stopping-1', '{"nap_seconds":60}');
    await waitFor('stopping-1 waiting', () => running.history.some((e) => e.type === 'WaitStateEntered'));
    first.abortAll();
    expect(running).toMatchObject({ status: 'ABORTED', error: STOPPED_ERROR });

    const second = engine(dir);
    const again = second.execution(running.executionArn);
    expect(again).toMatchObject({ status: 'ABORTED', error: STOPPED_ERROR, stopDate: running.stopDate });
    expect(again.history.filter((e) => e.type === 'ExecutionAborted')).toHaveLength(1);
    const after = await closed(second.start(arn, 'after-1', '{"nap_seconds":0}'));

    const third = engine(dir);
    expect(third.list(arn).map((e) => e.name)).toEqual(['after-1', 'stopping-1']);
    expect(third.execution(after.executionArn).history).toEqual(after.history);
  });

  it('keeps only the latest closed executions whole in memory; older ones come back from disk', async () => {
    const dir = tempDir();
    const onDisk = engine(dir, 2);
    const done: Execution[] = [];
    for (let i = 0; i < 5; i++) done.push(await closed(onDisk.start(arn, `disk-${i}`, '{"nap_seconds":0}')));
    await waitFor('all settled', () => onDisk.memoryStats().active === 0);
    expect(onDisk.memoryStats()).toEqual({ executions: 5, active: 0, recentClosed: 2 });
    const oldest = onDisk.execution(executionArn('disk-0'));
    expect(oldest.historyTrimmed).toBeUndefined();
    expect(oldest.history).toEqual(done[0]?.history);
    expect(onDisk.memoryStats().recentClosed).toBe(2);
  });

  it('in memory, reduces the history of older closed executions to their start and close, names stay taken', async () => {
    const inMemory = engine(undefined, 2);
    const done: Execution[] = [];
    for (let i = 0; i < 4; i++) done.push(await closed(inMemory.start(arn, `mem-${i}`, '{"nap_seconds":0}')));
    await waitFor('all settled', () => inMemory.memoryStats().active === 0);
    expect(inMemory.memoryStats()).toEqual({ executions: 4, active: 0, recentClosed: 2 });
    // The latest ones are whole.
    expect(inMemory.execution(executionArn('mem-3')).history).toEqual(done[3]?.history);
    // An older one: its summary, input and output, and a history of its start and close.
    const old = inMemory.execution(executionArn('mem-0'));
    expect(old).toMatchObject({ status: 'SUCCEEDED', input: '{"nap_seconds":0}', output: done[0]?.output });
    expect(old.historyTrimmed).toBe(true);
    expect(old.history.map((e) => e.type)).toEqual(['ExecutionStarted', 'ExecutionSucceeded']);
    expect(() => inMemory.start(arn, 'mem-0', '{"nap_seconds":0}')).toThrow(
      expect.objectContaining({ type: 'ExecutionAlreadyExists' }) as SfnError,
    );
  });
});

describe('Local Step Functions engine: a Task timeout read from the state input', () => {
  it("reads TimeoutSecondsPath in the state's input (as AWS does), and the function never sees the engine's key", async () => {
    const dir = tempDir();
    const file = path.join(dir, 'timeout-path.asl.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        StartAt: 'Call',
        States: {
          Call: {
            Type: 'Task',
            Resource: '${StepArn}',
            Parameters: { 'id.$': '$.id' },
            TimeoutSecondsPath: '$.wait_seconds',
            ResultPath: '$.result',
            End: true,
          },
        },
      }),
    );
    const timeoutSpec = {
      id: 'TimeoutPathTest',
      file: path.relative(path.resolve(__dirname, '..', '..'), file),
      substitutions: { StepArn: 'Charge' as const },
    };
    const inputs: unknown[] = [];
    const withTimeout = new LocalStepFunctions([timeoutSpec], undefined, async (_id, input) => {
      inputs.push(input);
      return { ok: true };
    });
    engines.push(withTimeout);
    const execution = await closed(
      withTimeout.start(stateMachineArn(timeoutSpec), 'timeout-1', '{"id":"x1","wait_seconds":30}'),
    );
    expect([execution.status, execution.error, execution.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
    expect(inputs).toEqual([{ id: 'x1' }]);
    expect(
      JSON.parse(withTimeout.describeStateMachine(stateMachineArn(timeoutSpec)).definition).States.Call,
    ).toMatchObject({ TimeoutSecondsPath: '$.wait_seconds' });
  });
});
