import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Catalog } from '../lambdas/catalog';
import { cronExpression, shortestCronGapMs } from '../src/core/schedule';
import { eventTargetDeadLetterQueue, messagesVisibleAlarm } from './queues';

export interface SchedulesProps {
  schedules: Catalog['schedules'];
  functions: Partial<Record<string, IFunction>>;
  /** The customer-managed key of the targets' dead-letter queues (the stateless stack's messaging key). */
  encryptionKey: IKey;
}

/** EventBridge bounds the maximum event age of a target to 60 s .. 24 h. */
const MIN_EVENT_AGE_SECONDS = 60;
const MAX_EVENT_AGE_SECONDS = 24 * 3600;

/**
 * How long EventBridge keeps trying to deliver one run: until the next run would start (a missed run is superseded
 * by the next one, no point delivering it later than that), within EventBridge's bounds.
 */
export function scheduleMaxEventAge(schedule: Catalog['schedules'][number]): Duration {
  const gapSeconds =
    schedule.cron !== undefined ? Math.floor(shortestCronGapMs(schedule.cron) / 1000) : schedule.rate * 60;
  return Duration.seconds(Math.min(Math.max(gapSeconds, MIN_EVENT_AGE_SECONDS), MAX_EVENT_AGE_SECONDS));
}

/**
 * One EventBridge rule per `schedules` entry of the catalog (e.g. the janitor): a rate rule for `rate` (minutes),
 * a cron rule for `cron` (EventBridge cron fields, UTC). Each target with retries and a dead-letter queue for
 * invocations EventBridge could not make, and an alarm on it.
 */
export class Schedules extends Construct {
  readonly rules: Rule[] = [];
  readonly deadLetterQueues: Queue[] = [];
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    for (const schedule of props.schedules) {
      const fn = props.functions[schedule.functionId];
      if (!fn) throw new Error(`catalog: a schedule runs ${schedule.functionId}, which is not a function`);
      let id: string;
      let description: string;
      let expression: Schedule;
      if (schedule.cron !== undefined) {
        id = this.freeId(`${schedule.functionId}Cron`);
        description = `Runs ${schedule.functionId} at ${cronExpression(schedule.cron)} (UTC)`;
        expression = Schedule.cron(schedule.cron);
      } else {
        id = this.freeId(`${schedule.functionId}Every${schedule.rate}Minutes`);
        description = `Runs ${schedule.functionId} every ${schedule.rate} minute(s)`;
        expression = Schedule.rate(Duration.minutes(schedule.rate));
      }
      const dlq = eventTargetDeadLetterQueue(this, `${id}Dlq`, props.encryptionKey);
      this.rules.push(
        new Rule(this, id, {
          description,
          schedule: expression,
          targets: [
            new LambdaFunction(fn, {
              deadLetterQueue: dlq,
              retryAttempts: 2,
              maxEventAge: scheduleMaxEventAge(schedule),
            }),
          ],
        }),
      );
      this.deadLetterQueues.push(dlq);
      this.alarms.push(
        messagesVisibleAlarm(
          this,
          `${id}DlqAlarm`,
          dlq,
          `EventBridge could not invoke ${schedule.functionId} on schedule (dead letters)`,
        ),
        // A scheduled run that fails (the janitors fail their run when a payment, payout or refund needs a person: a
        // charge the PSP holds for a FAILED payment, a payout or a refund the PSP's records do not settle) is an
        // incident: async invocation errors reach no DLQ of the rule.
        new Alarm(this, `${id}ErrorsAlarm`, {
          alarmDescription: `A scheduled ${schedule.functionId} run failed: see its logs (a payment, payout or refund may need a person)`,
          metric: fn.metricErrors({ period: Duration.minutes(5), statistic: Stats.SUM }),
          threshold: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }
  }

  /** `id`, or `id2`, `id3`... when a function has several schedules of the same kind. */
  private freeId(id: string): string {
    let candidate = id;
    for (let n = 2; this.node.tryFindChild(candidate); n++) candidate = `${id}${n}`;
    return candidate;
  }
}
