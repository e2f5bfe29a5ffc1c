/** The one Powertools setup: every function logs through this logger (JSON, with the payment id as correlation id). */
import { Logger } from '@aws-lambda-powertools/logger';

// The service name is the project's own; the log level comes from POWERTOOLS_LOG_LEVEL, read by Powertools itself.
export const logger = new Logger({ serviceName: 'payments' });
