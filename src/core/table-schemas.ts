/**
 * The DynamoDB tables, described once: the CDK app creates them from this, the local stack too.
 * Every key attribute is a string. Names are generated on AWS and passed to functions in `envVar`.
 */
export interface IndexSchema {
  indexName: string;
  partitionKey: string;
  sortKey?: string;
  /**
   * The attributes the index keeps besides the keys, when not all: what its readers read, so an index write costs
   * the size of those, not of the whole item. Unset: every attribute.
   */
  include?: readonly string[];
}

export interface TableSchema {
  /** Logical id in the CDK app and base name locally. */
  id: string;
  /** Environment variable that carries the table's name to the functions. */
  envVar: string;
  partitionKey: string;
  sortKey?: string;
  globalSecondaryIndexes: IndexSchema[];
  timeToLiveAttribute?: string;
}

export const tableSchemas = {
  /**
   * Payment events and orders (item collection per payment), plus uniqueness guards:
   * `PAY#<id>`/`EVENT`, `PAY#<id>`/`ORDER#<order id>`, `CHECKOUT#<checkout id>`/`GUARD`, `ORDER#<order id>`/`GUARD`.
   * The by-status index (on the event items, while the payment is open: a SUCCESS or FAILED payment leaves it) lets
   * the janitor find stuck payments; it keeps only their ids, under one key (`OPEN`) by creation time (or, once the
   * janitor has examined one, the time it put it back in line), so a move between open states writes no index entry.
   */
  payments: {
    id: 'Payments',
    envVar: 'PAYMENTS_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    globalSecondaryIndexes: [
      { indexName: 'by-status', partitionKey: 'gsi1pk', sortKey: 'gsi1sk', include: ['payment_id'] },
    ],
    // Buyer velocity windows (`VELOCITY#<buyer>`/`<hour>`) expire by themselves.
    timeToLiveAttribute: 'expires_at',
  },
  /**
   * Seller wallets: one balance item per seller and currency (`WALLET#<seller>`/`<currency>`), and pending funds
   * (`FUNDS#<payment order id>`/`FUNDS`), in the sparse pending-funds index while the PSP holds them as pending.
   */
  wallets: {
    id: 'Wallets',
    envVar: 'WALLETS_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    globalSecondaryIndexes: [{ indexName: 'pending-funds', partitionKey: 'funds_shard', sortKey: 'funds_sort' }],
  },
  /**
   * Sellers (`SELLER#<seller account>`) and the guard that ties one PSP connected account to one seller
   * (`ACCOUNT#<psp account id>`).
   */
  sellers: { id: 'Sellers', envVar: 'SELLERS_TABLE', partitionKey: 'pk', globalSecondaryIndexes: [] },
  /**
   * Payouts (`PAYOUT#<id>`/`PAYOUT`), payout runs (`RUN#<id>`/`RUN`) and the pay-out's applied webhook events
   * (`WEBHOOK#<event id>`/`WEBHOOK`). By seller for a seller's payouts; by status (open payouts only: sparse) for
   * the janitor.
   */
  payouts: {
    id: 'Payouts',
    envVar: 'PAYOUTS_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    globalSecondaryIndexes: [
      { indexName: 'by-seller', partitionKey: 'seller_account', sortKey: 'created_at' },
      { indexName: 'by-status', partitionKey: 'open_status', sortKey: 'updated_at' },
    ],
  },
  /**
   * Append-only double-entry ledger: `REF#<reference>`/`TXN#<txn id>` header, carrying every entry, and
   * `TXN#<txn id>#<n>` for entry n again when it is on a seller's payable account. The by-account index holds those:
   * sellers' statements (a wallet equals its payable account's entries); platform accounts have no statement. by-day
   * and by-settlement-key serve reconciliation (only headers carry `day_shard`, with their entries, and `settlement_key`).
   */
  ledger: {
    id: 'Ledger',
    envVar: 'LEDGER_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    globalSecondaryIndexes: [
      { indexName: 'by-account', partitionKey: 'account', sortKey: 'posted_at' },
      // Reconciliation: a day's transactions in shards (`<day>#<shard>`), and a money movement by its PSP key.
      { indexName: 'by-day', partitionKey: 'day_shard', sortKey: 'transaction_id' },
      { indexName: 'by-settlement-key', partitionKey: 'settlement_key', sortKey: 'transaction_id' },
    ],
  },
  /**
   * Refunds (`REFUND#<id>`/`REFUND`), each payment order's refundable amount (`ORDER#<order id>`/`REFUNDABLE`),
   * disputes (`DISPUTE#<id>`/`DISPUTE`) and the applied webhook events of both (`WEBHOOK#<event id>`/`WEBHOOK`). By
   * payment for a payment's refunds; by status (open refunds only: sparse) for the janitor; disputes by status.
   */
  refunds: {
    id: 'Refunds',
    envVar: 'REFUNDS_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    globalSecondaryIndexes: [
      { indexName: 'by-payment', partitionKey: 'payment_id', sortKey: 'created_at' },
      { indexName: 'by-status', partitionKey: 'open_status', sortKey: 'updated_at' },
      { indexName: 'disputes-by-status', partitionKey: 'dispute_status', sortKey: 'created_at' },
    ],
  },
  /**
   * Client idempotency keys of POST /v1/payments (Powertools idempotency records: key `id`, TTL `expiration`),
   * kept at least 24 hours.
   */
  idempotency: {
    id: 'Idempotency',
    envVar: 'IDEMPOTENCY_TABLE',
    partitionKey: 'id',
    globalSecondaryIndexes: [],
    timeToLiveAttribute: 'expiration',
  },
  /**
   * Reconciliation: runs (`RUN#<id>`/`RUN`, with `SHARD#<n>` results), the one-run-per-date lock
   * (`DATE#<date>`/`LOCK`), mismatches (`MISMATCH#<id>`/`MISMATCH`) and the fixes applied (`FIX#<balance
   * transaction>`/`FIX`). Runs by date; mismatches by run and, while open, by queue (`open_queue`: sparse).
   */
  reconciliation: {
    id: 'Reconciliation',
    envVar: 'RECONCILIATION_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    globalSecondaryIndexes: [
      { indexName: 'by-date', partitionKey: 'run_date', sortKey: 'created_at' },
      { indexName: 'by-run', partitionKey: 'run_id', sortKey: 'mismatch_id' },
      { indexName: 'by-queue', partitionKey: 'open_queue', sortKey: 'created_at' },
    ],
  },
  /**
   * Each payment's timeline (`PAY#<payment id>`/`<at>#<n>`, or `ONCE#<key>` for a fact recorded once): append-only,
   * what the flows saw and did, for an investigator (src/core/timeline.ts).
   */
  timeline: { id: 'Timeline', envVar: 'TIMELINE_TABLE', partitionKey: 'pk', sortKey: 'sk', globalSecondaryIndexes: [] },
  /** API keys, stored only as salted scrypt hashes (`KEY#<key id>`). */
  apiKeys: { id: 'ApiKeys', envVar: 'API_KEYS_TABLE', partitionKey: 'pk', globalSecondaryIndexes: [] },
} satisfies Record<string, TableSchema>;

export type TableName = keyof typeof tableSchemas;
export const allTableSchemas: TableSchema[] = Object.values(tableSchemas);
