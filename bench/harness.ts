/**
 * The benchmark harness: sequential measurements (latency and CPU per operation), open-loop load at a fixed rate,
 * event-loop delay, percentiles, the printed table and the JSON results under bench-results/. Suites (bench/*.ts)
 * build on it; bench/run.ts runs them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export const RESULTS_DIR = path.resolve(__dirname, '..', 'bench-results');

/** Latency percentiles in microseconds. */
export interface Latency {
  n: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
}

/** One measured row of a suite. */
export interface Row extends Latency {
  name: string;
  /** Process CPU (user + system) per operation, in microseconds, when measured. */
  cpu_us_per_op?: number;
  /** Free text: what the row shows, a target and whether it was met. */
  note?: string;
}

export interface SuiteResult {
  suite: string;
  rows: Row[];
  /** Anything else the suite reports (e.g. the comparisons of a load test). */
  details?: Record<string, unknown>;
  /** Targets the suite checks: name -> met. */
  targets?: Record<string, boolean>;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Percentiles of latencies given in milliseconds, reported in microseconds. */
export function latency(latenciesMs: number[]): Latency {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50_us: round(percentile(sorted, 50) * 1000),
    p99_us: round(percentile(sorted, 99) * 1000),
    max_us: round((sorted.at(-1) ?? Number.NaN) * 1000),
  };
}

const cpuMicros = (since?: NodeJS.CpuUsage) => {
  const usage = process.cpuUsage(since);
  return usage.user + usage.system;
};

/**
 * Runs `fn` n times one after the other (after `warmup` unmeasured runs): the latency of each call, and the
 * process CPU per call over the whole batch.
 */
export async function measure(
  name: string,
  n: number,
  fn: (i: number) => Promise<unknown>,
  options: { warmup?: number; note?: string } = {},
): Promise<Row> {
  for (let i = 0; i < (options.warmup ?? 0); i++) await fn(-1 - i);
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn(i);
    latencies.push(performance.now() - start);
  }
  return {
    name,
    ...latency(latencies),
    cpu_us_per_op: round(cpuMicros(cpu) / n),
    ...(options.note ? { note: options.note } : {}),
  };
}

/** A stream of calls at a fixed rate (open loop: a slow call does not delay the next one). */
export interface Stream {
  name: string;
  ratePerSecond: number;
  fn: (i: number) => Promise<unknown>;
}

export interface StreamResult extends Latency {
  name: string;
  sent: number;
  failed: number;
}

export interface LoadResult {
  streams: StreamResult[];
  /** Each stream's latencies in milliseconds (not written to the results). */
  raw: number[][];
  /** Event-loop delay over the run (how long ready work waited for the loop), in microseconds. */
  event_loop_delay: { p50_us: number; p99_us: number; max_us: number };
  /** Process CPU over the run, in microseconds. */
  cpu_us: number;
  duration_ms: number;
}

/**
 * Runs the streams together for `durationMs`, each at its rate. Every `tickMs` the calls that are due, in the order
 * of their scheduled times across the streams, are started each in its own macrotask (as requests arriving on a
 * server are each their own I/O callback), so a call that needs no I/O runs to its end before the next one starts.
 * A call's latency is measured from its start; how long ready work waited for the loop shows in the event-loop delay.
 */
export async function load(streams: Stream[], durationMs: number, tickMs = 2): Promise<LoadResult> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const state = streams.map(() => ({ sent: 0, failed: 0, latencies: [] as number[] }));
  const inflight = new Set<Promise<unknown>>();
  const start1 = (s: number) => {
    const stream = streams[s]!;
    const own = state[s]!;
    const i = own.sent++;
    const call = new Promise<void>((resolve) => {
      setImmediate(() => {
        const t0 = performance.now();
        stream.fn(i).then(
          () => {
            own.latencies.push(performance.now() - t0);
            resolve();
          },
          () => {
            own.failed++;
            resolve();
          },
        );
      });
    }).finally(() => inflight.delete(call));
    inflight.add(call);
  };
  const cpu = process.cpuUsage();
  histogram.enable();
  const start = performance.now();
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= durationMs) break;
    const due: { at: number; s: number }[] = [];
    streams.forEach((stream, s) => {
      const total = Math.floor((elapsed * stream.ratePerSecond) / 1000);
      for (let i = state[s]!.sent + due.filter((d) => d.s === s).length; i < total; i++) {
        due.push({ at: (i * 1000) / stream.ratePerSecond, s });
      }
    });
    for (const { s } of due.sort((a, b) => a.at - b.at)) start1(s);
    await new Promise((resolve) => setTimeout(resolve, tickMs));
  }
  await Promise.all(inflight);
  const duration = performance.now() - start;
  histogram.disable();
  const cpuUs = cpuMicros(cpu);
  return {
    streams: streams.map((stream, s) => ({
      name: stream.name,
      sent: state[s]!.sent,
      failed: state[s]!.failed,
      ...latency(state[s]!.latencies),
    })),
    raw: state.map((own) => own.latencies),
    event_loop_delay: {
      p50_us: round(histogram.percentile(50) / 1000),
      p99_us: round(histogram.percentile(99) / 1000),
      max_us: round(histogram.max / 1000),
    },
    cpu_us: cpuUs,
    duration_ms: round(duration),
  };
}

/** Several runs of the same streams as one: latencies pooled, delays and CPU combined. */
function pooled(runs: LoadResult[]): LoadResult {
  const first = runs[0]!;
  const raw = first.raw.map((_, s) => runs.flatMap((run) => run.raw[s] ?? []));
  const worst = (pick: (run: LoadResult) => number) => Math.max(...runs.map(pick));
  const median = (pick: (run: LoadResult) => number) => {
    const sorted = runs.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)]!;
  };
  return {
    streams: first.streams.map((stream, s) => ({
      name: stream.name,
      sent: runs.reduce((sum, run) => sum + (run.streams[s]?.sent ?? 0), 0),
      failed: runs.reduce((sum, run) => sum + (run.streams[s]?.failed ?? 0), 0),
      ...latency(raw[s] ?? []),
    })),
    raw,
    event_loop_delay: {
      p50_us: median((run) => run.event_loop_delay.p50_us),
      p99_us: median((run) => run.event_loop_delay.p99_us),
      max_us: worst((run) => run.event_loop_delay.max_us),
    },
    cpu_us: runs.reduce((sum, run) => sum + run.cpu_us, 0),
    duration_ms: round(runs.reduce((sum, run) => sum + run.duration_ms, 0)),
  };
}

/**
 * The streams alone, then with `extra` added, alternately for `rounds` rounds of `phaseMs` each (so that a drift of
 * the machine's load affects both sides alike); each side's runs pooled.
 */
export async function compareLoad(
  streams: Stream[],
  extra: Stream,
  options: { rounds: number; phaseMs: number },
): Promise<{ base: LoadResult; loaded: LoadResult }> {
  const base: LoadResult[] = [];
  const loaded: LoadResult[] = [];
  for (let r = 0; r < options.rounds; r++) {
    base.push(await load(streams, options.phaseMs));
    loaded.push(await load([...streams, extra], options.phaseMs));
  }
  return { base: pooled(base), loaded: pooled(loaded) };
}

/** A plain text table. */
export function formatTable(header: string[], rows: (string | number | undefined)[][]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => (cell === undefined ? '' : String(cell))))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

export function rowsTable(rows: Row[]): string {
  return formatTable(
    ['measurement', 'n', 'p50 µs', 'p99 µs', 'max µs', 'CPU µs/op'],
    rows.map((r) => [r.name, r.n, r.p50_us, r.p99_us, r.max_us, r.cpu_us_per_op]),
  );
}

/** Where and on what the benchmark ran. */
export function environment() {
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
  };
}

/** Writes the results as JSON under bench-results/ (git-ignored): a timestamped file and latest.json. */
export function writeResults(results: SuiteResult[], startedAt: Date): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const document = { started_at: startedAt.toISOString(), environment: environment(), suites: results };
  const text = `${JSON.stringify(document, null, 2)}\n`;
  const file = path.join(RESULTS_DIR, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, text);
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.json'), text);
  return file;
}
