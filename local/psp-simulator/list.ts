// Stripe's cursor pagination for list endpoints: newest first, `limit` (1..100, default 10),
// `starting_after` (older than the cursor) or `ending_before` (newer than it), `created` filters.

import { invalidRequest } from './errors';
import type { FormObject } from './form';
import { readInteger, readObject, readString, rejectUnknownParams } from './params';

export interface CreatedRange {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

export interface ListParams {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
  created: CreatedRange;
}

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

const RANGE_KEYS = ['gt', 'gte', 'lt', 'lte'] as const;

export function readListParams(params: FormObject): ListParams {
  const limit = readInteger(params, 'limit', { min: 1, max: 100 }) ?? 10;
  const startingAfter = readString(params, 'starting_after') ?? undefined;
  const endingBefore = readString(params, 'ending_before') ?? undefined;
  if (startingAfter && endingBefore) {
    throw invalidRequest('You may only specify one of these parameters: ending_before, starting_after.', {
      param: 'ending_before',
    });
  }
  const listParams: ListParams = { limit, created: readRange(params, 'created') };
  if (startingAfter) listParams.startingAfter = startingAfter;
  if (endingBefore) listParams.endingBefore = endingBefore;
  return listParams;
}

/** A timestamp filter (`created`, `arrival_date`...): an exact value or a gt/gte/lt/lte range. */
export function readRange(params: FormObject, name: string): CreatedRange {
  if (typeof params[name] === 'string') {
    const exact = readInteger(params, name) as number;
    return { gte: exact, lte: exact };
  }
  const range = readObject(params, name);
  if (!range) return {};
  rejectUnknownParams(range, RANGE_KEYS, name);
  const created: CreatedRange = {};
  for (const key of RANGE_KEYS) {
    const value = readInteger(range, key);
    if (value !== undefined) created[key] = value;
  }
  return created;
}

export function inCreatedRange(created: number, range: CreatedRange): boolean {
  return (
    (range.gt === undefined || created > range.gt) &&
    (range.gte === undefined || created >= range.gte) &&
    (range.lt === undefined || created < range.lt) &&
    (range.lte === undefined || created <= range.lte)
  );
}

/**
 * One page of `newestFirst` in Stripe's list envelope. The cursor is located among all items, so a
 * cursor that the filter excludes still marks a position, as it does on Stripe.
 */
export function paginate<T extends { id: string }>(
  newestFirst: readonly T[],
  matches: (item: T) => boolean,
  params: ListParams,
  url: string,
  resourceName: string,
): ListPage<T> {
  const { limit } = params;
  if (params.endingBefore) {
    const cursor = indexOfCursor(newestFirst, params.endingBefore, 'ending_before', resourceName);
    const newer = newestFirst.slice(0, cursor).filter(matches);
    const start = Math.max(0, newer.length - limit);
    return { object: 'list', data: newer.slice(start), has_more: start > 0, url };
  }
  const start = params.startingAfter
    ? indexOfCursor(newestFirst, params.startingAfter, 'starting_after', resourceName) + 1
    : 0;
  const older = newestFirst.slice(start).filter(matches);
  return { object: 'list', data: older.slice(0, limit), has_more: older.length > limit, url };
}

function indexOfCursor<T extends { id: string }>(items: readonly T[], id: string, param: string, resourceName: string) {
  const index = items.findIndex((item) => item.id === id);
  if (index === -1) {
    throw invalidRequest(`No such ${resourceName}: '${id}'`, { code: 'resource_missing', param });
  }
  return index;
}
