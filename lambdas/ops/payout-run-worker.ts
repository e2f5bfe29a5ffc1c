/**
 * SQS consumer of payout runs: a page message lists sellers and queues them; a sellers message pays each seller
 * (its funds checked at the PSP, one payout per currency at or above the minimum). Partial failures are retried
 * alone and, after bounded receives, dead-lettered (alarmed); every step is safe to repeat.
 */
import '../../src/payout/with-psp';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { logger } from '../../src/core/observability';
import { payoutDeps } from '../../src/payout/deps';
import { runPage, runSeller } from '../../src/payout/runs';

const processor = new BatchProcessor(EventType.SQS);

const text = () => z.string().check(z.minLength(1));
const run = z.object({ run_id: text(), date: text(), attempt: z.int().check(z.gte(1)) });
const message = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('page'), run, start_key: z.optional(z.string()) }),
  z.object({ kind: z.literal('sellers'), run, sellers: z.array(text()).check(z.maxLength(10)) }),
]);

async function record(item: SQSRecord): Promise<void> {
  const parsed = message.parse(JSON.parse(item.body));
  logger.appendKeys({ run_id: parsed.run.run_id });
  if (parsed.kind === 'page') {
    await runPage(payoutDeps(), parsed.run, parsed.start_key);
    return;
  }
  // The sellers of a message at once (each is independent, and safe to repeat if the message comes back).
  const results = await Promise.allSettled(
    parsed.sellers.map(async (seller) => {
      const outcome = await runSeller(payoutDeps(), parsed.run, seller);
      logger.info('payout run: seller done', { seller_account: seller, ...outcome });
    }),
  );
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  for (const [i, failure] of failures.entries()) {
    logger.warn('payout run: seller failed, the message comes back', { n: i + 1, error: failure.reason });
  }
  if (failures[0]) throw failures[0].reason;
}

export const handler = async (event: SQSEvent, context: Context) => {
  const response = await processPartialResponse(event, record, processor, { context });
  if (response.batchItemFailures.length > 0) {
    logger.warn('payout run messages failed, to be retried', { failed: response.batchItemFailures.length });
  }
  return response;
};
