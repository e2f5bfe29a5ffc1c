/**
 * SQS consumer of verified PSP webhook events (batch with partial-failure reporting: a failed event is retried
 * alone and, after a bounded number of receives, dead-lettered). Every failure is logged with its reason. A malformed
 * event (not JSON, or missing a field we read) is not dropped: it fails on every receive, its reason logged each time,
 * and ends in the dead-letter queue, where nothing accepted from the PSP is lost.
 */
import '../../src/payout/with-psp';
import '../../src/refunds/with-psp';
import '../../src/payin/with-psp';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger } from '../../src/core/observability';
import { withTimeline } from '../../src/core/timeline';
import { stepDeps } from '../../src/payin/deps';
import { applyPspEvent } from '../../src/payin/webhooks';
import { payoutDeps } from '../../src/payout/deps';
import { applyConnectEvent, isConnectEvent } from '../../src/payout/webhooks';
import { MalformedPspEventError, parsePspEvent } from '../../src/psp/events';
import { applyRefundEvent, isRefundEvent } from '../../src/refunds/webhooks';
import { deps as refundDeps } from '../refunds/deps';

const processor = new BatchProcessor(EventType.SQS);

async function record(item: SQSRecord): Promise<string> {
  const facts = {
    message_id: item.messageId,
    receive_count: Number(item.attributes?.ApproximateReceiveCount ?? 0),
  };
  const parsed = parsePspEvent(item.body);
  if (!parsed.ok) {
    logger.error('malformed PSP event: not applied, kept for the dead-letter queue', {
      ...facts,
      event_id: parsed.eventId,
      type: parsed.type,
      reason: parsed.reason,
    });
    throw new MalformedPspEventError(parsed.reason);
  }
  const { event } = parsed;
  try {
    // Connect events (accounts, balance, transfers, payouts) belong to the pay-out; the rest to the pay-in.
    return await withTimeline({ source: 'webhook' }, async () => {
      if (isConnectEvent(event)) return await applyConnectEvent(payoutDeps(), event);
      if (isRefundEvent(event)) return await applyRefundEvent(refundDeps(), event);
      return await applyPspEvent(stepDeps(), event);
    });
  } catch (error) {
    logger.warn('PSP event failed, to be retried', {
      ...facts,
      event_id: event.id,
      type: event.type,
      reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      error,
    });
    throw error;
  }
}

export const handler = async (event: SQSEvent, context: Context) => {
  const response = await processPartialResponse(event, record, processor, { context });
  if (response.batchItemFailures.length > 0) {
    logger.warn('PSP events failed, to be retried', { failed: response.batchItemFailures.length });
  }
  return response;
};
