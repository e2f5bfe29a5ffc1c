/**
 * The names of the metrics the functions publish (Powertools Metrics, EMF; namespace `METRICS_NAMESPACE` of
 * lambdas/catalog.ts, dimension `service`), shared by the code that publishes them and the CDK app's dashboard
 * (lib/dashboard.ts). No dependency: the CDK app reads it without loading Powertools.
 */

/** The business metrics of the pay-in and the janitor (published through src/core/metrics.ts). */
export const BUSINESS_METRICS = {
  /** Count, 1 per payment the workflow finalized SUCCESS (Finalize). */
  paymentsSucceeded: 'PaymentsSucceeded',
  /** Count, 1 per payment that failed (declined, rejected, stopped at its deadline), by the write that moved it to FAILED. */
  paymentsFailed: 'PaymentsFailed',
  /** The total of a payment finalized SUCCESS, in integer minor units of its currency; extra dimension `currency`. */
  paymentAmountSucceeded: 'PaymentAmountSucceeded',
  /**
   * Gauge, per janitor run: the payments the janitor found in a non-final state (NOT_STARTED, EXECUTING, UNKNOWN,
   * PENDING) and unchanged for longer than its threshold.
   */
  pendingPayments: 'PendingPayments',
} as const;

/** The extra dimension of `PaymentAmountSucceeded`: an ISO 4217 code. */
export const CURRENCY_DIMENSION = 'currency';

/**
 * The open reconciliation mismatches FinishRun publishes (src/reconciliation/adapters.ts), with an alarm each
 * (the catalog's `metricAlarms`).
 */
export const OPEN_MISMATCH_METRICS = ['OpenManualMismatches', 'OpenUnclassifiableMismatches'] as const;
