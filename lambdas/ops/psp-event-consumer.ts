/**
 * The SQS consumer of one flow's verified PSP webhook events (batch with partial-failure reporting: a failed event is
 * retried alone and, after a bounded number of receives, dead-lettered). Every failure is logged with its reason. A
 * malformed event (not JSON, or missing a field we read), or one of another flow (src/psp/event-flows.ts: the
 * receiver routes each to its flow's queue), is not dropped: it fails on every receive, its reason logged each time,
 * and ends in the queue's dead-letter queue, where nothing accepted from the PSP is lost.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger } from '../../src/core/observability';
import { withTimeline } from '../../src/core/timeline';
import { type PspEventFlow, pspEventFlow } from '../../src/psp/event-flows';
import { MalformedPspEventError, type PspEvent, parsePspEvent } from '../../src/psp/events';

/** An event of another flow's on this flow's queue: refused (a routing fault), kept for the dead-letter queue. */
export class MisroutedPspEventError extends Error {
  override readonly name = 'MisroutedPspEventError';
}

export function pspEventConsumer(flow: PspEventFlow, apply: (event: PspEvent) => Promise<string>) {
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
    const owner = pspEventFlow(event.type);
    if (owner !== flow) {
      logger.error("PSP event of another flow's queue: not applied, kept for the dead-letter queue", {
        ...facts,
        event_id: event.id,
        type: event.type,
        flow: owner,
        queue_flow: flow,
      });
      throw new MisroutedPspEventError(`${event.type} is applied by the ${owner} flow, not the ${flow} flow`);
    }
    try {
      return await withTimeline({ source: 'webhook' }, () => apply(event));
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

  return async (event: SQSEvent, context: Context) => {
    const response = await processPartialResponse(event, record, processor, { context });
    if (response.batchItemFailures.length > 0) {
      logger.warn('PSP events failed, to be retried', { failed: response.batchItemFailures.length });
    }
    return response;
  };
}
