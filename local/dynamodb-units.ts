/**
 * Write units as DynamoDB on AWS bills them, modeled from the items themselves (the benchmark's meter,
 * local/dynamodb-meter.ts). DynamoDB Local's own figure (`ReturnConsumedCapacity`) is not AWS's for a transaction of
 * several items: it reports twice the rounded-up size of all the items of a table together (four 200-byte puts: 2
 * units), where AWS bills every item of a transaction 2 units per KB, rounded up per item (the same four puts: 8).
 *
 * The rules, from DynamoDB's developer guide ("Item sizes and formats", "Read/write capacity mode", "Managing
 * global secondary indexes"):
 * - an item's size is the sum of its attributes' names and values: a string's UTF-8 bytes; a number about one byte per
 *   two significant digits, plus one; binary its bytes; a boolean or null 1 byte; a list or map 3 bytes, plus each
 *   element and 1 byte per element (a map's element also its name); a set its elements;
 * - a write costs 1 unit per KB of the larger of the item before and after it (at least 1), 2 in a transaction;
 * - an index entry is its projected attributes (index keys, table keys, projection) plus 100 bytes; a write adds,
 *   deletes or rewrites it: a new entry 1 write, a removed one 1, a changed index key 2 (delete and put), a changed
 *   projected attribute 1, nothing projected changed none. Inside a transaction each counts twice (as DynamoDB Local
 *   counts them: the conservative reading, for a cost).
 * A modeled figure: the benchmark labels it so, beside DynamoDB Local's.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** A number's size: one byte per two significant digits, plus one. */
function numberSize(text: string): number {
  const digits = text.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

export function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberSize(n), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.length, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((sum, element) => sum + valueSize(element) + 1, 0);
  if (value.M !== undefined) {
    return 3 + Object.entries(value.M).reduce((sum, [name, element]) => sum + utf8(name) + valueSize(element) + 1, 0);
  }
  return 0;
}

/** An item's size in bytes (0 for no item). */
export function itemSize(item: Item | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueSize(value), 0);
}

export interface IndexShape {
  name: string;
  keys: string[];
  /** ALL, KEYS_ONLY, or the non-key attributes an INCLUDE projection adds. */
  projection: 'ALL' | 'KEYS_ONLY' | string[];
}

export interface TableShape {
  keys: string[];
  indexes: IndexShape[];
}

const units = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

/** The index entry an item has (undefined when the item lacks one of the index's keys: it is not in the index). */
function indexEntry(item: Item | undefined, index: IndexShape, table: TableShape): Item | undefined {
  if (!item || index.keys.some((key) => item[key] === undefined)) return undefined;
  if (index.projection === 'ALL') return item;
  const names = [...index.keys, ...table.keys, ...(index.projection === 'KEYS_ONLY' ? [] : index.projection)];
  const entry: Item = {};
  for (const name of names) {
    const value = item[name];
    if (value !== undefined) entry[name] = value;
  }
  return entry;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The writes an index takes when an item goes from `before` to `after`, in units. */
export function indexWriteUnits(
  before: Item | undefined,
  after: Item | undefined,
  index: IndexShape,
  table: TableShape,
) {
  const old = indexEntry(before, index, table);
  const now = indexEntry(after, index, table);
  const size = (entry: Item) => itemSize(entry) + 100;
  if (!old && !now) return 0;
  if (!old && now) return units(size(now));
  if (old && !now) return units(size(old));
  if (!old || !now) return 0;
  const keysChanged = index.keys.some((key) => !same(old[key], now[key]));
  if (keysChanged) return units(size(old)) + units(size(now));
  return same(old, now) ? 0 : units(Math.max(size(old), size(now)));
}

/** Modeled AWS write units of one item's write: the table's and its indexes'. */
export function writeUnits(
  before: Item | undefined,
  after: Item | undefined,
  table: TableShape,
  transactional: boolean,
): { table: number; indexes: number } {
  const factor = transactional ? 2 : 1;
  const indexes = table.indexes.reduce((sum, index) => sum + indexWriteUnits(before, after, index, table), 0);
  return { table: units(Math.max(itemSize(before), itemSize(after))) * factor, indexes: indexes * factor };
}

/** A written item, as a request names it. */
export interface WrittenKey {
  table: string;
  /** The key, or the whole item of a put (its key is taken with the table's key names). */
  key?: Item;
  item?: Item;
  transactional: boolean;
  /** A condition check of a transaction: billed as a write of the item, changing nothing. */
  checkOnly?: boolean;
}

/** The items a write request touches (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems). */
export function writtenKeys(operation: string, body: Record<string, unknown>): WrittenKey[] {
  const table = body.TableName as string | undefined;
  if (operation === 'PutItem' && table) return [{ table, item: body.Item as Item, transactional: false }];
  if ((operation === 'UpdateItem' || operation === 'DeleteItem') && table) {
    return [{ table, key: body.Key as Item, transactional: false }];
  }
  if (operation === 'BatchWriteItem') {
    const requests = (body.RequestItems ?? {}) as Record<
      string,
      { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]
    >;
    return Object.entries(requests).flatMap(([name, list]) =>
      list.map((request) =>
        request.PutRequest
          ? { table: name, item: request.PutRequest.Item, transactional: false }
          : { table: name, key: request.DeleteRequest?.Key, transactional: false },
      ),
    );
  }
  if (operation === 'TransactWriteItems') {
    type Part = { TableName: string; Item?: Item; Key?: Item };
    const items = (body.TransactItems ?? []) as Record<string, Part>[];
    return items.map((entry) => {
      const [kind, part] = Object.entries(entry)[0] ?? ['', { TableName: '' }];
      return kind === 'Put'
        ? { table: part.TableName, item: part.Item, transactional: true }
        : { table: part.TableName, key: part.Key, transactional: true, checkOnly: kind === 'ConditionCheck' };
    });
  }
  return [];
}

/** The key of a written item, by the table's key names. */
export function keyOf(written: WrittenKey, table: TableShape): Item {
  if (written.key) return written.key;
  const item = written.item ?? {};
  const key: Item = {};
  for (const name of table.keys) {
    const value = item[name];
    if (value !== undefined) key[name] = value;
  }
  return key;
}
