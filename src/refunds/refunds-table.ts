/**
 * Refunds, refundable amounts, disputes and their applied webhook events in DynamoDB. A refund is created in one
 * transaction with the reservation of its amount on the order's refundable item (conditional: the sum never exceeds
 * the order); every status change is a conditional write; an open refund carries `open_status` (sparse index).
 */
import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { asRetryable, cancellationCodes, retryable } from '../core/errors';
import { WebhookLogTable } from '../core/webhook-log';
import type { Dispute, DisputeStatus } from './dispute';
import type { DisputeFlag, Refundable, RefundFlag, RefundsStore, TransactGuard } from './ports';
import { isOpenRefund, REFUND_TRANSITIONS, type Refund, type RefundableOrder, type RefundStatus } from './refund';
import { disputeKey, readDispute, readItem, readRefund, refundKey, strip } from './refund-reads';

const refundableKey = (orderId: string) => ({ pk: `ORDER#${orderId}`, sk: 'REFUNDABLE' });

/** Extra SET clauses of a flag guard (e.g. the bucket a wallet take used). */
function alsoSets(also: Record<string, string>) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  let sets = '';
  Object.entries(also).forEach(([name, value], i) => {
    names[`#a${i}`] = name;
    values[`:a${i}`] = value;
    sets += `, #a${i} = :a${i}`;
  });
  return { names, values, sets };
}

const conditionFailed = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

const sourcesOf = (to: RefundStatus) =>
  (Object.keys(REFUND_TRANSITIONS) as RefundStatus[]).filter((from) => REFUND_TRANSITIONS[from].includes(to));

const OPEN_ORDER: RefundStatus[] = ['FAILED', 'CANCELED', 'UNKNOWN', 'CREATED', 'PROCESSING'];

export class RefundsTable implements RefundsStore {
  private readonly webhooks: WebhookLogTable;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.webhooks = new WebhookLogTable(client, tableName);
  }

  webhookSeen(eventId: string): Promise<boolean> {
    return this.webhooks.webhookSeen(eventId);
  }

  recordWebhook(eventId: string, details: Record<string, unknown>): Promise<boolean> {
    return this.webhooks.recordWebhook(eventId, details);
  }

  private item(key: Record<string, string>) {
    return readItem(this.client, this.tableName, key);
  }

  get(refundId: string): Promise<Refund | undefined> {
    return readRefund(this.client, this.tableName, refundId);
  }

  async refundable(orderId: string): Promise<Refundable | undefined> {
    const item = await this.item(refundableKey(orderId));
    return item ? strip<Refundable>(item) : undefined;
  }

  async create(
    refund: Refund,
    order: RefundableOrder,
    refundedBefore: number,
    feeRefundedBefore: number,
  ): Promise<'created' | 'raced' | 'exists'> {
    const reserve: TransactGuard =
      refundedBefore === 0 && feeRefundedBefore === 0
        ? {
            // The first refund of the order: its refundable item, unless another first refund made it meanwhile.
            Update: {
              TableName: this.tableName,
              Key: refundableKey(order.payment_order_id),
              UpdateExpression:
                'SET payment_order_id = :order, payment_id = :payment, amount_minor = :amount, fee_minor = :fee, ' +
                'refunded_minor = :refunded, fee_refunded_minor = :feeRefunded, entity = :entity',
              ConditionExpression:
                'attribute_not_exists(pk) OR (refunded_minor = :zero AND (attribute_not_exists(fee_refunded_minor) OR fee_refunded_minor = :zero))',
              ExpressionAttributeValues: {
                ':order': order.payment_order_id,
                ':payment': order.payment_id,
                ':amount': order.amount_minor,
                ':fee': order.fee_minor,
                ':refunded': refund.amount_minor,
                ':feeRefunded': refund.fee_share_minor,
                ':zero': 0,
                ':entity': 'REFUNDABLE',
              },
            },
          }
        : {
            Update: {
              TableName: this.tableName,
              Key: refundableKey(order.payment_order_id),
              UpdateExpression: 'SET refunded_minor = :after, fee_refunded_minor = :feeAfter',
              ConditionExpression:
                'refunded_minor = :before AND amount_minor >= :after AND ' +
                '(fee_refunded_minor = :feeBefore OR (attribute_not_exists(fee_refunded_minor) AND :feeBefore = :zero))',
              ExpressionAttributeValues: {
                ':before': refundedBefore,
                ':after': refundedBefore + refund.amount_minor,
                ':feeBefore': feeRefundedBefore,
                ':feeAfter': feeRefundedBefore + refund.fee_share_minor,
                ':zero': 0,
              },
            },
          };
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...refundKey(refund.refund_id), entity: 'REFUND', ...refund, open_status: refund.status },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            reserve,
          ],
        }),
      );
      return 'created';
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes?.[0] === 'ConditionalCheckFailed') return 'exists';
      if (codes?.[1] === 'ConditionalCheckFailed') return 'raced';
      throw asRetryable(error);
    }
  }

  private update(
    refund: Refund,
    set: Partial<Refund>,
    to: RefundStatus,
    condition: string,
    values: Record<string, unknown>,
  ) {
    const after = { ...refund, ...set, status: to };
    const names: Record<string, string> = { '#status': 'status' };
    const sets: string[] = [];
    const removes: string[] = [];
    Object.entries({ ...set, status: to, updated_at: new Date().toISOString() }).forEach(([name, value], i) => {
      names[`#f${i}`] = name;
      if (value === undefined) {
        removes.push(`#f${i}`);
        return;
      }
      values[`:f${i}`] = value;
      sets.push(`#f${i} = :f${i}`);
    });
    if (isOpenRefund(after)) {
      sets.push('open_status = :open');
      values[':open'] = to;
    } else removes.push('open_status');
    return new UpdateCommand({
      TableName: this.tableName,
      Key: refundKey(refund.refund_id),
      UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  async move(refund: Refund, to: RefundStatus, set: Partial<Refund> = {}, from = sourcesOf(to)): Promise<boolean> {
    const values: Record<string, unknown> = {};
    from.forEach((status, i) => {
      values[`:from${i}`] = status;
    });
    try {
      await this.client.send(
        this.update(refund, set, to, `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`, values),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw asRetryable(error);
    }
  }

  async setFields(refundId: string, set: Partial<Refund>, ifStatusIn?: RefundStatus[]): Promise<boolean> {
    const current = await this.get(refundId);
    if (!current || (ifStatusIn && !ifStatusIn.includes(current.status))) return false;
    const values: Record<string, unknown> = { ':status': current.status, ':rd': current.reversal_done === true };
    try {
      await this.client.send(
        this.update(
          current,
          set,
          current.status,
          '#status = :status AND (attribute_not_exists(reversal_done) OR reversal_done = :rd)',
          values,
        ),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw asRetryable(error);
    }
  }

  flagGuard(refundId: string, flag: RefundFlag, also: Record<string, string> = {}): TransactGuard {
    const { names, values, sets } = alsoSets(also);
    return {
      Update: {
        TableName: this.tableName,
        Key: refundKey(refundId),
        UpdateExpression: `SET #flag = :true, updated_at = :now${sets}`,
        ConditionExpression: 'attribute_exists(pk) AND #flag = :false',
        ExpressionAttributeNames: { '#flag': flag, ...names },
        ExpressionAttributeValues: { ':true': true, ':false': false, ':now': new Date().toISOString(), ...values },
      },
    };
  }

  async releaseRefundable(refund: Refund): Promise<boolean> {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            this.flagGuard(refund.refund_id, 'refundable_released'),
            {
              Update: {
                TableName: this.tableName,
                Key: refundableKey(refund.payment_order_id),
                UpdateExpression:
                  'SET refunded_minor = refunded_minor - :amount, fee_refunded_minor = if_not_exists(fee_refunded_minor, :share) - :share',
                ConditionExpression: 'refunded_minor >= :amount',
                ExpressionAttributeValues: { ':amount': refund.amount_minor, ':share': refund.fee_share_minor },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (cancellationCodes(error)?.[0] === 'ConditionalCheckFailed') return false;
      throw asRetryable(error);
    }
  }

  async byPayment(paymentId: string): Promise<Refund[]> {
    const page = await retryable(() =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'by-payment',
          KeyConditionExpression: 'payment_id = :p',
          ExpressionAttributeValues: { ':p': paymentId },
        }),
      ),
    );
    return (page.Items ?? []).filter((i) => i.entity === 'REFUND').map((i) => strip<Refund>(i));
  }

  async openSince(before: string, limitPerStatus: number): Promise<Refund[]> {
    const found: Refund[] = [];
    for (const status of OPEN_ORDER) {
      const page = await retryable(() =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: 'by-status',
            KeyConditionExpression: 'open_status = :s AND updated_at < :before',
            ExpressionAttributeValues: { ':s': status, ':before': before },
            Limit: limitPerStatus,
          }),
        ),
      );
      found.push(...(page.Items ?? []).map((i) => strip<Refund>(i)));
    }
    return found;
  }

  getDispute(disputeId: string): Promise<Dispute | undefined> {
    return readDispute(this.client, this.tableName, disputeId);
  }

  async createDispute(dispute: Dispute): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...disputeKey(dispute.dispute_id), entity: 'DISPUTE', ...dispute },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw asRetryable(error);
    }
  }

  async setDisputeFields(disputeId: string, set: Partial<Dispute>): Promise<void> {
    const names: Record<string, string> = { '#ds': 'dispute_status' };
    const values: Record<string, unknown> = { ':open': 'OPEN' };
    const sets = Object.entries({ ...set, updated_at: new Date().toISOString() }).map(([name, value], i) => {
      names[`#f${i}`] = name;
      values[`:f${i}`] = value;
      return `#f${i} = :f${i}`;
    });
    await retryable(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: disputeKey(disputeId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          // A decided dispute keeps its decision: only an OPEN one changes status.
          ConditionExpression:
            set.dispute_status === undefined || set.dispute_status === 'OPEN'
              ? 'attribute_exists(pk) AND #ds = :open'
              : 'attribute_exists(pk) AND (#ds = :open OR #ds = :decided)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues:
            set.dispute_status && set.dispute_status !== 'OPEN'
              ? { ...values, ':decided': set.dispute_status }
              : values,
        }),
      ),
    ).catch((error) => {
      // Decided meanwhile by a newer read: this older one changes nothing.
      if (!conditionFailed(error)) throw error;
    });
  }

  disputeFlagGuard(disputeId: string, flag: DisputeFlag, also: Record<string, string> = {}): TransactGuard {
    const { names, values, sets } = alsoSets(also);
    return {
      Update: {
        TableName: this.tableName,
        Key: disputeKey(disputeId),
        UpdateExpression: `SET #flag = :true, updated_at = :now${sets}`,
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#flag) OR #flag = :false)',
        ExpressionAttributeNames: { '#flag': flag, ...names },
        ExpressionAttributeValues: { ':true': true, ':false': false, ':now': new Date().toISOString(), ...values },
      },
    };
  }

  async unsettledDisputes(limitPerStatus: number): Promise<Dispute[]> {
    const found: Dispute[] = [];
    for (const status of ['OPEN', 'WON', 'LOST'] as DisputeStatus[]) {
      const mine: Dispute[] = [];
      let start: Record<string, unknown> | undefined;
      let pages = 0;
      // Oldest first (decided first), skipping settled ones; bounded pages per run.
      do {
        const page = await retryable(() =>
          this.client.send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: 'disputes-by-status',
              KeyConditionExpression: 'dispute_status = :s',
              FilterExpression: 'attribute_not_exists(settled) OR settled = :false',
              ExpressionAttributeValues: { ':s': status, ':false': false },
              ExclusiveStartKey: start,
              Limit: 200,
            }),
          ),
        );
        mine.push(...(page.Items ?? []).map((i) => strip<Dispute>(i)));
        start = page.LastEvaluatedKey;
        pages += 1;
      } while (start && mine.length < limitPerStatus && pages < 20);
      found.push(...mine.slice(0, limitPerStatus));
    }
    return found;
  }

  async disputes(status: DisputeStatus | undefined, limit: number, before?: string): Promise<Dispute[]> {
    const statuses: DisputeStatus[] = status ? [status] : ['OPEN', 'WON', 'LOST'];
    const found: Dispute[] = [];
    for (const s of statuses) {
      const page = await retryable(() =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: 'disputes-by-status',
            KeyConditionExpression: before ? 'dispute_status = :s AND created_at < :before' : 'dispute_status = :s',
            ExpressionAttributeValues: { ':s': s, ...(before ? { ':before': before } : {}) },
            ScanIndexForward: false,
            Limit: limit,
          }),
        ),
      );
      found.push(...(page.Items ?? []).map((i) => strip<Dispute>(i)));
    }
    return found.sort((a, b) => b.created_at.localeCompare(a.created_at)).slice(0, limit);
  }
}
