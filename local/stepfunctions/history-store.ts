/**
 * Where the local Step Functions endpoint keeps its executions when the stack is not in memory, so that their
 * history outlives a restart (`<dataDir>/stepfunctions/`):
 *
 *   index.ndjson                             one line per execution start and per close (arn, machine, name,
 *                                            status, dates, error): what ListExecutions needs, read once on start
 *                                            and rewritten compacted (one line per execution)
 *   executions/<machine>/<name>.ndjson       one execution: its start (input), each history event, its close
 *                                            (status, output, error, cause); read on demand
 *
 * Both are append-only NDJSON. Starts and closes are written at once (synchronously: a close that was reported is
 * on disk); history events are buffered and appended per file once per turn of the event loop, so a busy stack pays
 * one small append per execution per turn rather than one per event. A process killed mid-write leaves at most a
 * torn last line: every line that does not parse is skipped, and a file that does not end with a newline gets one
 * before the next append (only files of a previous process are appended to after a crash: this process creates
 * the file of each execution it starts, and rewrites the index on load).
 */
import fs from 'node:fs';
import path from 'node:path';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

/** What is kept in memory of every execution: enough to list it and to refuse its name again. */
export interface ExecutionSummary {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  error?: string;
}

export interface ExecutionCloseDetails {
  status: ExecutionStatus;
  stopDate: number;
  output?: string;
  error?: string;
  cause?: string;
}

/** An execution as read back from its file. */
export interface StoredExecution extends ExecutionSummary {
  input: string;
  output?: string;
  cause?: string;
  history: HistoryEvent[];
}

type IndexLine =
  | { a: string; m: string; n: string; s: 'RUNNING'; d: number }
  | { a: string; s: ExecutionStatus; e: number; r?: string };

type ExecutionLine =
  | { start: { input: string; startDate: number; stateMachineArn: string; name: string } }
  | { event: HistoryEvent }
  | { close: ExecutionCloseDetails };

/** The error and cause of an execution that was running when the local stack stopped. */
export const STOPPED_ERROR = 'States.Runtime';
export const STOPPED_CAUSE =
  'The local stack stopped while this execution was running; a local execution cannot resume after a restart ' +
  '(the workflow is recovered from our own records, e.g. by the janitor).';

/** Each line of an NDJSON text that parses; a torn or otherwise broken line is skipped. */
function parseLines<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // a line torn by a crash mid-write
    }
  }
  return out;
}

const SAFE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const safe = (part: string) => (SAFE_NAME.test(part) ? part : encodeURIComponent(part).replace(/\./g, '%2E'));

/** `arn:aws:states:<region>:<account>:execution:<machine>:<name>` -> its machine and name. */
function arnParts(executionArn: string): { machine: string; name: string } {
  const parts = executionArn.split(':');
  return { machine: parts.at(-2) ?? '', name: parts.at(-1) ?? '' };
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Appends lines to a file, first ending a torn last line so the new lines stay whole. */
function appendLines(file: string, lines: string[]): void {
  let prefix = '';
  try {
    const { size } = fs.statSync(file);
    if (size > 0) {
      const fd = fs.openSync(file, 'r');
      try {
        const last = Buffer.alloc(1);
        fs.readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      } finally {
        fs.closeSync(fd);
      }
    }
  } catch {
    // no file yet
  }
  fs.appendFileSync(file, `${prefix}${lines.join('\n')}\n`);
}

export class HistoryStore {
  private readonly indexFile: string;
  private readonly executionsDir: string;
  /** History events not written yet, by execution file. */
  private readonly pending = new Map<string, string[]>();
  private flushScheduled = false;

  constructor(readonly dir: string) {
    this.indexFile = path.join(dir, 'index.ndjson');
    this.executionsDir = path.join(dir, 'executions');
    fs.mkdirSync(this.executionsDir, { recursive: true });
  }

  fileOf(executionArn: string): string {
    const { machine, name } = arnParts(executionArn);
    return path.join(this.executionsDir, safe(machine), `${safe(name)}.ndjson`);
  }

  /**
   * Every stored execution, oldest first. An execution still RUNNING in the files (the process stopped while it
   * ran) is closed now as ABORTED, in its file and in the index: it cannot resume. The index is then rewritten
   * compacted (one line per execution), which also drops a torn last line.
   */
  load(now: number = Date.now() / 1000): ExecutionSummary[] {
    const byArn = new Map<string, ExecutionSummary>();
    for (const line of parseLines<IndexLine>(readText(this.indexFile) ?? '')) {
      if (typeof line?.a !== 'string') continue;
      if ('m' in line) {
        byArn.set(line.a, {
          executionArn: line.a,
          stateMachineArn: line.m,
          name: line.n,
          status: 'RUNNING',
          startDate: line.d,
        });
        continue;
      }
      const entry = byArn.get(line.a);
      if (!entry) continue;
      entry.status = line.s;
      entry.stopDate = line.e;
      entry.error = line.r;
    }
    for (const entry of byArn.values()) {
      if (entry.status !== 'RUNNING') continue;
      const stored = this.read(entry.executionArn);
      const lastId = stored?.history.at(-1)?.id ?? 0;
      const close: ExecutionCloseDetails = {
        status: 'ABORTED',
        stopDate: now,
        error: STOPPED_ERROR,
        cause: STOPPED_CAUSE,
      };
      const aborted: HistoryEvent = {
        id: lastId + 1,
        previousEventId: lastId,
        timestamp: now,
        type: 'ExecutionAborted',
        executionAbortedEventDetails: { error: STOPPED_ERROR, cause: STOPPED_CAUSE },
      };
      const file = this.fileOf(entry.executionArn);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      appendLines(file, [JSON.stringify({ event: aborted }), JSON.stringify({ close })]);
      Object.assign(entry, { status: 'ABORTED', stopDate: now, error: STOPPED_ERROR });
    }
    const entries = [...byArn.values()].sort((a, b) => a.startDate - b.startDate);
    const compacted = entries.flatMap((e) => {
      const start: IndexLine = { a: e.executionArn, m: e.stateMachineArn, n: e.name, s: 'RUNNING', d: e.startDate };
      if (e.status === 'RUNNING') return [JSON.stringify(start)];
      const close: IndexLine = { a: e.executionArn, s: e.status, e: e.stopDate ?? now, r: e.error };
      return [JSON.stringify(start), JSON.stringify(close)];
    });
    const temporary = `${this.indexFile}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, compacted.length > 0 ? `${compacted.join('\n')}\n` : '');
    fs.renameSync(temporary, this.indexFile);
    return entries;
  }

  /** A new execution: its file (replacing any leftover of a start the index never recorded), then the index. */
  started(summary: ExecutionSummary, input: string): void {
    const file = this.fileOf(summary.executionArn);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const start: ExecutionLine = {
      start: { input, startDate: summary.startDate, stateMachineArn: summary.stateMachineArn, name: summary.name },
    };
    fs.writeFileSync(file, `${JSON.stringify(start)}\n`);
    const line: IndexLine = {
      a: summary.executionArn,
      m: summary.stateMachineArn,
      n: summary.name,
      s: 'RUNNING',
      d: summary.startDate,
    };
    this.appendIndex(line);
  }

  /** A history event: buffered, appended with the others of this turn of the event loop. */
  event(executionArn: string, event: HistoryEvent): void {
    const file = this.fileOf(executionArn);
    const lines = this.pending.get(file);
    const line = JSON.stringify({ event } satisfies ExecutionLine);
    if (lines) lines.push(line);
    else this.pending.set(file, [line]);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** An execution closed: its buffered events and its close are written at once, then the index. */
  closed(executionArn: string, details: ExecutionCloseDetails): void {
    const file = this.fileOf(executionArn);
    const lines = this.pending.get(file) ?? [];
    this.pending.delete(file);
    lines.push(JSON.stringify({ close: details } satisfies ExecutionLine));
    this.write(file, lines);
    const line: IndexLine = { a: executionArn, s: details.status, e: details.stopDate, r: details.error };
    this.appendIndex(line);
  }

  /** Writes every buffered event now. */
  flush(): void {
    this.flushScheduled = false;
    const batches = [...this.pending];
    this.pending.clear();
    for (const [file, lines] of batches) {
      try {
        this.write(file, lines);
      } catch (error) {
        process.stderr.write(`local Step Functions: could not write ${file}: ${(error as Error).message}\n`);
      }
    }
  }

  /** One execution as stored (its buffered events written first), or undefined when it has no file. */
  read(executionArn: string): StoredExecution | undefined {
    const file = this.fileOf(executionArn);
    const lines = this.pending.get(file);
    if (lines) {
      this.pending.delete(file);
      this.write(file, lines);
    }
    const text = readText(file);
    if (text === undefined) return undefined;
    const { name } = arnParts(executionArn);
    const stored: StoredExecution = {
      executionArn,
      stateMachineArn: '',
      name,
      status: 'RUNNING',
      startDate: 0,
      input: '{}',
      history: [],
    };
    for (const line of parseLines<ExecutionLine>(text)) {
      if (!line || typeof line !== 'object') continue;
      if ('start' in line) {
        Object.assign(stored, line.start);
      } else if ('event' in line) {
        stored.history.push(line.event);
      } else if ('close' in line) {
        Object.assign(stored, line.close);
      }
    }
    // Events are appended in order; a close may be written before the last event of the log reached the file.
    stored.history.sort((a, b) => a.id - b.id);
    return stored;
  }

  /**
   * Appends to a file this process wrote whole (an execution file it created, the index it rewrote on load):
   * it ends with a newline.
   */
  private write(file: string, lines: string[]): void {
    if (lines.length === 0) return;
    fs.appendFileSync(file, `${lines.join('\n')}\n`);
  }

  private appendIndex(line: IndexLine): void {
    this.write(this.indexFile, [JSON.stringify(line)]);
  }

  /** Writes what is buffered; the store is not used after this. */
  close(): void {
    this.flush();
  }
}
