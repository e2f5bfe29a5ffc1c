/**
 * Payouts, payout runs and the pay-out's applied webhook events in DynamoDB. Every status change is a conditional
 * write on the status (the transition table of src/payout/payout.ts); an open payout carries `open_status`, which
 * puts it in the sparse by-status index the janitor reads.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { asRetryable, retryable } from '../core/errors';
import { WebhookLogTable } from '../core/webhook-log';
import { isOpenPayout, PAYOUT_TRANSITIONS, type Payout, type PayoutStatus } from './payout';
import { payoutKey, readPayout, toPayout } from './payout-reads';
import type { PayoutRun, PayoutsStore, RunCounts, TransactGuard } from './ports';

const runKey = (id: string) => ({ pk: `RUN#${id}`, sk: 'RUN' });

const conditionFailed = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

function toRun(item: Record<string, unknown>): PayoutRun {
  const { pk: _pk, sk: _sk, entity: _entity, ...rest } = item;
  return { amount_by_currency: {}, ...rest } as unknown as PayoutRun;
}

const OPEN_STATUS_ORDER: PayoutStatus[] = [
  'FAILED',
  'CANCELED',
  'UNKNOWN',
  'RESERVED',
  'TRANSFERRED',
  'IN_TRANSIT',
  'PAID',
];

/** Every statuses from which a payout may move to `to`. */
const sourcesOf = (to: PayoutStatus) =>
  (Object.keys(PAYOUT_TRANSITIONS) as PayoutStatus[]).filter((from) => PAYOUT_TRANSITIONS[from].includes(to));

export class PayoutsTable implements PayoutsStore {
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

  get(payoutId: string): Promise<Payout | undefined> {
    return readPayout(this.client, this.tableName, payoutId);
  }

  createGuard(payout: Payout): TransactGuard {
    return {
      Put: {
        TableName: this.tableName,
        Item: { ...payoutKey(payout.payout_id), entity: 'PAYOUT', ...payout, open_status: payout.status },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  /** The update of a move: status, fields, the open flag as the payout will be after it. */
  private moveUpdate(payout: Payout, to: PayoutStatus, set: Partial<Payout>, from: PayoutStatus[]) {
    const now = new Date().toISOString();
    const after = { ...payout, ...set, status: to };
    const fields: Record<string, unknown> = { ...set, status: to, updated_at: now };
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const removes: string[] = [];
    Object.entries(fields).forEach(([name, value], i) => {
      names[`#f${i}`] = name;
      // A field set to undefined is removed (e.g. unknown_stage once the outcome is known).
      if (value === undefined) {
        removes.push(`#f${i}`);
        return;
      }
      values[`:f${i}`] = value;
      sets.push(`#f${i} = :f${i}`);
    });
    if (isOpenPayout(after)) {
      sets.push('open_status = :open');
      values[':open'] = to;
    } else {
      removes.push('open_status');
    }
    from.forEach((status, i) => {
      values[`:from${i}`] = status;
    });
    return {
      TableName: this.tableName,
      Key: payoutKey(payout.payout_id),
      UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ConditionExpression: `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }

  async move(payout: Payout, to: PayoutStatus, set: Partial<Payout> = {}, from = sourcesOf(to)): Promise<boolean> {
    try {
      await this.client.send(new UpdateCommand(this.moveUpdate(payout, to, set, from)));
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw asRetryable(error);
    }
  }

  moveGuard(payout: Payout, to: PayoutStatus, set: Partial<Payout> = {}, from = sourcesOf(to)): TransactGuard {
    return { Update: this.moveUpdate(payout, to, set, from) };
  }

  async setFields(payoutId: string, set: Partial<Payout>, ifStatusIn?: PayoutStatus[]): Promise<boolean> {
    const current = await this.get(payoutId);
    if (!current) return false;
    const after = { ...current, ...set };
    const entries = Object.entries({ ...set, updated_at: new Date().toISOString() }).filter(([, v]) => v !== undefined);
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':status': current.status };
    const sets = entries.map(([name, value], i) => {
      names[`#f${i}`] = name;
      values[`:f${i}`] = value;
      return `#f${i} = :f${i}`;
    });
    let update = `SET ${sets.join(', ')}`;
    if (isOpenPayout(after)) {
      update += ', open_status = :open';
      values[':open'] = after.status;
    } else {
      update += ' REMOVE open_status';
    }
    // The fields that decide whether the payout is open are part of the condition: a concurrent write to them makes
    // this one fail (and the caller read again) instead of putting back a stale open flag.
    values[':rd'] = current.reversal_done === true;
    values[':wd'] = current.watch_done === true;
    const condition =
      '#status = :status AND (attribute_not_exists(reversal_done) OR reversal_done = :rd) AND ' +
      '(attribute_not_exists(watch_done) OR watch_done = :wd)';
    if (ifStatusIn && !ifStatusIn.includes(current.status)) return false;
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: payoutKey(payoutId),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      // The status moved meanwhile: the caller reads the payout again.
      if (conditionFailed(error)) return false;
      throw asRetryable(error);
    }
  }

  flagGuard(
    payoutId: string,
    flag: 'wallet_captured' | 'transfer_booked' | 'reversal_booked' | 'wallet_restored',
  ): TransactGuard {
    return {
      Update: {
        TableName: this.tableName,
        Key: payoutKey(payoutId),
        UpdateExpression: 'SET #flag = :true, updated_at = :now',
        ConditionExpression: 'attribute_exists(pk) AND #flag = :false',
        ExpressionAttributeNames: { '#flag': flag },
        ExpressionAttributeValues: { ':true': true, ':false': false, ':now': new Date().toISOString() },
      },
    };
  }

  async bySeller(sellerAccount: string, limit: number, before?: string): Promise<Payout[]> {
    const page = await retryable(() =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'by-seller',
          KeyConditionExpression: before ? 'seller_account = :s AND created_at < :before' : 'seller_account = :s',
          ExpressionAttributeValues: { ':s': sellerAccount, ...(before ? { ':before': before } : {}) },
          ScanIndexForward: false,
          Limit: limit,
        }),
      ),
    );
    return (page.Items ?? []).filter((item) => item.entity === 'PAYOUT').map(toPayout);
  }

  /** The seller's first payout in `currency` created at or after `since` (oldest first, page by page). */
  async firstSince(sellerAccount: string, currency: string, since: string): Promise<Payout | undefined> {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await retryable(() =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: 'by-seller',
            KeyConditionExpression: 'seller_account = :s AND created_at >= :since',
            ExpressionAttributeValues: { ':s': sellerAccount, ':since': since },
            ScanIndexForward: true,
            Limit: 50,
            ExclusiveStartKey: start,
          }),
        ),
      );
      const found = (page.Items ?? []).find((item) => item.entity === 'PAYOUT' && item.currency === currency);
      if (found) return toPayout(found);
      start = page.LastEvaluatedKey;
    } while (start);
    return undefined;
  }

  async openSince(before: string, limitPerStatus: number): Promise<Payout[]> {
    const found: Payout[] = [];
    // Each status has its own budget, so a crowd in one (payouts in transit for days) never starves another
    // (a reversal to finish); reversals first.
    for (const status of OPEN_STATUS_ORDER) {
      const page = await retryable(() =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: 'by-status',
            KeyConditionExpression: 'open_status = :status AND updated_at < :before',
            ExpressionAttributeValues: { ':status': status, ':before': before },
            Limit: limitPerStatus,
          }),
        ),
      );
      found.push(...(page.Items ?? []).map(toPayout));
    }
    return found;
  }

  async getRun(runId: string): Promise<PayoutRun | undefined> {
    const { Item } = await retryable(() =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: runKey(runId), ConsistentRead: true })),
    );
    return Item ? toRun(Item) : undefined;
  }

  async createRun(run: PayoutRun): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...runKey(run.run_id), entity: 'RUN', ...run },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw asRetryable(error);
    }
  }

  async restartRun(runId: string, now: string, staleBefore?: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(runId),
          UpdateExpression:
            'SET #status = :running, attempt = attempt + :one, pages_listed = :zero, listing_done = :false, sellers_listed = :zero, ' +
            'sellers_done = :zero, payouts_created = :zero, payouts_existing = :zero, sellers_skipped = :zero, ' +
            'amount_by_currency = :empty, started_at = :now, updated_at = :now REMOVE completed_at',
          // A completed run, or one that stopped moving (its messages dead-lettered): started again.
          ConditionExpression: staleBefore ? '#status = :completed OR updated_at < :stale' : '#status = :completed',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ...(staleBefore ? { ':stale': staleBefore } : {}),
            ':running': 'RUNNING',
            ':completed': 'COMPLETED',
            ':zero': 0,
            ':one': 1,
            ':false': false,
            ':empty': {},
            ':now': now,
          },
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw asRetryable(error);
    }
  }

  async addRunCounts(
    runId: string,
    attempt: number,
    counts: RunCounts,
    amount?: { currency: string; amount_minor: number },
  ): Promise<PayoutRun | undefined> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':now': new Date().toISOString(), ':attempt': attempt };
    const adds = Object.entries(counts)
      .filter(([, n]) => n)
      .map(([name, n], i) => {
        names[`#c${i}`] = name;
        values[`:c${i}`] = n;
        return `#c${i} :c${i}`;
      });
    let update = 'SET updated_at = :now';
    if (amount) {
      // A map entry per currency, created by the first ADD.
      names['#amounts'] = 'amount_by_currency';
      names['#currency'] = amount.currency;
      values[':amount'] = amount.amount_minor;
      adds.push('#amounts.#currency :amount');
    }
    if (adds.length > 0) update += ` ADD ${adds.join(', ')}`;
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(runId),
          UpdateExpression: update,
          // Counts of an earlier attempt (a message still in flight when the run was started again) are dropped.
          ConditionExpression: 'attempt = :attempt',
          ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toRun(Attributes ?? {});
    } catch (error) {
      if (conditionFailed(error)) return undefined;
      throw asRetryable(error);
    }
  }

  async setRunListingDone(runId: string, attempt: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(runId),
          UpdateExpression: 'SET listing_done = :true, updated_at = :now',
          ConditionExpression: 'attempt = :attempt',
          ExpressionAttributeValues: { ':true': true, ':now': new Date().toISOString(), ':attempt': attempt },
        }),
      );
    } catch (error) {
      if (!conditionFailed(error)) throw asRetryable(error);
    }
  }

  async completeRun(runId: string, now: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(runId),
          UpdateExpression: 'SET #status = :completed, completed_at = :now, updated_at = :now',
          ConditionExpression: '#status = :running AND listing_done = :true AND sellers_done >= sellers_listed',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':completed': 'COMPLETED', ':running': 'RUNNING', ':true': true, ':now': now },
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw asRetryable(error);
    }
  }

  async markOnce(marker: string): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: `MARK#${marker}`, sk: 'MARK', entity: 'MARK', marked_at: new Date().toISOString() },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw asRetryable(error);
    }
  }
}
