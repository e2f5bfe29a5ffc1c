/**
 * The business metrics (Powertools Metrics: one CloudWatch EMF line on stdout per publication, which CloudWatch Logs
 * turns into metrics; namespace POWERTOOLS_METRICS_NAMESPACE, `Payments` on every function, dimension
 * `service`). Published at once by the function that observes the fact, and never in its way: a metric that cannot be
 * published is logged and the function's work goes on. Amounts are integer minor units, never floats of major units.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { BUSINESS_METRICS, CURRENCY_DIMENSION } from './metric-names';
import { logger } from './observability';

/** Publishes the metrics `emit` adds, at once. Never throws: a failure (an invalid value, say) is logged. */
export function publishMetrics(what: string, emit: (metrics: Metrics) => void): void {
  try {
    // The service name is the project's own, as the logger's; the namespace comes from POWERTOOLS_METRICS_NAMESPACE.
    const metrics = new Metrics({ serviceName: 'payments' });
    emit(metrics);
    metrics.publishStoredMetrics();
  } catch (error) {
    logger.warn('metrics not published', { metrics: what, error: error as Error });
  }
}

const ISO_4217 = /^[A-Z]{3}$/;

/** A count of minor units: a non-negative safe integer (a float of major units is refused, not rounded). */
export const isMinorUnits = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** A payment the workflow finalized: its id, and (when the step tells them) its currency and total in minor units. */
export interface SucceededPayment {
  payment_id: string;
  currency?: string;
  total_minor?: number;
}

/**
 * `PaymentsSucceeded` (1), and the payment's total as `PaymentAmountSucceeded` with the dimension `currency`
 * (minor units, unit None) when the currency and an integer amount are known. The payment id rides along as EMF
 * metadata (a property of the log line, not a dimension), like on every log line of the payment.
 */
export function publishPaymentSucceeded(payment: SucceededPayment): void {
  publishMetrics(BUSINESS_METRICS.paymentsSucceeded, (metrics) => {
    metrics.addMetadata('payment_id', payment.payment_id);
    metrics.addMetric(BUSINESS_METRICS.paymentsSucceeded, MetricUnit.Count, 1);
  });
  const { currency, total_minor: amount } = payment;
  if (currency === undefined && amount === undefined) return;
  if (currency === undefined || !ISO_4217.test(currency) || !isMinorUnits(amount)) {
    logger.warn('payment amount metric not published: it needs an ISO 4217 code and integer minor units', {
      currency,
      total_minor: amount,
    });
    return;
  }
  // Published apart (its own EMF line): its `currency` dimension must not apply to the count above.
  publishMetrics(BUSINESS_METRICS.paymentAmountSucceeded, (metrics) => {
    metrics.addDimension(CURRENCY_DIMENSION, currency);
    metrics.addMetadata('payment_id', payment.payment_id);
    metrics.addMetric(BUSINESS_METRICS.paymentAmountSucceeded, MetricUnit.NoUnit, amount);
  });
}

/** A payment whose workflow gave up: the stage it gave up at and the status it was left in go along as metadata. */
export interface FailedPayment {
  payment_id: string;
  /** Why, e.g. `charge` (the PSP's outcome unknown) or `booking` (wallet or ledger incomplete). */
  reason: string;
  status?: string;
}

/** `PaymentsFailed` (1), with the payment id, the reason and the status as EMF metadata. */
export function publishPaymentFailed(payment: FailedPayment): void {
  publishMetrics(BUSINESS_METRICS.paymentsFailed, (metrics) => {
    metrics.addMetadata('payment_id', payment.payment_id);
    metrics.addMetadata('reason', payment.reason);
    if (payment.status !== undefined) metrics.addMetadata('status', payment.status);
    metrics.addMetric(BUSINESS_METRICS.paymentsFailed, MetricUnit.Count, 1);
  });
}

/** `PendingPayments`: the gauge of a janitor run (how many non-final payments it found stale). */
export function publishPendingPayments(count: number): void {
  publishMetrics(BUSINESS_METRICS.pendingPayments, (metrics) => {
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`not a count of payments: ${count}`);
    metrics.addMetric(BUSINESS_METRICS.pendingPayments, MetricUnit.Count, count);
  });
}
