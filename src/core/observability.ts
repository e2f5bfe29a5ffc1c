/**
 * The one Powertools setup: every function logs through this logger (JSON, with the payment id as correlation id).
 * Its siblings: the business metrics (src/core/metrics.ts) and the X-Ray tracing of the AWS clients (src/core/tracing.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';

// The service name is the project's own; the log level comes from POWERTOOLS_LOG_LEVEL, read by Powertools itself.
export const logger = new Logger({ serviceName: 'payments' });
