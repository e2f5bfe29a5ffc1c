/**
 * The local Step Functions endpoint, driven with the real @aws-sdk/client-sfn: the actions the project uses and
 * the execution history an operator reads.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { LocalStepFunctions, stateMachineArn } from '../../local/stepfunctions/engine';
import { type LocalSfnServer, startSfnServer } from '../../local/stepfunctions/server';

jest.setTimeout(30_000);

const spec = { id: 'WaitTest', file: 'test/local/fixtures/wait.asl.json', substitutions: {}, envVar: 'UNUSED' };
const arn = stateMachineArn(spec);
let server: LocalSfnServer;
let sfn: SFNClient;

beforeAll(async () => {
  server = await startSfnServer(new LocalStepFunctions([spec]), '127.0.0.1', 0);
  sfn = new SFNClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});

afterAll(async () => {
  sfn?.destroy();
  await server?.close();
});

async function until(name: string, status: string) {
  const executionArn = `${arn.replace(':stateMachine:', ':execution:')}:${name}`;
  for (let i = 0; i < 100; i++) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (described.status === status) return described;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${name} never reached ${status}`);
}

describe('Local Step Functions endpoint', () => {
  it('starts, describes and records the history of a successful execution', async () => {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'ok-1', input: JSON.stringify({ nap_seconds: 0 }) }),
    );
    expect(started.executionArn).toBe(`${arn.replace(':stateMachine:', ':execution:')}:ok-1`);
    const done = await until('ok-1', 'SUCCEEDED');
    expect(JSON.parse(done.output ?? '{}')).toEqual({ nap_seconds: 0, pass: { greeting: 'hello' } });
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));
    expect(history.events?.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'WaitStateEntered',
      'WaitStateExited',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(history.events?.[1]?.stateEnteredEventDetails?.name).toBe('Hello');
  });

  it('reports a failed execution with its error and cause', async () => {
    await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'fail-1', input: '{"nap_seconds":0,"fail":true}' }),
    );
    const failed = await until('fail-1', 'FAILED');
    expect([failed.error, failed.cause]).toEqual(['Boom', 'asked to fail']);
  });

  it('treats a repeated start with the same name and input as the same execution, and refuses other input', async () => {
    const input = JSON.stringify({ nap_seconds: 5 });
    const first = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'dup-1', input }));
    const again = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'dup-1', input }));
    expect(again.executionArn).toBe(first.executionArn);
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'dup-1', input: '{"nap_seconds":1}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await sfn.send(new StopExecutionCommand({ executionArn: first.executionArn, error: 'Stopped', cause: 'test' }));
    expect((await until('dup-1', 'ABORTED')).error).toBe('Stopped');
  });

  it('lists executions by status, newest first, with pagination', async () => {
    for (const name of ['list-a', 'list-b', 'list-c']) {
      await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name, input: '{"nap_seconds":0}' }));
      await until(name, 'SUCCEEDED');
    }
    const first = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'SUCCEEDED', maxResults: 2 }),
    );
    expect(first.executions).toHaveLength(2);
    expect(first.nextToken).toBeDefined();
    const rest = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: arn,
        statusFilter: 'SUCCEEDED',
        maxResults: 100,
        nextToken: first.nextToken,
      }),
    );
    const names = [...(first.executions ?? []), ...(rest.executions ?? [])].map((e) => e.name);
    expect(names.slice(0, 3)).toEqual(['list-c', 'list-b', 'list-a']);
    expect(names.every((n) => n !== 'fail-1')).toBe(true);
  });

  it('answers an unknown task token with TaskDoesNotExist', async () => {
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: 'nope', output: '{}' }))).rejects.toMatchObject({
      name: 'TaskDoesNotExist',
    });
  });
});
