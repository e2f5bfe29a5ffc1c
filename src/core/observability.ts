/** The one Powertools setup: every function logs through this logger (JSON, with the payment id as correlation id). */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'payments' });
