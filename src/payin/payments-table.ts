/**
 * Payment events and orders in DynamoDB. Every state change is a conditional write (or a transaction of them)
 * whose condition is the transition table of src/payin/payment.ts, so a retried or late step changes nothing.
 */
import type { DynamoDBDocumentClient, TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { asRetryable, cancellationCodes } from '../core/errors';
import { publishPaymentFailed } from '../core/metrics';
import { recordTimeline } from '../core/timeline';
import { CheckoutInProgressError, DuplicateCheckoutError, DuplicateOrderError, PaymentIdTakenError } from './errors';
import type {
  BookedFlag,
  BuyerVelocity,
  Payment,
  PaymentsStore,
  TransitionChanges,
  TransitionScope,
  WebhookLog,
} from './ports';

export type { Payment };

import { allowedSources, type OrderStatus, type PaymentEvent, type PaymentOrder } from './payment';
import { keys, readOrdersByIds, readPayment, strip } from './payment-reads';

export { keys };

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** The by-status index's one key: open payments (NOT_STARTED, EXECUTING, PENDING, UNKNOWN). */
const OPEN = 'OPEN';

export class PaymentsTable implements PaymentsStore, WebhookLog, BuyerVelocity {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Orders by id, many at once: reconciliation checks every charged order of a day was credited and booked. */
  ordersByIds(ids: ReadonlyArray<{ payment_id: string; payment_order_id: string }>): Promise<PaymentOrder[]> {
    return readOrdersByIds(this.client, this.tableName, ids);
  }

  /** Stores a new payment event with its orders, refusing a checkout or an order id seen before. */
  async create(event: PaymentEvent, orders: PaymentOrder[]): Promise<void> {
    const TableName = this.tableName;
    const notExists = 'attribute_not_exists(pk)';
    const items: TransactItem[] = [
      {
        Put: {
          TableName,
          Item: { ...keys.checkoutGuard(event.checkout_id), entity: 'CHECKOUT_GUARD', payment_id: event.payment_id },
          ConditionExpression: notExists,
        },
      },
      {
        Put: {
          TableName,
          Item: { ...keys.event(event.payment_id), entity: 'EVENT', ...this.statusIndex(event), ...event },
          ConditionExpression: notExists,
        },
      },
      ...orders.map(
        (order): TransactItem => ({
          Put: {
            TableName,
            Item: { ...keys.orderGuard(order.payment_order_id), entity: 'ORDER_GUARD', payment_id: order.payment_id },
            ConditionExpression: notExists,
          },
        }),
      ),
      ...orders.map(
        (order): TransactItem => ({
          Put: {
            TableName,
            Item: { ...keys.order(order.payment_id, order.payment_order_id), entity: 'ORDER', ...order },
            ConditionExpression: notExists,
          },
        }),
      ),
    ];
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes?.[0] === 'ConditionalCheckFailed') {
        const guard = await this.client.send(
          new GetCommand({ TableName, Key: keys.checkoutGuard(event.checkout_id), ConsistentRead: true }),
        );
        throw new DuplicateCheckoutError(event.checkout_id, guard.Item?.payment_id as string | undefined);
      }
      if (codes?.[1] === 'ConditionalCheckFailed') {
        throw new PaymentIdTakenError(`payment ${event.payment_id} already exists for another checkout`);
      }
      const duplicates = orders.filter((_, i) => codes?.[2 + i] === 'ConditionalCheckFailed');
      if (duplicates.length > 0) throw new DuplicateOrderError(duplicates.map((order) => order.payment_order_id));
      // The same payment written by a concurrent request (the same key, sent twice at once).
      if (codes?.[1] === 'TransactionConflict') {
        throw new CheckoutInProgressError(`payment ${event.payment_id} is being stored by another request`);
      }
      throw asRetryable(error);
    }
  }

  async getEvent(paymentId: string): Promise<PaymentEvent | undefined> {
    const { Item } = await this.client
      .send(new GetCommand({ TableName: this.tableName, Key: keys.event(paymentId), ConsistentRead: true }))
      .catch((error) => {
        throw asRetryable(error);
      });
    return Item ? strip<PaymentEvent>(Item) : undefined;
  }

  get(paymentId: string): Promise<Payment | undefined> {
    return readPayment(this.client, this.tableName, paymentId);
  }

  /**
   * Moves the payment event and/or its orders to `to`, in one transaction, each only from a state the
   * transition table allows. Returns false (changing nothing) when any of them is no longer in such a state.
   */
  async transition(
    payment: Payment,
    to: OrderStatus,
    changes: TransitionChanges = {},
    scope: TransitionScope = 'all',
  ): Promise<boolean> {
    const now = new Date().toISOString();
    const sources = allowedSources(to).filter((source) => !changes.from || changes.from.includes(source));
    if (sources.length === 0) return false;
    const values: Record<string, unknown> = { ':to': to, ':now': now };
    sources.forEach((source, i) => {
      values[`:from${i}`] = source;
    });
    const condition = `#status IN (${sources.map((_, i) => `:from${i}`).join(', ')})`;
    let set = '#status = :to, updated_at = :now';
    const removes: string[] = [];
    if (changes.reason === null) removes.push('status_reason');
    else if (changes.reason !== undefined) {
      set += ', status_reason = :reason';
      values[':reason'] = changes.reason;
    }
    for (const [name, value] of Object.entries(changes.set ?? {})) {
      set += `, ${name} = :set_${name}`;
      values[`:set_${name}`] = value;
    }
    if (changes.pspReference !== undefined) {
      set += ', psp_reference = :ref';
      values[':ref'] = changes.pspReference;
    }
    const update = (
      key: Record<string, string>,
      extra = '',
      extraValues: Record<string, unknown> = {},
      extraCondition?: { name: string; equals: string },
      extraRemoves: string[] = [],
    ) => ({
      Update: {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: `SET ${set}${extra}${[...removes, ...extraRemoves].length > 0 ? ` REMOVE ${[...removes, ...extraRemoves].join(', ')}` : ''}`,
        ConditionExpression: extraCondition ? `${condition} AND #if = :if` : condition,
        ExpressionAttributeNames: { '#status': 'status', ...(extraCondition ? { '#if': extraCondition.name } : {}) },
        ExpressionAttributeValues: {
          ...values,
          ...extraValues,
          ...(extraCondition ? { ':if': extraCondition.equals } : {}),
        },
      },
    });
    // Fields of the event alone (never on the orders): named, so any attribute name is safe.
    const eventNames: Record<string, string> = {};
    const eventValues: Record<string, unknown> = {};
    let eventSet = '';
    for (const [name, value] of Object.entries(changes.eventSet ?? {})) {
      eventNames[`#e_${name}`] = name;
      eventValues[`:e_${name}`] = value;
      eventSet += `, #e_${name} = :e_${name}`;
    }
    const items: TransactItem[] = [];
    if (scope !== 'orders') {
      // An open payment stays in the by-status index under the key it was created with (a move between open states
      // leaves the index entry as it is: no index write); a final one leaves it (nobody looks for those).
      const final = to === 'SUCCESS' || to === 'FAILED';
      const item = update(
        keys.event(payment.event.payment_id),
        eventSet,
        eventValues,
        changes.eventIf,
        final ? ['gsi1pk', 'gsi1sk'] : [],
      );
      Object.assign(item.Update.ExpressionAttributeNames, eventNames);
      items.push(item);
    } else if (eventSet) {
      // The orders move; the event keeps its status and takes the fields in the same transaction.
      items.push({
        Update: {
          TableName: this.tableName,
          Key: keys.event(payment.event.payment_id),
          UpdateExpression: `SET updated_at = :now${eventSet}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: eventNames,
          ExpressionAttributeValues: { ':now': now, ...eventValues },
        },
      });
    }
    if (scope !== 'event') {
      items.push(...payment.orders.map((order) => update(keys.order(order.payment_id, order.payment_order_id))));
    }
    try {
      // One item (the event alone): a conditional update is as atomic as a transaction, at half its cost.
      const [only] = items;
      if (items.length === 1 && only?.Update) await this.client.send(new UpdateCommand(only.Update));
      else await this.client.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (cancellationCodes(error)?.includes('ConditionalCheckFailed')) return false;
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw asRetryable(error);
    }
    // A payment failed, counted once: by the conditional write that moved it (a decline at the charge or on the PSP's
    // page, a risk rejection, a deadline, the PSP's record). Never throws.
    if (to === 'FAILED' && scope !== 'orders') {
      publishPaymentFailed({ payment_id: payment.event.payment_id, reason: changes.reason ?? 'failed', status: to });
    }
    const what = scope === 'orders' ? 'its orders' : scope === 'event' ? 'the payment' : 'the payment and its orders';
    const from = scope === 'orders' ? (payment.orders[0]?.status ?? payment.event.status) : payment.event.status;
    await recordTimeline({
      payment_id: payment.event.payment_id,
      type: `payment.${to.toLowerCase()}`,
      summary: `${what} moved ${from} -> ${to}${changes.reason ? ` (${changes.reason})` : ''}`,
      ids: changes.pspReference ? { psp_reference: changes.pspReference } : {},
      detail: { from, to, scope, ...(changes.reason ? { reason: changes.reason } : {}) },
    });
    return true;
  }

  /**
   * Sets fields of the payment event without changing its status. `ifStatusIn` makes it conditional.
   * Returns false, changing nothing, when the condition fails.
   */
  async setEventFields(
    paymentId: string,
    fields: Record<string, unknown>,
    ifStatusIn?: OrderStatus[],
    ifAbsent?: string,
  ): Promise<boolean> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':now': new Date().toISOString() };
    const sets = ['updated_at = :now'];
    for (const [name, value] of Object.entries(fields)) {
      names[`#f_${name}`] = name;
      values[`:f_${name}`] = value;
      sets.push(`#f_${name} = :f_${name}`);
    }
    let condition = 'attribute_exists(pk)';
    if (ifAbsent) {
      names['#absent'] = ifAbsent;
      condition += ' AND attribute_not_exists(#absent)';
    }
    if (ifStatusIn) {
      names['#status'] = 'status';
      ifStatusIn.forEach((status, i) => {
        values[`:s${i}`] = status;
      });
      condition += ` AND #status IN (${ifStatusIn.map((_, i) => `:s${i}`).join(', ')})`;
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.event(paymentId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw asRetryable(error);
    }
  }

  /**
   * Moves an open payment to the back of the by-status index's list: its sort key becomes `after#id` (the janitor's
   * turn taking). A payment that became final meanwhile has left the index and stays out (the condition).
   */
  async requeueOpen(paymentId: string, after: string): Promise<void> {
    await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.event(paymentId),
          UpdateExpression: 'SET gsi1sk = :sk',
          ConditionExpression: 'gsi1pk = :open',
          ExpressionAttributeValues: { ':sk': `${after}#${paymentId}`, ':open': OPEN },
        }),
      )
      .catch((error) => {
        if ((error as Error).name === 'ConditionalCheckFailedException') return;
        throw asRetryable(error);
      });
  }

  /** Ids of the open payments created before `before` (ISO time), oldest first, read a page at a time. */
  async *openIdsCreatedBefore(before: string): AsyncGenerator<string> {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client
        .send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: 'by-status',
            KeyConditionExpression: 'gsi1pk = :open AND gsi1sk < :before',
            ExpressionAttributeValues: { ':open': OPEN, ':before': before },
            Limit: 100,
            ExclusiveStartKey: start,
          }),
        )
        .catch((error) => {
          throw asRetryable(error);
        });
      for (const item of page.Items ?? []) yield String(item.payment_id);
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /**
   * Records a payment for a buyer's velocity window and returns how many distinct payments the window holds.
   * Idempotent per payment id (a string set), so a retried risk check counts once.
   */
  async countBuyerPayments(
    buyerId: string,
    paymentId: string,
    windowStart: string,
    expiresAt: number,
  ): Promise<number> {
    const result = await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `VELOCITY#${buyerId}`, sk: windowStart },
          UpdateExpression: 'ADD payment_ids :id SET expires_at = :exp',
          ExpressionAttributeValues: { ':id': new Set([paymentId]), ':exp': expiresAt },
          ReturnValues: 'ALL_NEW',
        }),
      )
      .catch((error) => {
        throw asRetryable(error);
      });
    return (result.Attributes?.payment_ids as Set<string> | undefined)?.size ?? 1;
  }

  /** Whether a PSP webhook event was already applied. */
  async webhookSeen(eventId: string): Promise<boolean> {
    const { Item } = await this.client
      .send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: `WEBHOOK#${eventId}`, sk: 'EVENT' },
          ConsistentRead: true,
        }),
      )
      .catch((error) => {
        throw asRetryable(error);
      });
    return Item !== undefined;
  }

  /**
   * Records a PSP webhook event as applied, once (conditional write), kept beyond the PSP's 3-day redelivery
   * window. Returns false when it was recorded before.
   */
  async recordWebhook(
    eventId: string,
    details: Record<string, unknown>,
    keepSeconds = 7 * 24 * 3600,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: `WEBHOOK#${eventId}`,
            sk: 'EVENT',
            entity: 'WEBHOOK_EVENT',
            event_id: eventId,
            ...details,
            applied_at: new Date().toISOString(),
            expires_at: Math.floor(Date.now() / 1000) + keepSeconds,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw asRetryable(error);
    }
  }

  /** The write that marks an order's wallet or ledger booking as done, for use inside a transaction. */
  markBooked(order: PaymentOrder, flag: BookedFlag | BookedFlag[]): TransactItem {
    const flags = Array.isArray(flag) ? flag : [flag];
    const names = Object.fromEntries(flags.map((f, i) => [i === 0 ? '#flag' : `#flag${i}`, f]));
    const placeholders = Object.keys(names);
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.order(order.payment_id, order.payment_order_id),
        UpdateExpression: `SET ${placeholders.map((n) => `${n} = :true`).join(', ')}, updated_at = :now`,
        // Only a charged order is booked, and only once.
        ConditionExpression: `#status = :success AND ${placeholders.map((n) => `${n} = :false`).join(' AND ')}`,
        ExpressionAttributeNames: { ...names, '#status': 'status' },
        ExpressionAttributeValues: {
          ':true': true,
          ':false': false,
          ':success': 'SUCCESS',
          ':now': new Date().toISOString(),
        },
      },
    };
  }

  /**
   * The by-status index entry of a new payment: every open payment under one key, by creation time (then id, for
   * uniqueness). Written with the payment and removed when it becomes final; a move between open states changes
   * neither the key nor the one attribute the index keeps (the id). Only the janitor moves an entry (requeueOpen).
   */
  private statusIndex(event: PaymentEvent): { gsi1pk: string; gsi1sk: string } {
    return { gsi1pk: OPEN, gsi1sk: `${event.created_at}#${event.payment_id}` };
  }
}
