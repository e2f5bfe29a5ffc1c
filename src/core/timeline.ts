/**
 * A payment's timeline: what happened to it, recorded as it happens, append-only (`PAY#<payment id>` in the
 * timeline table). The flows record the facts no other record keeps (acceptance, PSP calls and their outcomes,
 * webhooks received and what became of them, task tokens issued and answered, janitor and replay decisions, status
 * moves, reconciliation findings); the read side (src/api/timeline.ts) merges them with the records that already
 * are append-only: the ledger, the refunds and payouts, and Step Functions' own execution history.
 *
 * Recording is ambient: an adapter (a Task handler, an API handler, a queue consumer, a janitor) runs its work in
 * `withTimeline({ source })`, and the flows call `recordTimeline(...)`. Outside such a scope (a unit test calling a
 * flow directly) nothing is recorded. A timeline write never fails the money movement it describes: it is written
 * after the fact it reports, and when it cannot be written the whole event is logged (with the payment id) and
 * counted, so an investigator still finds it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo, runtimeConfig } from './clients';
import { logger } from './observability';
import { queryAll } from './query';

export const TIMELINE_SOURCES = [
  'api',
  'workflow',
  'webhook',
  'janitor',
  'replay',
  'psp',
  'ledger',
  'wallet',
  'refund',
  'dispute',
  'payout',
  'reconciliation',
] as const;
export type TimelineSource = (typeof TIMELINE_SOURCES)[number];

export interface TimelineEvent {
  payment_id: string;
  /** ISO 8601 UTC, milliseconds. */
  at: string;
  source: TimelineSource;
  /** What happened, dotted: `payment.accepted`, `psp.charge`, `webhook.received`, `state.retried`... */
  type: string;
  /** One line a person reads. */
  summary: string;
  /** The ids it touches (execution ARN, idempotency key, PSP reference, refund id, webhook event id...). */
  ids: Record<string, string>;
  /** More facts, when there are some (an error's cause, a decision's reasons). */
  detail?: Record<string, unknown>;
}

export type NewTimelineEvent = Omit<TimelineEvent, 'at' | 'source'> & {
  at?: string;
  /** Defaults to the source of the scope it is recorded in. */
  source?: TimelineSource;
  /**
   * For a fact that happens once (a payment accepted, a mismatch found): recorded once under this key however many
   * times a retry records it again.
   */
  once?: string;
};

/** Where events go: the timeline table, or a test's fake. */
export interface TimelineWriter {
  put(event: TimelineEvent, once?: string): Promise<void>;
}

export interface TimelineScope {
  source: TimelineSource;
  /** The writer; the timeline table of the function's configuration when unset. */
  writer?: TimelineWriter;
}

const scopes = new AsyncLocalStorage<TimelineScope>();

/** Runs `fn` with timeline recording on: events recorded inside default to `scope.source`. */
export function withTimeline<T>(scope: TimelineScope, fn: () => Promise<T>): Promise<T> {
  return scopes.run(scope, fn);
}

/**
 * Runs `fn` with events recorded as coming from `source`, in the current scope's writer if there is one, else in a
 * scope of its own (the recovery decision opens one: the janitor's and replay's decisions are always recorded).
 */
export function asTimelineSource<T>(source: TimelineSource, fn: () => Promise<T>): Promise<T> {
  return scopes.run({ ...scopes.getStore(), source }, fn);
}

/** The source of the current scope (undefined outside one). */
export function timelineSource(): TimelineSource | undefined {
  return scopes.getStore()?.source;
}

const PK = (paymentId: string) => `PAY#${paymentId}`;
let sequence = 0;

export class TimelineTable implements TimelineWriter {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Appends an event; an event recorded `once` under a key already there is not written again. */
  async put(event: TimelineEvent, once?: string): Promise<void> {
    // Events of one millisecond keep the order they were recorded in (a counter of this process), then a random tail.
    const sk = once ? `ONCE#${once}` : `${event.at}#${String(++sequence).padStart(9, '0')}${randomUUID().slice(0, 4)}`;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: PK(event.payment_id), sk, ...event },
          // Append-only: an item is never overwritten.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  }

  /** A payment's recorded events, in time order. */
  async eventsOf(paymentId: string): Promise<TimelineEvent[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': PK(paymentId) },
      ConsistentRead: true,
    });
    return (
      items
        .map(({ pk: _pk, sk: _sk, ...event }) => event as unknown as TimelineEvent)
        // Stable: events of the same millisecond stay in their sort-key order.
        .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
    );
  }
}

let defaultWriter: TimelineWriter | null | undefined;
function configuredWriter(): TimelineWriter | null {
  if (defaultWriter === undefined) {
    let name: string | undefined;
    try {
      name = runtimeConfig().tables.timeline;
    } catch {
      name = undefined; // no configuration at all (a tool or a test): the events are logged
    }
    if (!name) logger.warn('TIMELINE_TABLE is not set: timeline events are logged, not stored');
    defaultWriter = name ? new TimelineTable(dynamo(), name) : null;
  }
  return defaultWriter;
}

/**
 * Records an event of a payment's timeline (inside a `withTimeline` scope; outside one it does nothing). Never
 * throws: an event that cannot be stored is logged whole.
 */
export async function recordTimeline(event: NewTimelineEvent): Promise<void> {
  const scope = scopes.getStore();
  if (!scope) return;
  const { once, ...rest } = event;
  const full: TimelineEvent = {
    ...rest,
    at: event.at ?? new Date().toISOString(),
    source: event.source ?? scope.source,
    ids: { payment_id: event.payment_id, ...event.ids },
  };
  try {
    const writer = scope.writer ?? configuredWriter();
    if (!writer) {
      logger.info('timeline event', { timeline_event: full });
      return;
    }
    await writer.put(full, once);
  } catch (error) {
    logger.error('timeline event not stored', { payment_id: full.payment_id, timeline_event: full, error });
  }
}

/** A short, stable fingerprint of a secret-like value (a task token): enough to tell two apart, not to use one. */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}
