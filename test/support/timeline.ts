/** A payment's timeline (GET /v1/payments/{id}/timeline) for the integration tests, and waiting for an event in it. */
import type { TimelineEvent } from '../../src/core/timeline';
import { call } from './api-client';
import type { StackInfo } from './local-stack-process';

export type TimelineView = { payment_id: string; status: string; events: TimelineEvent[] };

export async function timelineOf(paymentId: string, stack?: StackInfo): Promise<TimelineView> {
  const response = await call<TimelineView>('GET', `/v1/payments/${paymentId}/timeline`, { stack });
  if (response.status !== 200) throw new Error(`GET timeline of ${paymentId}: ${response.status}`);
  return response.body;
}

/** Polls the timeline until `done` holds (bounded); answers the last timeline read either way. */
export async function timelineUntil(
  paymentId: string,
  done: (events: TimelineEvent[]) => boolean,
  stack?: StackInfo,
  timeoutMs = 30_000,
): Promise<TimelineEvent[]> {
  const deadline = Date.now() + timeoutMs;
  let events = (await timelineOf(paymentId, stack)).events;
  while (!done(events) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    events = (await timelineOf(paymentId, stack)).events;
  }
  return events;
}

/** Events as `source type` lines, for a failure message that shows the whole story. */
export const story = (events: TimelineEvent[]) => events.map((e) => `${e.source} ${e.type}: ${e.summary}`).join('\n');
