/**
 * Reconciliation's store in DynamoDB: runs and their shard results, the one-run-per-date lock, mismatches (their
 * id derives from the date and what they are about: a second run of a date finds the same ones) and the automatic
 * fixes applied (keyed by the PSP's balance transaction: applied once).
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { asRetryable } from '../core/errors';
import { queryAll } from '../core/query';
import { type Finding, mismatchIdOf } from './domain/mismatch';
import { MismatchNotOpenError, RunInProgressError } from './errors';

export { MismatchNotOpenError, RunInProgressError } from './errors';

import {
  initialStatus,
  type MismatchStatus,
  queueOf,
  type ReconciliationRun,
  type ShardResult,
  type StoredMismatch,
} from './domain/run';

const runKey = (id: string) => ({ pk: `RUN#${id}`, sk: 'RUN' });
const lockKey = (date: string) => ({ pk: `DATE#${date}`, sk: 'LOCK' });
const mismatchKey = (id: string) => ({ pk: `MISMATCH#${id}`, sk: 'MISMATCH' });
const shardSk = (shard: number) => `SHARD#${String(shard).padStart(3, '0')}`;

const conditionFailed = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

function strip(item: Record<string, unknown>): Record<string, unknown> {
  const { pk: _pk, sk: _sk, entity: _e, open_queue: _q, run_date: _d, ...rest } = item;
  return rest;
}

export interface MismatchFilter {
  run_id?: string;
  class?: string;
  status?: MismatchStatus;
  limit: number;
  cursor?: string;
}

export class ReconciliationTable {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private async send<T>(command: PutCommand | GetCommand | UpdateCommand | QueryCommand): Promise<T> {
    try {
      // One of four command types: the client's overloads cannot take their union, hence the cast.
      return (await this.client.send(command as PutCommand)) as T;
    } catch (error) {
      if (conditionFailed(error)) throw error;
      throw asRetryable(error);
    }
  }

  /**
   * Takes the date's lock for a new run and stores the run, or throws RunInProgressError naming the run that holds
   * it. A lock older than `staleBefore` (ISO) belongs to a run that died: it is taken over.
   */
  async claimDate(run: ReconciliationRun, staleBefore: string): Promise<void> {
    try {
      await this.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...lockKey(run.date),
            entity: 'LOCK',
            run_id: run.run_id,
            status: 'RUNNING',
            updated_at: run.created_at,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #s <> :running OR updated_at < :stale',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':running': 'RUNNING', ':stale': staleBefore },
        }),
      );
    } catch (error) {
      if (!conditionFailed(error)) throw error;
      const lock = await this.send<{ Item?: Record<string, unknown> }>(
        new GetCommand({ TableName: this.tableName, Key: lockKey(run.date), ConsistentRead: true }),
      );
      throw new RunInProgressError(run.date, String(lock.Item?.run_id ?? 'unknown'));
    }
    try {
      await this.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...runKey(run.run_id), entity: 'RUN', run_date: run.date, ...run },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      // No run to hold it: the date must not stay locked in the name of nothing.
      await this.releaseDate(run.date, run.run_id, 'FAILED', run.created_at).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Keeps the date's lock fresh while the run works (a run silent for longer than the stale time is taken over).
   * False: another run holds the lock now.
   */
  async touchLock(date: string, runId: string, now: string): Promise<boolean> {
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: lockKey(date),
          UpdateExpression: 'SET updated_at = :now',
          ConditionExpression: 'run_id = :run AND #s = :running',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':now': now, ':run': runId, ':running': 'RUNNING' },
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw error;
    }
  }

  /** Releases the date's lock held by this run (the run ended). */
  async releaseDate(date: string, runId: string, status: 'COMPLETED' | 'FAILED', now: string): Promise<void> {
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: lockKey(date),
          UpdateExpression: 'SET #s = :status, updated_at = :now',
          ConditionExpression: 'run_id = :run',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':status': status, ':now': now, ':run': runId },
        }),
      );
    } catch (error) {
      if (!conditionFailed(error)) throw error; // another run took the lock over: it is that run's now
    }
  }

  async getRun(runId: string): Promise<ReconciliationRun | undefined> {
    const out = await this.send<{ Item?: Record<string, unknown> }>(
      new GetCommand({ TableName: this.tableName, Key: runKey(runId), ConsistentRead: true }),
    );
    return out.Item ? (strip(out.Item) as unknown as ReconciliationRun) : undefined;
  }

  /** Sets fields of a run (never its id or date). */
  async updateRun(runId: string, fields: Partial<ReconciliationRun>): Promise<void> {
    const entries = Object.entries(fields).filter(([name, value]) => value !== undefined && name !== 'run_id');
    if (entries.length === 0) return;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets = entries.map(([name, value], i) => {
      names[`#f${i}`] = name;
      values[`:v${i}`] = value;
      return `#f${i} = :v${i}`;
    });
    await this.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(runId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  /** Counts one more poll of the PSP's report; returns the count. */
  async countPoll(runId: string, now: string): Promise<number> {
    const out = await this.send<{ Attributes?: Record<string, unknown> }>(
      new UpdateCommand({
        TableName: this.tableName,
        Key: runKey(runId),
        UpdateExpression: 'ADD report_polls :one SET updated_at = :now',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':one': 1, ':now': now },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(out.Attributes?.report_polls ?? 0);
  }

  /** Runs of a date, newest first. */
  async runsOfDate(date: string): Promise<ReconciliationRun[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      IndexName: 'by-date',
      KeyConditionExpression: 'run_date = :d',
      FilterExpression: 'entity = :run',
      ExpressionAttributeValues: { ':d': date, ':run': 'RUN' },
      ScanIndexForward: false,
    });
    return items.map((item) => strip(item) as unknown as ReconciliationRun);
  }

  async putShardResult(runId: string, result: ShardResult): Promise<void> {
    await this.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: `RUN#${runId}`, sk: shardSk(result.shard), entity: 'SHARD', ...result },
      }),
    );
  }

  async shardResults(runId: string): Promise<ShardResult[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :shard)',
      ExpressionAttributeValues: { ':pk': `RUN#${runId}`, ':shard': 'SHARD#' },
      ConsistentRead: true,
    });
    return items.map((item) => strip(item) as unknown as ShardResult);
  }

  /**
   * Records what a run found: new, it is stored in its initial status; found before, only the run that last saw
   * it changes (a person's resolution, a fix's result and the first finding stay). `isNew` says which.
   */
  async recordMismatch(
    date: string,
    runId: string,
    found: Finding,
    now: string,
    extra: { fix_result?: string; status?: MismatchStatus } = {},
  ): Promise<{ mismatch: StoredMismatch; isNew: boolean }> {
    const id = mismatchIdOf(date, found);
    const status = extra.status ?? initialStatus(found);
    const fixResult = extra.fix_result;
    const queue = queueOf({ status, class: found.class, type: found.type });
    const first: Record<string, unknown> = {
      entity: 'MISMATCH',
      mismatch_id: id,
      date,
      // In the by-date index with the date's runs: a date's mismatches, whichever run found them.
      run_date: date,
      first_run_id: runId,
      status,
      created_at: now,
      ...found,
      ...(found.fix && { fix: found.fix }),
      ...(fixResult !== undefined && { fix_result: fixResult }),
      ...(queue !== undefined && { open_queue: queue }),
    };
    // New: stored whole. Found before: only the run that last saw it changes (a resolution, a fix's result, the
    // work list it left are never undone by a later run of the date).
    try {
      await this.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...mismatchKey(id), ...first, run_id: runId, updated_at: now },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return {
        mismatch: strip({ ...first, run_id: runId, updated_at: now }) as unknown as StoredMismatch,
        isNew: true,
      };
    } catch (error) {
      if (!conditionFailed(error)) throw error;
    }
    const out = await this.send<{ Attributes?: Record<string, unknown> }>(
      new UpdateCommand({
        TableName: this.tableName,
        Key: mismatchKey(id),
        UpdateExpression: 'SET run_id = :run, updated_at = :now',
        ExpressionAttributeValues: { ':run': runId, ':now': now },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { mismatch: strip(out.Attributes ?? {}) as unknown as StoredMismatch, isNew: false };
  }

  /** An automatic fix that failed before and succeeded now: the mismatch is fixed. */
  async markFixed(id: string, fixResult: string, now: string): Promise<void> {
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mismatchKey(id),
          UpdateExpression: 'SET #s = :fixed, #c = :auto, fix_result = :r, updated_at = :now REMOVE open_queue',
          ConditionExpression: '#s = :open AND attribute_exists(fix)',
          ExpressionAttributeNames: { '#s': 'status', '#c': 'class' },
          ExpressionAttributeValues: {
            ':fixed': 'fixed',
            ':r': fixResult,
            ':now': now,
            ':open': 'open',
            ':auto': 'auto_fixed',
          },
        }),
      );
    } catch (error) {
      if (!conditionFailed(error)) throw error;
    }
  }

  async getMismatch(id: string): Promise<StoredMismatch | undefined> {
    const out = await this.send<{ Item?: Record<string, unknown> }>(
      new GetCommand({ TableName: this.tableName, Key: mismatchKey(id), ConsistentRead: true }),
    );
    return out.Item ? (strip(out.Item) as unknown as StoredMismatch) : undefined;
  }

  /** A person's resolution of an open (or carried) mismatch; who and when are recorded with it. */
  async resolve(id: string, resolution: NonNullable<StoredMismatch['resolution']>): Promise<StoredMismatch> {
    try {
      const out = await this.send<{ Attributes?: Record<string, unknown> }>(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mismatchKey(id),
          UpdateExpression: 'SET #s = :resolved, resolution = :r, updated_at = :now REMOVE open_queue',
          ConditionExpression: 'attribute_exists(pk) AND (#s = :open OR #s = :carried)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':resolved': 'resolved',
            ':r': resolution,
            ':now': resolution.at,
            ':open': 'open',
            ':carried': 'carried',
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return strip(out.Attributes ?? {}) as unknown as StoredMismatch;
    } catch (error) {
      if (!conditionFailed(error)) throw error;
      const current = await this.getMismatch(id);
      if (!current) throw error;
      throw new MismatchNotOpenError(id, current.status);
    }
  }

  /** A carried timing difference of an earlier date, matched by a later file: resolved by the run. */
  async resolveCarried(id: string, runId: string, note: string, now: string, matchedBy?: string): Promise<boolean> {
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mismatchKey(id),
          UpdateExpression: `SET #s = :resolved, resolution = :r, updated_at = :now${matchedBy ? ', matched_by = :by' : ''} REMOVE open_queue`,
          ConditionExpression: '#s = :carried OR (#s = :open AND #t = :timing)',
          ExpressionAttributeNames: { '#s': 'status', '#t': 'type' },
          ExpressionAttributeValues: {
            ':resolved': 'resolved',
            ':r': { resolution: 'matched_by_later_file', note, by: `run:${runId}`, at: now },
            ':now': now,
            ':carried': 'carried',
            ':open': 'open',
            ':timing': 'timing',
            ...(matchedBy && { ':by': matchedBy }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw error;
    }
  }

  /** Carried timing differences of dates up to `lastDate`: still unmatched, they become manual. */
  async carriedUpTo(lastDate: string): Promise<StoredMismatch[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      IndexName: 'by-queue',
      KeyConditionExpression: 'open_queue = :q',
      FilterExpression: '#d <= :last',
      ExpressionAttributeNames: { '#d': 'date' },
      ExpressionAttributeValues: { ':q': 'timing', ':last': lastDate },
    });
    return items.map((item) => strip(item) as unknown as StoredMismatch);
  }

  /** A carried timing difference left unmatched too long: a person's now (manual, on the finance list). */
  async escalateTiming(id: string, runId: string, now: string, detail: string): Promise<boolean> {
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mismatchKey(id),
          UpdateExpression:
            'SET #s = :open, #c = :manual, open_queue = :manual, detail = :detail, run_id = :run, updated_at = :now',
          ConditionExpression: '#s = :carried',
          ExpressionAttributeNames: { '#s': 'status', '#c': 'class' },
          ExpressionAttributeValues: {
            ':open': 'open',
            ':manual': 'manual',
            ':carried': 'carried',
            ':detail': detail,
            ':run': runId,
            ':now': now,
          },
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw error;
    }
  }

  /** Marks a mismatch as sent to its work queue (once). Returns false when it already was. */
  async markPublished(id: string, now: string): Promise<boolean> {
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: mismatchKey(id),
          UpdateExpression: 'SET published_at = :now',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(published_at)',
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw error;
    }
  }

  /** Every mismatch of a date, whichever run found it (a second run of the date finds the same ones). */
  async mismatchesOfDate(date: string): Promise<Array<StoredMismatch & { published_at?: string }>> {
    const items = await this.queryAll({
      TableName: this.tableName,
      IndexName: 'by-date',
      KeyConditionExpression: 'run_date = :d',
      FilterExpression: 'entity = :m',
      ExpressionAttributeValues: { ':d': date, ':m': 'MISMATCH' },
    });
    return items.map((item) => strip(item) as unknown as StoredMismatch & { published_at?: string });
  }

  /** The mismatches a run saw last, every one (for the run's report and its work-queue messages). */
  async mismatchesOfRun(runId: string): Promise<Array<StoredMismatch & { published_at?: string }>> {
    const items = await this.queryAll({
      TableName: this.tableName,
      IndexName: 'by-run',
      KeyConditionExpression: 'run_id = :run',
      ExpressionAttributeValues: { ':run': runId },
    });
    return items.map((item) => strip(item) as unknown as StoredMismatch & { published_at?: string });
  }

  /** A page of mismatches: by run, or by open work list (class), filtered by class and status. */
  async listMismatches(filter: MismatchFilter): Promise<{ items: StoredMismatch[]; cursor?: string }> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const filters: string[] = [];
    let input: QueryCommandInput;
    if (filter.run_id !== undefined) {
      values[':run'] = filter.run_id;
      input = { TableName: this.tableName, IndexName: 'by-run', KeyConditionExpression: 'run_id = :run' };
      if (filter.class !== undefined) {
        names['#c'] = 'class';
        values[':c'] = filter.class;
        filters.push('#c = :c');
      }
    } else {
      // Without a run: an open work list (manual or unclassifiable), or the carried timing differences.
      const queue = filter.status === 'carried' ? 'timing' : (filter.class ?? 'manual');
      values[':q'] = queue;
      input = { TableName: this.tableName, IndexName: 'by-queue', KeyConditionExpression: 'open_queue = :q' };
    }
    if (filter.status !== undefined) {
      names['#s'] = 'status';
      values[':s'] = filter.status;
      filters.push('#s = :s');
    }
    const items: StoredMismatch[] = [];
    let startKey: Record<string, unknown> | undefined = filter.cursor
      ? (JSON.parse(Buffer.from(filter.cursor, 'base64url').toString('utf8')) as Record<string, unknown>)
      : undefined;
    do {
      const page = await this.send<{ Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> }>(
        new QueryCommand({
          ...input,
          ...(filters.length > 0 && { FilterExpression: filters.join(' AND ') }),
          ...(Object.keys(names).length > 0 && { ExpressionAttributeNames: names }),
          ExpressionAttributeValues: values,
          Limit: filter.limit - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []).map((item) => strip(item) as unknown as StoredMismatch));
      startKey = page.LastEvaluatedKey;
    } while (startKey && items.length < filter.limit);
    return {
      items,
      ...(startKey && { cursor: Buffer.from(JSON.stringify(startKey), 'utf8').toString('base64url') }),
    };
  }

  /** The open mismatches of a work list not yet sent to its queue (any date). */
  async unpublished(queue: 'manual' | 'unclassifiable'): Promise<StoredMismatch[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      IndexName: 'by-queue',
      KeyConditionExpression: 'open_queue = :q',
      FilterExpression: 'attribute_not_exists(published_at)',
      ExpressionAttributeValues: { ':q': queue },
    });
    return items.map((item) => strip(item) as unknown as StoredMismatch);
  }

  /** The open mismatches of a work list (any date). */
  async openOn(queue: 'manual' | 'unclassifiable'): Promise<StoredMismatch[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      IndexName: 'by-queue',
      KeyConditionExpression: 'open_queue = :q',
      ExpressionAttributeValues: { ':q': queue },
    });
    return items.map((item) => strip(item) as unknown as StoredMismatch);
  }

  /** How many mismatches are open on a work list (manual, unclassifiable) or carried (timing). */
  async countOpen(queue: 'manual' | 'unclassifiable' | 'timing'): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.send<{ Count?: number; LastEvaluatedKey?: Record<string, unknown> }>(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'by-queue',
          KeyConditionExpression: 'open_queue = :q',
          ExpressionAttributeValues: { ':q': queue },
          Select: 'COUNT',
          ExclusiveStartKey: startKey,
        }),
      );
      count += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return count;
  }

  /** The automatic fix applied to one balance transaction (or key), if any run applied it. */
  async findFix(subject: string): Promise<{ action: string; result: string; run_id: string } | undefined> {
    const out = await this.send<{ Item?: Record<string, unknown> }>(
      new GetCommand({ TableName: this.tableName, Key: { pk: `FIX#${subject}`, sk: 'FIX' }, ConsistentRead: true }),
    );
    if (!out.Item) return undefined;
    return { action: String(out.Item.action), result: String(out.Item.result), run_id: String(out.Item.run_id) };
  }

  /**
   * Records a fix once applied (fixes are idempotent by construction: a crash before this record makes the next
   * run apply it again to no effect; once recorded, no run applies it again). False: recorded before.
   */
  async recordFix(subject: string, action: string, result: string, runId: string, now: string): Promise<boolean> {
    try {
      await this.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: `FIX#${subject}`, sk: 'FIX', entity: 'FIX', subject, action, result, run_id: runId, at: now },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw error;
    }
  }

  private queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
    return queryAll(this.client, input);
  }
}
