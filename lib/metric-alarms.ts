import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, type MetricAlarmSpec, SERVICE_NAME } from '../lambdas/catalog';

export interface MetricAlarmsProps {
  alarms: MetricAlarmSpec[];
  /** The catalog's function ids: each alarm's publishing function must be one. */
  functionIds: string[];
}

/**
 * The alarms of the catalog's `metricAlarms`: each on a metric a function publishes with Powertools Metrics (EMF,
 * namespace `METRICS_NAMESPACE`, dimension `service` = `SERVICE_NAME`, as Powertools adds it), in ALARM when the
 * metric's maximum over the spec's period is at least its threshold. No data (no run yet, or a run that published
 * nothing) is not a breach. Their notifications go to the alarm topic, like every alarm of the stack
 * (`AlarmNotifications`).
 */
export class MetricAlarms extends Construct {
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MetricAlarmsProps) {
    super(scope, id);
    for (const spec of props.alarms) {
      if (!props.functionIds.includes(spec.functionId)) {
        throw new Error(`catalog: alarm ${spec.id} is on a metric of ${spec.functionId}, which is not a function`);
      }
      this.alarms.push(
        new Alarm(this, spec.id, {
          alarmDescription: `${spec.description} (${spec.metricName}, published by ${spec.functionId})`,
          metric: new Metric({
            namespace: METRICS_NAMESPACE,
            metricName: spec.metricName,
            dimensionsMap: { service: SERVICE_NAME },
            statistic: Stats.MAXIMUM,
            period: Duration.seconds(spec.periodSeconds),
          }),
          threshold: spec.threshold,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }
  }
}
