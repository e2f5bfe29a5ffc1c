/**
 * The local Step Functions engine: state machines from the ASL files of lambdas/catalog.ts run with
 * aws-local-stepfunctions, each Task state resolved to the same handler module the CDK app deploys for it.
 * It keeps executions and their history in memory only: a restart loses running executions, and recovery
 * comes from our own records (as it must on AWS too).
 *
 * A Distributed Map (`ItemProcessor.ProcessorConfig.Mode: DISTRIBUTED`, e.g. the reconciliation's shards) runs the
 * same file unchanged: aws-local-stepfunctions accepts the field and runs the ItemProcessor in this execution, as it
 * runs an inline Map (ItemSelector, `$$.Map.Item.Value`, MaxConcurrency, the items' Retry and the Map's Catch
 * included). So locally there are no child executions (nor Map Runs) to list or describe: the items' states are in
 * the parent's history.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { type FunctionId, type StateMachineSpec, stateMachines } from '../../lambdas/catalog';
import { functionArn, invoke, LOCAL_ACCOUNT, LOCAL_REGION, REPO_ROOT } from '../lambda-runtime';

type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer T> ? T : never;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

export interface Execution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
  abort: () => void;
}

interface Machine {
  arn: string;
  name: string;
  definition: string;
  stateMachine: StateMachine;
  /** Task state name -> function it invokes. */
  tasks: Map<string, FunctionId>;
  /** Task states that wait for a task token. */
  waiting: Set<string>;
  /** States with a Retry field (their pauses can be shortened for tests). */
  retryable: string[];
}

export class SfnError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

type AslState = {
  Type: string;
  Resource?: string;
  Retry?: unknown[];
  Parameters?: { FunctionName?: string };
  Iterator?: AslMachine;
  ItemProcessor?: AslMachine;
  Branches?: AslMachine[];
};
type AslMachine = { States: Record<string, AslState> };

function waitingStates(machine: AslMachine, out = new Set<string>()): Set<string> {
  for (const [name, state] of Object.entries(machine.States)) {
    if (state.Resource === WAIT_FOR_TOKEN) out.add(name);
    for (const child of [state.Iterator, state.ItemProcessor, ...(state.Branches ?? [])]) {
      if (child) waitingStates(child, out);
    }
  }
  return out;
}

function retryableStates(machine: AslMachine, out: string[] = []): string[] {
  for (const [name, state] of Object.entries(machine.States)) {
    if (state.Retry) out.push(name);
    for (const child of [state.Iterator, state.ItemProcessor, ...(state.Branches ?? [])]) {
      if (child) retryableStates(child, out);
    }
  }
  return out;
}

const WAIT_FOR_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/**
 * Collects every Task state (nested ones too) with the `${Var}` it invokes: its Resource, or for a
 * `lambda:invoke.waitForTaskToken` Task the `FunctionName` parameter.
 */
function taskStates(machine: AslMachine, out = new Map<string, string>()): Map<string, string> {
  for (const [name, state] of Object.entries(machine.States)) {
    const target = state.Resource === WAIT_FOR_TOKEN ? state.Parameters?.FunctionName : state.Resource;
    const variable = target ? /^\$\{(\w+)\}$/.exec(target)?.[1] : undefined;
    if (state.Type === 'Task' && variable) out.set(name, variable);
    for (const child of [state.Iterator, state.ItemProcessor, ...(state.Branches ?? [])]) {
      if (child) taskStates(child, out);
    }
  }
  return out;
}

/** Runs the function of a Task state with the state's input; its errors (by name) drive Retry and Catch. */
export type TaskInvoker = (functionId: FunctionId, input: unknown) => Promise<unknown>;

/** What the engine needs of a state machine's spec (tests run fixture ASL files with just this). */
export type EngineStateMachineSpec = Pick<StateMachineSpec, 'id' | 'file' | 'substitutions'>;

export function stateMachineArn(spec: Pick<StateMachineSpec, 'id'>): string {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${spec.id}`;
}

function load(spec: EngineStateMachineSpec): Machine {
  const raw = fs.readFileSync(path.join(REPO_ROOT, spec.file), 'utf8');
  const tasks = new Map<string, FunctionId>();
  for (const [state, variable] of taskStates(JSON.parse(raw) as AslMachine)) {
    const id = spec.substitutions[variable] as FunctionId | undefined;
    if (!id) throw new Error(`${spec.file}: state ${state} uses \${${variable}}, which the catalog does not map`);
    tasks.set(state, id);
  }
  // The same substitution CDK performs, with local ARNs; the Task states then run locally by name.
  const definition = raw.replace(/\$\{(\w+)\}/g, (whole, variable: string) => {
    const id = spec.substitutions[variable] as FunctionId | undefined;
    return id ? functionArn(id) : whole;
  });
  return {
    arn: stateMachineArn(spec),
    name: spec.id,
    definition,
    stateMachine: new StateMachine(JSON.parse(definition)),
    tasks,
    retryable: retryableStates(JSON.parse(raw) as AslMachine),
    waiting: waitingStates(JSON.parse(raw) as AslMachine),
  };
}

const EXECUTION_FAILURE_TYPES: Record<string, ExecutionStatus> = {
  ExecutionFailed: 'FAILED',
  ExecutionAborted: 'ABORTED',
  ExecutionTimeout: 'TIMED_OUT',
};

interface WaitingTask {
  executionArn: string;
  state: string;
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
}

export class LocalStepFunctions {
  private readonly machines = new Map<string, Machine>();
  private readonly executions = new Map<string, Execution>();
  /** Tasks waiting for SendTaskSuccess / SendTaskFailure, by token. */
  private readonly waitingTasks = new Map<string, WaitingTask>();
  /** Tokens of tasks that stopped waiting (timed out, answered, aborted): answering them is TaskTimedOut. */
  private readonly closedTokens = new Set<string>();
  /** Called once when an execution closes (what EventBridge's "Execution Status Change" reports on AWS). */
  onClosed: (execution: Execution) => void = () => undefined;

  /**
   * @param retryIntervalMs when set, every Retry pause lasts this long instead of its backoff (tests only:
   * the number of attempts and what is retried stay those of the ASL file).
   * @param invokeFunction runs a Task's function: the local Lambda runtime (the handler modules the CDK app
   * deploys) unless a test passes stubs.
   */
  constructor(
    specs: EngineStateMachineSpec[] = Object.values(stateMachines),
    private readonly retryIntervalMs?: number,
    private readonly invokeFunction: TaskInvoker = invoke,
  ) {
    for (const spec of specs) {
      const machine = load(spec);
      this.machines.set(machine.arn, machine);
    }
  }

  listStateMachines() {
    return [...this.machines.values()].map((m) => ({ stateMachineArn: m.arn, name: m.name, type: 'STANDARD' }));
  }

  describeStateMachine(arn: string) {
    const machine = this.machine(arn);
    return {
      stateMachineArn: machine.arn,
      name: machine.name,
      definition: machine.definition,
      type: 'STANDARD',
      status: 'ACTIVE',
    };
  }

  private machine(arn: string): Machine {
    const machine = this.machines.get(arn);
    if (!machine) throw new SfnError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  execution(arn: string): Execution {
    const execution = this.executions.get(arn);
    if (!execution) throw new SfnError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  /** Starts an execution. As on AWS, a name is used once: the same name and input while running is idempotent. */
  start(stateMachineArn: string, name: string | undefined, input: string | undefined): Execution {
    const machine = this.machine(stateMachineArn);
    const executionName = name ?? randomUUID();
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(executionName)) {
      throw new SfnError('InvalidName', `Invalid Name: '${executionName}'`);
    }
    const executionInput = input ?? '{}';
    let parsedInput: unknown;
    try {
      parsedInput = JSON.parse(executionInput);
    } catch {
      throw new SfnError('InvalidExecutionInput', 'Invalid execution input: not JSON');
    }
    const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${machine.name}:${executionName}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === executionInput) return existing;
      throw new SfnError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const overrides = Object.fromEntries(
      [...machine.tasks].map(([state, id]) => [
        state,
        machine.waiting.has(state)
          ? (taskInput: unknown) => this.waitForToken(executionArn, state, id, taskInput) as Promise<never>
          : (taskInput: unknown) => this.invokeFunction(id, taskInput) as Promise<never>,
      ]),
    );
    const startDate = Date.now() / 1000;
    const run = machine.stateMachine.run(parsedInput as never, {
      overrides: {
        taskResourceLocalHandlers: overrides,
        retryIntervalOverrides:
          this.retryIntervalMs === undefined
            ? undefined
            : Object.fromEntries(machine.retryable.map((state) => [state, this.retryIntervalMs as number])),
      },
      context: {
        Execution: { Id: executionArn, Name: executionName, Input: parsedInput, StartTime: new Date().toISOString() },
        StateMachine: { Id: machine.arn, Name: machine.name },
        // The engine does not mint task tokens: each waiting Task replaces this with a real token of its own.
        Task: { Token: 'local-token-placeholder' },
      } as never,
    });
    const execution: Execution = {
      executionArn,
      stateMachineArn: machine.arn,
      name: executionName,
      input: executionInput,
      status: 'RUNNING',
      startDate,
      history: [],
      abort: run.abort,
    };
    this.executions.set(executionArn, execution);
    void this.record(execution, run.eventLogs);
    run.result.then(
      (output) => this.finish(execution, 'SUCCEEDED', { output: JSON.stringify(output ?? null) }),
      (error: Error) => {
        if (execution.status !== 'RUNNING') return;
        const status =
          error.name === 'ExecutionAbortedError'
            ? 'ABORTED'
            : error.name === 'ExecutionTimeoutError'
              ? 'TIMED_OUT'
              : 'FAILED';
        const cause = (error as { cause?: { name?: string; message?: string } }).cause;
        this.finish(execution, status, { error: cause?.name ?? error.name, cause: cause?.message ?? error.message });
      },
    );
    return execution;
  }

  /**
   * A `lambda:invoke.waitForTaskToken` Task: mints a token, invokes the function with it in `Payload.task_token`
   * (where the ASL put `$$.Task.Token`), then waits until the token is answered. The state's TimeoutSeconds
   * (enforced by the engine) ends the wait with States.Timeout.
   */
  private async waitForToken(
    executionArn: string,
    state: string,
    id: FunctionId,
    taskInput: unknown,
  ): Promise<unknown> {
    const token = Buffer.from(`${executionArn}#${state}#${randomUUID()}`).toString('base64url');
    const waiting = new Promise<unknown>((resolve, reject) => {
      this.waitingTasks.set(token, { executionArn, state, resolve, reject });
    });
    const { Payload = {} } = (taskInput ?? {}) as { Payload?: Record<string, unknown> };
    const payload = Object.fromEntries(
      Object.entries(Payload).map(([key, value]) => [key, value === 'local-token-placeholder' ? token : value]),
    );
    try {
      await this.invokeFunction(id, payload);
      return await waiting;
    } finally {
      this.waitingTasks.delete(token);
      this.closedTokens.add(token);
    }
  }

  sendTaskSuccess(token: string, output: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      throw new SfnError('InvalidOutput', 'Invalid output: not JSON');
    }
    this.waitingTask(token).resolve(parsed);
  }

  sendTaskFailure(token: string, error = 'TaskFailed', cause = ''): void {
    const failure = new Error(cause);
    failure.name = error;
    this.waitingTask(token).reject(failure);
  }

  sendTaskHeartbeat(token: string): void {
    this.waitingTask(token);
  }

  private waitingTask(token: string): WaitingTask {
    const task = this.waitingTasks.get(token);
    if (task) return task;
    if (this.closedTokens.has(token)) throw new SfnError('TaskTimedOut', 'Task Timed Out');
    throw new SfnError('TaskDoesNotExist', 'Task does not exist');
  }

  stop(executionArn: string, error?: string, cause?: string): number {
    const execution = this.execution(executionArn);
    if (execution.status === 'RUNNING') {
      this.finish(execution, 'ABORTED', { error, cause });
      execution.abort();
    }
    return execution.stopDate ?? Date.now() / 1000;
  }

  list(stateMachineArn: string, statusFilter?: ExecutionStatus): Execution[] {
    this.machine(stateMachineArn);
    return [...this.executions.values()]
      .filter((e) => e.stateMachineArn === stateMachineArn && (!statusFilter || e.status === statusFilter))
      .sort((a, b) => b.startDate - a.startDate);
  }

  /** Stops every running execution (the process is going away; they are lost as on a crash). */
  abortAll(): void {
    for (const execution of this.executions.values()) {
      if (execution.status === 'RUNNING') execution.abort();
    }
  }

  private finish(execution: Execution, status: ExecutionStatus, details: Partial<Execution>): void {
    if (execution.status !== 'RUNNING') return;
    Object.assign(execution, details, { status, stopDate: Date.now() / 1000 });
    // Its waiting tasks are over too (a timed-out wait never returns to waitForToken's cleanup).
    for (const [token, task] of this.waitingTasks) {
      if (task.executionArn !== execution.executionArn) continue;
      this.waitingTasks.delete(token);
      this.closedTokens.add(token);
    }
    try {
      this.onClosed(execution);
    } catch {
      // a listener's failure must not break the engine
    }
  }

  private async record(execution: Execution, logs: AsyncGenerator<EventLog>): Promise<void> {
    try {
      for await (const log of logs) {
        const event = toHistoryEvent(log);
        if (!event) continue;
        const id = execution.history.length + 1;
        execution.history.push({ ...event, id, previousEventId: id - 1 } as HistoryEvent);
        const failure = EXECUTION_FAILURE_TYPES[log.type];
        if (failure && 'Error' in log) {
          this.finish(execution, failure, { error: String(log.Error), cause: String(log.Cause ?? '') });
        }
      }
    } catch {
      // The event log ends with the execution; an aborted execution may end it with an error.
    }
  }
}

const json = (value: unknown) => JSON.stringify(value ?? null);
const pascal = (type: string) => type.charAt(0).toUpperCase() + type.slice(1);

/** Turns an aws-local-stepfunctions event into the shape of a GetExecutionHistory event. */
function toHistoryEvent(log: EventLog): Omit<HistoryEvent, 'id' | 'previousEventId'> | undefined {
  const timestamp = log.timestamp / 1000;
  switch (log.type) {
    case 'ExecutionStarted':
      return { timestamp, type: 'ExecutionStarted', executionStartedEventDetails: { input: json(log.input) } };
    case 'ExecutionSucceeded':
      return { timestamp, type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: json(log.output) } };
    case 'ExecutionFailed':
      return {
        timestamp,
        type: 'ExecutionFailed',
        executionFailedEventDetails: { error: log.Error, cause: String(log.Cause ?? '') },
      };
    case 'ExecutionAborted':
      return { timestamp, type: 'ExecutionAborted', executionAbortedEventDetails: {} };
    case 'ExecutionTimeout':
      return { timestamp, type: 'ExecutionTimedOut', executionTimedOutEventDetails: {} };
    case 'StateEntered':
      return {
        timestamp,
        type: `${pascal(log.state.type)}StateEntered`,
        stateEnteredEventDetails: { name: log.state.name, input: json(log.state.input) },
      };
    case 'StateExited':
      return {
        timestamp,
        type: `${pascal(log.state.type)}StateExited`,
        stateExitedEventDetails: { name: log.state.name, output: json(log.state.output) },
      };
    case 'StateFailed':
      return {
        timestamp,
        type: log.state.type === 'Task' ? 'LambdaFunctionFailed' : 'TaskFailed',
        [log.state.type === 'Task' ? 'lambdaFunctionFailedEventDetails' : 'taskFailedEventDetails']: {
          error: log.Error,
          cause: String(log.Cause ?? ''),
        },
        stateName: log.state.name,
      };
    case 'StateRetried':
      // On AWS a retry shows as the function being scheduled again.
      return {
        timestamp,
        type: 'LambdaFunctionScheduled',
        lambdaFunctionScheduledEventDetails: { input: json(log.state.input) },
        stateName: log.state.name,
        retryAttempt: log.retry.attempt,
      };
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed':
      return {
        timestamp,
        type: log.type,
        [`${log.type.charAt(0).toLowerCase()}${log.type.slice(1)}EventDetails`]: {
          name: log.parentState.name,
          index: log.index,
        },
      };
    default:
      return undefined;
  }
}
