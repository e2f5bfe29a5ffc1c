/**
 * SQS consumer of verified PSP webhook events (batch with partial-failure reporting: a failed event is retried
 * alone and, after a bounded number of receives, dead-lettered).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger } from '../../src/core/observability';
import { stepDeps } from '../../src/payin/deps';
import { applyPspEvent } from '../../src/payin/webhooks';
import type { PspEvent } from '../../src/psp/events';

const processor = new BatchProcessor(EventType.SQS);

async function record(item: SQSRecord): Promise<string> {
  const event = JSON.parse(item.body) as PspEvent;
  return applyPspEvent(stepDeps(), event);
}

export const handler = async (event: SQSEvent, context: Context) => {
  const response = await processPartialResponse(event, record, processor, { context });
  if (response.batchItemFailures.length > 0) {
    logger.warn('PSP events failed, to be retried', { failed: response.batchItemFailures.length });
  }
  return response;
};
