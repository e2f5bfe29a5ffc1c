/**
 * The open-mismatch counts as CloudWatch metrics (Powertools, embedded metric format; alarms fire at one or more):
 * published by the run's last step only, so no other reconciliation function bundles Powertools Metrics.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ReconciliationMetrics } from './ports';

export class PowertoolsReconciliationMetrics implements ReconciliationMetrics {
  openMismatches(counts: { manual: number; unclassifiable: number }): void {
    // The namespace comes from POWERTOOLS_METRICS_NAMESPACE (set on every function by the catalog: `Payments`).
    const metrics = new Metrics({ serviceName: 'payments' });
    metrics.addMetric('OpenManualMismatches', MetricUnit.Count, counts.manual);
    metrics.addMetric('OpenUnclassifiableMismatches', MetricUnit.Count, counts.unclassifiable);
    metrics.publishStoredMetrics();
  }
}
