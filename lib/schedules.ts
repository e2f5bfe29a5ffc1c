import { Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FunctionId, ScheduleSpec } from '../lambdas/catalog';
import { eventTargetDeadLetterQueue, messagesVisibleAlarm } from './queues';

export interface SchedulesProps {
  schedules: ScheduleSpec[];
  functions: Record<FunctionId, IFunction>;
}

/**
 * One EventBridge rate rule per `schedules` entry of the catalog (e.g. the janitor), each target with
 * retries and a dead-letter queue for invocations EventBridge could not make, and an alarm on it.
 */
export class Schedules extends Construct {
  readonly rules: Rule[] = [];
  readonly deadLetterQueues: Queue[] = [];
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    for (const schedule of props.schedules) {
      const id = `${schedule.functionId}Every${schedule.everyMinutes}Minutes`;
      const dlq = eventTargetDeadLetterQueue(this, `${id}Dlq`);
      this.rules.push(
        new Rule(this, id, {
          description: `Runs ${schedule.functionId} every ${schedule.everyMinutes} minute(s)`,
          schedule: Schedule.rate(Duration.minutes(schedule.everyMinutes)),
          targets: [
            new LambdaFunction(props.functions[schedule.functionId], {
              deadLetterQueue: dlq,
              retryAttempts: 2,
              // A missed run is superseded by the next one: no point delivering it later than that.
              maxEventAge: Duration.minutes(Math.max(schedule.everyMinutes, 1)),
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
      );
    }
  }
}
