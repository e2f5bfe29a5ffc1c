/**
 * The local Step Functions engine: state machines from the ASL files of lambdas/catalog.ts run with
 * aws-local-stepfunctions, each Task state resolved to the same handler module the CDK app deploys for it.
 *
 * Executions and their history: on a stack kept on disk (`dataDir` given) each execution is written as it runs
 * (history-store.ts) and read back on start, so ListExecutions, DescribeExecution and GetExecutionHistory still
 * answer for it after a restart. An execution cannot resume after a restart: one that was running when the process
 * stopped comes back ABORTED (States.Runtime, "the local stack stopped while this execution was running"), and
 * recovery comes from our own records (the janitor), as it must on AWS too. Its name stays taken, as on AWS.
 *
 * Memory stays bounded: every execution has a small summary in memory (to list it and refuse its name again); the
 * whole record (input, output, history) is kept for the running ones and the latest closed ones only, and a closed
 * one's is read back from disk on demand. A stack in memory keeps every execution's input, output and error, and
 * the full history of the latest closed executions only: an older one's history is reduced to its start and its
 * close (`historyTrimmed`).
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
import {
  type ExecutionStatus,
  type ExecutionSummary,
  type HistoryEvent,
  HistoryStore,
  STOPPED_CAUSE,
  STOPPED_ERROR,
} from './history-store';

export type { ExecutionStatus, ExecutionSummary, HistoryEvent } from './history-store';

type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer T> ? T : never;

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
  /** Set when only the start and the close of the history are still known (an old execution of a stack in memory). */
  historyTrimmed?: boolean;
  abort: () => void;
}

/** What is kept of every execution: its summary, and on a stack in memory its input, output and cause too. */
type IndexEntry = ExecutionSummary & { input?: string; output?: string; cause?: string };

export interface EngineOptions {
  /** Where executions are kept (e.g. `<dataDir>/stepfunctions`); in memory only when unset. */
  dataDir?: string;
  /** How many closed executions keep their whole record in memory (200 on disk, 1000 in memory by default). */
  maxClosedInMemory?: number;
}

export interface ExecutionQuery {
  stateMachineArn?: string;
  status?: ExecutionStatus;
  /** Executions whose name starts with this (a payment id finds its first execution and its re-drives). */
  namePrefix?: string;
  offset?: number;
  limit?: number;
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
  TimeoutSecondsPath?: string;
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

/**
 * aws-local-stepfunctions reads a Task's `TimeoutSecondsPath` in the input its `Parameters` built (AWS reads it in the
 * state's input): for such a Task the engine adds the path's value to its Parameters under a key of its own, points
 * TimeoutSecondsPath there, and removes the key before the function sees its input (`withoutLocalTimeout`).
 */
const LOCAL_TIMEOUT_KEY = '__local_timeout_seconds';

function withLocalTimeoutPaths(machine: AslMachine): AslMachine {
  for (const state of Object.values(machine.States)) {
    const task = state as AslState & { TimeoutSecondsPath?: string; Parameters?: Record<string, unknown> };
    if (task.Type === 'Task' && task.TimeoutSecondsPath && task.Parameters && typeof task.Parameters === 'object') {
      task.Parameters[`${LOCAL_TIMEOUT_KEY}.$`] = task.TimeoutSecondsPath;
      task.TimeoutSecondsPath = `$.${LOCAL_TIMEOUT_KEY}`;
    }
    for (const child of [state.Iterator, state.ItemProcessor, ...(state.Branches ?? [])]) {
      if (child) withLocalTimeoutPaths(child);
    }
  }
  return machine;
}

function withoutLocalTimeout(input: unknown): unknown {
  if (!input || typeof input !== 'object' || Array.isArray(input) || !(LOCAL_TIMEOUT_KEY in input)) return input;
  const { [LOCAL_TIMEOUT_KEY]: _timeout, ...rest } = input as Record<string, unknown>;
  return rest;
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
    stateMachine: new StateMachine(withLocalTimeoutPaths(JSON.parse(definition) as AslMachine) as never),
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
  /** Every execution's summary, oldest first (by start). */
  private readonly index = new Map<string, IndexEntry>();
  /** Executions running, or closed while their event log still runs (their history is still growing). */
  private readonly active = new Map<string, Execution>();
  /** The latest closed executions, whole, least recently used first. */
  private readonly recent = new Map<string, Execution>();
  /** Executions whose event log ended. */
  private readonly logEnded = new Set<string>();
  /** Executions whose history the engine closed itself (the process stops): later events of their log are dropped. */
  private readonly sealed = new Set<string>();
  private readonly store?: HistoryStore;
  private readonly maxClosedInMemory: number;
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
    options: EngineOptions = {},
  ) {
    for (const spec of specs) {
      const machine = load(spec);
      this.machines.set(machine.arn, machine);
    }
    this.maxClosedInMemory = Math.max(0, options.maxClosedInMemory ?? (options.dataDir ? 200 : 1000));
    if (options.dataDir) {
      this.store = new HistoryStore(options.dataDir);
      for (const entry of this.store.load()) this.index.set(entry.executionArn, entry);
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

  /** An execution with its whole history (read back from disk when it is not in memory any more). */
  execution(arn: string): Execution {
    const live = this.active.get(arn);
    if (live) return live;
    const recent = this.recent.get(arn);
    if (recent) {
      this.recent.delete(arn);
      this.recent.set(arn, recent);
      return recent;
    }
    const entry = this.index.get(arn);
    if (!entry) throw new SfnError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    const stored = this.store?.read(arn);
    if (stored) {
      const execution: Execution = { ...stored, ...summaryOf(entry), abort: () => undefined };
      this.remember(execution);
      return execution;
    }
    // In memory (or its file is gone): what the summary still knows, the history reduced to its start and close.
    const execution: Execution = {
      ...summaryOf(entry),
      input: entry.input ?? '{}',
      output: entry.output,
      cause: entry.cause,
      history: [],
      historyTrimmed: true,
      abort: () => undefined,
    };
    execution.history = trimmedHistory(execution);
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
    const existing = this.index.get(executionArn);
    if (existing) {
      const running = existing.status === 'RUNNING' ? this.active.get(executionArn) : undefined;
      if (running && running.input === executionInput) return running;
      throw new SfnError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const overrides = Object.fromEntries(
      [...machine.tasks].map(([state, id]) => [
        state,
        machine.waiting.has(state)
          ? (taskInput: unknown) =>
              this.waitForToken(executionArn, state, id, withoutLocalTimeout(taskInput)) as Promise<never>
          : (taskInput: unknown) => this.invokeFunction(id, withoutLocalTimeout(taskInput)) as Promise<never>,
      ]),
    );
    const startDate = Date.now() / 1000;
    const entry: IndexEntry = {
      executionArn,
      stateMachineArn: machine.arn,
      name: executionName,
      status: 'RUNNING',
      startDate,
      ...(this.store ? {} : { input: executionInput }),
    };
    // Recorded before it runs: a start that cannot be written fails (500) without running anything.
    this.store?.started(entry, executionInput);
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
    this.index.set(executionArn, entry);
    this.active.set(executionArn, execution);
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

  /** A state machine's executions, newest first. */
  list(stateMachineArn: string, statusFilter?: ExecutionStatus): ExecutionSummary[] {
    this.machine(stateMachineArn);
    return this.query({ stateMachineArn, status: statusFilter, limit: Number.MAX_SAFE_INTEGER }).items;
  }

  /** Executions of every state machine (or one), newest first, filtered; `more` when some are after this page. */
  query(query: ExecutionQuery = {}): { items: ExecutionSummary[]; more: boolean } {
    const offset = Math.max(0, query.offset ?? 0);
    const limit = Math.max(1, query.limit ?? 100);
    const items: ExecutionSummary[] = [];
    let skipped = 0;
    const entries = [...this.index.values()];
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i] as IndexEntry;
      if (query.stateMachineArn && e.stateMachineArn !== query.stateMachineArn) continue;
      if (query.status && e.status !== query.status) continue;
      if (query.namePrefix && !e.name.startsWith(query.namePrefix)) continue;
      if (skipped < offset) {
        skipped++;
        continue;
      }
      if (items.length === limit) return { items, more: true };
      items.push(summaryOf(e));
    }
    return { items, more: false };
  }

  /** How many executions are known, and how many are kept whole in memory (running or recently closed). */
  memoryStats(): { executions: number; active: number; recentClosed: number } {
    return { executions: this.index.size, active: this.active.size, recentClosed: this.recent.size };
  }

  /**
   * Stops every running execution: the process is going away and they cannot resume. Each is closed ABORTED
   * (States.Runtime, the local stack stopped) with that last event in its history, and everything is written.
   */
  abortAll(): void {
    const now = Date.now() / 1000;
    for (const execution of [...this.active.values()]) {
      if (execution.status !== 'RUNNING') continue;
      this.sealed.add(execution.executionArn);
      this.append(execution, {
        timestamp: now,
        type: 'ExecutionAborted',
        executionAbortedEventDetails: { error: STOPPED_ERROR, cause: STOPPED_CAUSE },
      });
      this.finish(execution, 'ABORTED', { error: STOPPED_ERROR, cause: STOPPED_CAUSE });
      execution.abort();
    }
    this.store?.flush();
  }

  private finish(execution: Execution, status: ExecutionStatus, details: Partial<Execution>): void {
    if (execution.status !== 'RUNNING') return;
    Object.assign(execution, details, { status, stopDate: Date.now() / 1000 });
    const entry = this.index.get(execution.executionArn);
    if (entry) {
      Object.assign(entry, { status, stopDate: execution.stopDate, error: execution.error });
      if (!this.store) Object.assign(entry, { output: execution.output, cause: execution.cause });
    }
    try {
      this.store?.closed(execution.executionArn, {
        status,
        stopDate: execution.stopDate as number,
        output: execution.output,
        error: execution.error,
        cause: execution.cause,
      });
    } catch (error) {
      process.stderr.write(`local Step Functions: could not record ${execution.name}: ${(error as Error).message}\n`);
    }
    this.settle(execution);
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
        if (this.sealed.has(execution.executionArn)) continue;
        const event = toHistoryEvent(log);
        if (!event) continue;
        this.append(execution, event);
        const failure = EXECUTION_FAILURE_TYPES[log.type];
        if (failure && 'Error' in log) {
          this.finish(execution, failure, { error: String(log.Error), cause: String(log.Cause ?? '') });
        }
      }
    } catch {
      // The event log ends with the execution; an aborted execution may end it with an error.
    } finally {
      this.logEnded.add(execution.executionArn);
      this.sealed.delete(execution.executionArn);
      this.settle(execution);
    }
  }

  private append(execution: Execution, event: Omit<HistoryEvent, 'id' | 'previousEventId'>): void {
    const id = execution.history.length + 1;
    const full = { ...event, id, previousEventId: id - 1 } as HistoryEvent;
    execution.history.push(full);
    this.store?.event(execution.executionArn, full);
  }

  /** A closed execution whose event log ended leaves the running set for the bounded set of recent ones. */
  private settle(execution: Execution): void {
    const arn = execution.executionArn;
    if (execution.status === 'RUNNING' || !this.logEnded.has(arn)) return;
    this.logEnded.delete(arn);
    if (this.active.get(arn) !== execution) return;
    this.active.delete(arn);
    this.remember(execution);
  }

  private remember(execution: Execution): void {
    this.recent.delete(execution.executionArn);
    this.recent.set(execution.executionArn, execution);
    while (this.recent.size > this.maxClosedInMemory) {
      const oldest = this.recent.keys().next().value;
      if (oldest === undefined) break;
      this.recent.delete(oldest);
    }
  }
}

function summaryOf(e: ExecutionSummary): ExecutionSummary {
  const { executionArn, stateMachineArn, name, status, startDate, stopDate, error } = e;
  return { executionArn, stateMachineArn, name, status, startDate, stopDate, error };
}

/** The start and the close of an execution whose full history is no longer kept. */
function trimmedHistory(e: Execution): HistoryEvent[] {
  const started: HistoryEvent = {
    id: 1,
    previousEventId: 0,
    timestamp: e.startDate,
    type: 'ExecutionStarted',
    executionStartedEventDetails: { input: e.input },
  };
  const at = { id: 2, previousEventId: 1, timestamp: e.stopDate ?? e.startDate };
  switch (e.status) {
    case 'SUCCEEDED':
      return [started, { ...at, type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: e.output } }];
    case 'FAILED':
      return [
        started,
        { ...at, type: 'ExecutionFailed', executionFailedEventDetails: { error: e.error, cause: e.cause } },
      ];
    case 'ABORTED':
      return [
        started,
        { ...at, type: 'ExecutionAborted', executionAbortedEventDetails: { error: e.error, cause: e.cause } },
      ];
    case 'TIMED_OUT':
      return [started, { ...at, type: 'ExecutionTimedOut', executionTimedOutEventDetails: {} }];
    default:
      return [started];
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
