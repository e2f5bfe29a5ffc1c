/** Write units as AWS bills them, modeled from the items (the benchmark's meter): the documented size and unit rules. */
import {
  indexWriteUnits,
  itemSize,
  type TableShape,
  valueSize,
  writeUnits,
  writtenKeys,
} from '../../local/dynamodb-units';

const S = (text: string) => ({ S: text });
const N = (text: string) => ({ N: text });
const table: TableShape = {
  keys: ['pk', 'sk'],
  indexes: [{ name: 'by-status', keys: ['gsi1pk', 'gsi1sk'], projection: ['payment_id'] }],
};

describe('DynamoDB item sizes', () => {
  it('a string its UTF-8 bytes, a number a byte per two significant digits plus one, a boolean 1', () => {
    expect(valueSize(S('abc'))).toBe(3);
    expect(valueSize(S('é'))).toBe(2);
    expect(valueSize(N('123'))).toBe(3);
    expect(valueSize(N('-0.001200'))).toBe(2);
    expect(valueSize({ BOOL: true })).toBe(1);
    expect(valueSize({ NULL: true })).toBe(1);
  });

  it('a list or map 3 bytes, plus its elements and a byte each (a map element also its name)', () => {
    expect(valueSize({ L: [S('a'), S('b')] })).toBe(3 + 2 + 2);
    expect(valueSize({ M: { ab: S('x') } })).toBe(3 + 2 + 1 + 1);
  });

  it("an item: its attributes' names and values", () => {
    expect(itemSize({ pk: S('PAY#1'), amount: N('1234') })).toBe(2 + 5 + 6 + 3);
    expect(itemSize(undefined)).toBe(0);
  });
});

describe('write units', () => {
  const small = (n: number) => ({ pk: S(`P#${n}`), sk: S('EVENT'), data: S('x'.repeat(180)) });

  it('an item write: a unit per KB of the larger of before and after, twice in a transaction', () => {
    const big = { ...small(1), data: S('x'.repeat(1500)) };
    expect(writeUnits(undefined, big, { keys: ['pk', 'sk'], indexes: [] }, false).table).toBe(2);
    expect(writeUnits(undefined, big, { keys: ['pk', 'sk'], indexes: [] }, true).table).toBe(4);
    expect(writeUnits(big, small(1), { keys: ['pk', 'sk'], indexes: [] }, false).table).toBe(2);
    expect(writeUnits(undefined, small(1), { keys: ['pk', 'sk'], indexes: [] }, false).table).toBe(1);
  });

  it("four small puts in one transaction: 8 units (DynamoDB Local reports 2, the items' total rounded once)", () => {
    const body = {
      TransactItems: [1, 2, 3, 4].map((n) => ({ Put: { TableName: 'Payments', Item: small(n) } })),
    };
    const keys = writtenKeys('TransactWriteItems', body);
    expect(keys).toHaveLength(4);
    const units = keys.reduce(
      (sum, key) => sum + writeUnits(undefined, key.item, { keys: ['pk', 'sk'], indexes: [] }, key.transactional).table,
      0,
    );
    expect(units).toBe(8);
  });

  it('an index: an entry added or removed 1 write, its key changed 2, a projected attribute changed 1, else none', () => {
    const index = table.indexes[0];
    if (!index) throw new Error('no index');
    const open = { ...small(1), gsi1pk: S('STATUS#EXECUTING'), gsi1sk: S('2026-11-29'), payment_id: S('pay_1') };
    expect(indexWriteUnits(undefined, open, index, table)).toBe(1);
    expect(indexWriteUnits(open, { ...open, gsi1pk: S('STATUS#PENDING') }, index, table)).toBe(2);
    expect(indexWriteUnits(open, { ...open, payment_id: S('pay_2') }, index, table)).toBe(1);
    // An attribute the index does not project: no index write.
    expect(indexWriteUnits(open, { ...open, data: S('changed') }, index, table)).toBe(0);
    const { gsi1pk: _k, gsi1sk: _s, ...closed } = open;
    expect(indexWriteUnits(open, closed, index, table)).toBe(1);
    expect(indexWriteUnits(small(1), small(1), index, table)).toBe(0);
    // In a transaction, as DynamoDB Local counts them: twice.
    expect(writeUnits(undefined, open, table, true)).toEqual({ table: 2, indexes: 2 });
  });

  it('reads what each write request touches', () => {
    expect(writtenKeys('UpdateItem', { TableName: 'T', Key: { pk: S('a') } })).toEqual([
      { table: 'T', key: { pk: S('a') }, transactional: false },
    ]);
    expect(
      writtenKeys('BatchWriteItem', {
        RequestItems: { T: [{ PutRequest: { Item: { pk: S('a') } } }, { DeleteRequest: { Key: { pk: S('b') } } }] },
      }),
    ).toEqual([
      { table: 'T', item: { pk: S('a') }, transactional: false },
      { table: 'T', key: { pk: S('b') }, transactional: false },
    ]);
    expect(writtenKeys('GetItem', { TableName: 'T', Key: { pk: S('a') } })).toEqual([]);
  });
});
