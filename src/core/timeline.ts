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
 *
 * A scope's events are written together when it ends: one item per payment holding that invocation's events in
 * order (a Task that moves a payment, calls the PSP and records the outcome writes once, not three times). A fact
 * that happens once (`once`) is written at once, conditionally. What this costs: the events of an invocation that is
 * killed (a timeout) before its scope ends are lost with it; Step Functions' history still shows that state failing.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { BatchWriteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
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
  /** Several events at once (a scope's, in order); each written by `put` when the writer has no such method. */
  putMany?(events: TimelineEvent[]): Promise<void>;
}

export interface TimelineScope {
  source: TimelineSource;
  /** The writer; the timeline table of the function's configuration when unset. */
  writer?: TimelineWriter;
}

/** A scope as it runs: its events waiting to be written when it ends. */
type OpenScope = TimelineScope & { buffer: TimelineEvent[] };

const scopes = new AsyncLocalStorage<OpenScope>();

async function runScope<T>(scope: TimelineScope, fn: () => Promise<T>): Promise<T> {
  const open: OpenScope = { ...scope, buffer: [] };
  try {
    return await scopes.run(open, fn);
  } finally {
    await flush(open);
  }
}

/** Runs `fn` with timeline recording on: events recorded inside default to `scope.source`. */
export function withTimeline<T>(scope: TimelineScope, fn: () => Promise<T>): Promise<T> {
  return runScope(scope, fn);
}

/**
 * Runs `fn` with events recorded as coming from `source`, in the current scope (written when it ends) if there is
 * one, else in a scope of its own (the recovery decision opens one: the janitor's and replay's decisions are always
 * recorded).
 */
export function asTimelineSource<T>(source: TimelineSource, fn: () => Promise<T>): Promise<T> {
  const parent = scopes.getStore();
  if (parent) return scopes.run({ ...parent, source }, fn);
  return runScope({ source }, fn);
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

  /**
   * Appends a scope's events: one item per payment (its events in order, at most 50 an item), in batches of 25
   * items; items the store could not take yet are sent again, a bounded number of times.
   */
  async putMany(events: TimelineEvent[]): Promise<void> {
    const byPayment = new Map<string, TimelineEvent[]>();
    for (const event of events) byPayment.set(event.payment_id, [...(byPayment.get(event.payment_id) ?? []), event]);
    const items: Record<string, unknown>[] = [];
    for (const [paymentId, own] of byPayment) {
      for (let start = 0; start < own.length; start += 50) {
        const chunk = own.slice(start, start + 50);
        const first = chunk[0] as TimelineEvent;
        items.push({
          pk: PK(paymentId),
          sk: `${first.at}#${String(++sequence).padStart(9, '0')}${randomUUID().slice(0, 4)}`,
          events: chunk,
        });
      }
    }
    for (let start = 0; start < items.length; start += 25) {
      let pending = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= 5) throw new Error(`${pending.length} timeline item(s) left unprocessed`);
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
        const out = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = (out.UnprocessedItems?.[this.tableName] ?? []) as typeof pending;
      }
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
        // An item holds one event, or a scope's events of this payment (`events`, in order).
        .flatMap(({ pk: _pk, sk: _sk, ...item }) =>
          Array.isArray(item.events) ? (item.events as TimelineEvent[]) : [item as unknown as TimelineEvent],
        )
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
  if (!once) {
    scope.buffer.push(full);
    return;
  }
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

/** Writes a scope's events when it ends. Never throws: events that cannot be stored are logged whole. */
async function flush(scope: OpenScope): Promise<void> {
  const events = scope.buffer.splice(0);
  if (events.length === 0) return;
  try {
    const writer = scope.writer ?? configuredWriter();
    if (!writer) {
      for (const event of events) logger.info('timeline event', { timeline_event: event });
      return;
    }
    if (writer.putMany) await writer.putMany(events);
    else for (const event of events) await writer.put(event);
  } catch (error) {
    for (const event of events) {
      logger.error('timeline event not stored', { payment_id: event.payment_id, timeline_event: event, error });
    }
  }
}

/** A short, stable fingerprint of a secret-like value (a task token): enough to tell two apart, not to use one. */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}
