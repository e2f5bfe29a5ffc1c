/**
 * The local stand-in for the EventBridge schedules of the catalog: each scheduled function runs on its own timing,
 * never overlapping itself. Nothing here knows a function: a schedule's timing comes from its catalog entry (`rate`
 * in minutes, or `cron` fields, UTC) unless the local configuration overrides it with the variable the entry names
 * (`localIntervalEnvVar`, read by `loadLocalStackConfig`).
 */
import type { Catalog } from '../lambdas/catalog';
import type { LocalStackConfig } from '../src/core/config';
import { nextCronTime } from '../src/core/schedule';

type ScheduleSpec = Catalog['schedules'][number];

/** When a schedule runs locally: every `everyMs`, or at each `next` fire time of its cron expression. */
export type LocalTiming = { everyMs: number } | { next: (after: Date) => Date };

/** The longest delay `setTimeout` takes (about 24.8 days); a later fire time is waited for in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export function localTiming(
  schedule: ScheduleSpec,
  intervals: LocalStackConfig['scheduleIntervalSeconds'],
): LocalTiming {
  const envVar = schedule.localIntervalEnvVar;
  if (envVar !== undefined) {
    if (!envVar.endsWith('_INTERVAL_SECONDS')) {
      throw new Error(`catalog: ${schedule.functionId}'s localIntervalEnvVar must end in _INTERVAL_SECONDS: ${envVar}`);
    }
    const seconds = intervals[envVar];
    if (seconds !== undefined) return { everyMs: seconds * 1000 };
  }
  if (schedule.cron !== undefined) {
    const cron = schedule.cron;
    nextCronTime(cron, new Date()); // Refuses an expression it cannot follow now rather than at its first run.
    return { next: (after) => nextCronTime(cron, after) };
  }
  return { everyMs: schedule.rate * 60_000 };
}

export interface SchedulerOptions {
  schedules: Catalog['schedules'];
  /** The local overrides (`LocalStackConfig.scheduleIntervalSeconds`). */
  intervals: LocalStackConfig['scheduleIntervalSeconds'];
  /** Invokes a function with an event (the local Lambda runtime). */
  run: (functionId: string, event: unknown) => Promise<unknown>;
  onError?: (functionId: string, error: Error) => void;
  now?: () => Date;
}

/** Starts every schedule; the returned function stops them all. */
export function startScheduler(options: SchedulerOptions): () => Promise<void> {
  const now = options.now ?? (() => new Date());
  const stops = options.schedules.map((schedule) => {
    const timing = localTiming(schedule, options.intervals);
    let running = false;
    const fire = () => {
      if (running) return;
      running = true;
      // The event EventBridge sends a scheduled rule's target.
      options
        .run(schedule.functionId, { source: 'aws.events', 'detail-type': 'Scheduled Event', time: now().toISOString() })
        .catch((error: Error) => options.onError?.(schedule.functionId, error))
        .finally(() => {
          running = false;
        });
    };
    if ('everyMs' in timing) {
      const timer = setInterval(fire, timing.everyMs);
      return () => clearInterval(timer);
    }
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const arm = () => {
      if (stopped) return;
      const delay = timing.next(now()).getTime() - now().getTime();
      timer =
        delay > MAX_TIMEOUT_MS
          ? setTimeout(arm, MAX_TIMEOUT_MS)
          : setTimeout(
              () => {
                fire();
                arm();
              },
              Math.max(delay, 0),
            );
    };
    arm();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  });
  return async () => {
    for (const stop of stops) stop();
  };
}
