/**
 * The one list of functions, API routes, state machines, queues (consumed ones and people's work lists), buckets,
 * schedules and metric alarms. The CDK app deploys exactly these; the local stack serves the same routes and runs the
 * same ASL files with the same handler modules.
 */
import type { Scope } from '../src/api/api-keys';
import { FIXING_JANITOR_ENV } from '../src/core/config';
import type { CronFields } from '../src/core/schedule';
import type { TableName } from '../src/core/table-schemas';

export type { CronFields };

export type TableAccess = 'read' | 'readWrite';
export type BucketAccess = 'read' | 'readWrite';

/**
 * One function. The names of state machines and buckets it refers to are those of this catalog by default; the
 * CDK constructs take any catalog (`Catalog`), so they read specs with plain string names.
 */
export interface FunctionSpec<Workflow extends string = StateMachineName, Bucket extends string = BucketName> {
  /** CDK logical id, and the name used locally. */
  id: string;
  /** Handler module, relative to the repository root; it exports `handler`. */
  entry: string;
  description: string;
  timeoutSeconds: number;
  /** Memory in MB (512 when unset); CPU grows with it, so a function that parses or matches large files asks for more. */
  memoryMb?: number;
  tables: Partial<Record<TableName, TableAccess>>;
  /** Reads the PSP secret key (payments). */
  psp?: boolean;
  /**
   * Reads the PSP Connect key: the pay-out's restricted key, the only one that may create connected accounts,
   * transfers and payouts (on AWS a secret of its own; the payments key cannot move money out).
   */
  pspConnect?: boolean;
  /**
   * Starts executions of these state machines (their ARN in each machine's envVar), and reads their status (to
   * re-drive only what is not running).
   */
  startsWorkflows?: Workflow[];
  /** Reads the execution history of these state machines' executions (DescribeExecution, GetExecutionHistory). */
  readsHistoryOf?: Workflow[];
  /** Answers the task tokens of these state machines' waiting executions (SendTaskSuccess/Failure/Heartbeat). */
  answersTasksOf?: Workflow[];
  /** Reads (or reads and writes) the objects of these buckets (their name in each bucket's envVar). */
  buckets?: Partial<Record<Bucket, BucketAccess>>;
  /** Reads the PSP webhook signing secret. */
  webhookSecret?: boolean;
  /** Sends messages to these queues, consumed ones or work lists (their URL in the queue's envVar). */
  sendsTo?: (QueueName | WorkQueueName)[];
  /** Invokes these functions of the catalog and waits for their answer (each one's name in its `nameEnvVar`). */
  invokes?: string[];
  /** The environment variable that carries this function's name to the functions that invoke it (`invokes`). */
  nameEnvVar?: string;
}

/**
 * A function that changes payments, refunds or reconciliation records writes what it did on the payments' timelines
 * (src/core/timeline.ts): it gets the timeline table too.
 */
const RECORDS_ON_TIMELINES: TableName[] = ['payments', 'refunds', 'reconciliation'];
const fn = (spec: FunctionSpec): FunctionSpec =>
  RECORDS_ON_TIMELINES.some((table) => spec.tables[table] === 'readWrite')
    ? { ...spec, tables: { ...spec.tables, timeline: 'readWrite' } }
    : spec;

export interface QueueSpec {
  id: string;
  envVar: string;
  /** The function that consumes it in batches, reporting partial failures. */
  consumer: string;
  batchSize: number;
  /** Receives before a message moves to the queue's DLQ. */
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
}

/** Queues with a consumer (an event source mapping on AWS, a poller locally); each has a DLQ. */
export const queues = {
  /** The PSP's events, one queue per flow that applies them (src/psp/event-flows.ts): the pay-in's. */
  pspWebhooks: {
    id: 'PspWebhooks',
    envVar: 'PSP_WEBHOOK_QUEUE_URL',
    consumer: 'PspWebhookProcessor',
    batchSize: 10,
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 60,
  },
  /** Refund and dispute events. */
  refundWebhooks: {
    id: 'RefundWebhooks',
    envVar: 'REFUND_WEBHOOK_QUEUE_URL',
    consumer: 'RefundWebhookProcessor',
    batchSize: 10,
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 60,
  },
  /** Connect events: accounts, balance, transfers, payouts. */
  connectWebhooks: {
    id: 'ConnectWebhooks',
    envVar: 'CONNECT_WEBHOOK_QUEUE_URL',
    consumer: 'ConnectWebhookProcessor',
    batchSize: 10,
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 60,
  },
  payoutRuns: {
    id: 'PayoutRuns',
    envVar: 'PAYOUT_RUN_QUEUE_URL',
    consumer: 'PayoutRunWorker',
    batchSize: 5,
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 180,
  },
} satisfies Record<string, QueueSpec>;

export type QueueName = keyof typeof queues;

/**
 * A queue without a consumer: a person's work list, read (and its messages deleted once handled) by a tool, e.g.
 * finance's. Each has a DLQ, for messages the tool received `maxReceiveCount` times without deleting them.
 */
export interface WorkQueueSpec {
  /** CDK logical id; locally the queue is named after it (kebab-case). */
  id: string;
  /** Environment variable that carries its URL to the functions that send to it (and to the tool that reads it). */
  envVar: string;
  /** What is in it and who reads it. */
  description: string;
  maxReceiveCount: number;
  /** How long a received message stays hidden from other readers: the time a person has to handle it. */
  visibilityTimeoutSeconds: number;
}

/** Work lists: queues with no function consuming them (no event source on AWS, no poller locally); each has a DLQ. */
export const workQueues = {
  reconciliationFinance: {
    id: 'ReconciliationFinance',
    envVar: 'RECONCILIATION_FINANCE_QUEUE_URL',
    description: "Reconciliation mismatches classified but not fixable automatically: finance's work list",
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 900,
  },
  reconciliationInvestigation: {
    id: 'ReconciliationInvestigation',
    envVar: 'RECONCILIATION_INVESTIGATION_QUEUE_URL',
    description: 'Reconciliation mismatches no rule classifies: the investigation work list',
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 900,
  },
} satisfies Record<string, WorkQueueSpec>;

export type WorkQueueName = keyof typeof workQueues;

export interface BucketSpec {
  /** CDK logical id; locally the bucket is named after it (kebab-case). */
  id: string;
  /** Environment variable that carries the bucket's name to the functions that use it. */
  envVar: string;
}

/**
 * S3 buckets (in the stateful stack, retained: versioned, encrypted with the data key, no public access, TLS only,
 * access logged), used by the functions that list them in `buckets`.
 */
export const buckets = {
  /** The PSP's settlement files (as downloaded) and their shards, and the reconciliation reports. */
  settlement: { id: 'Settlement', envVar: 'SETTLEMENT_BUCKET' },
} satisfies Record<string, BucketSpec>;

export type BucketName = keyof typeof buckets;

export const functions = {
  Authorizer: fn({
    id: 'Authorizer',
    entry: 'lambdas/api/authorizer.ts',
    description: 'API Gateway REQUEST authorizer: checks the bearer secret key against salted hashes',
    timeoutSeconds: 10,
    // Read only: a compromised authorizer must not be able to mint or rewrite keys. The re-hash of a legacy scrypt key
    // on first use therefore happens locally only (on AWS it is refused and logged; no legacy key exists there).
    tables: { apiKeys: 'read' },
  }),
  CreatePayment: fn({
    id: 'CreatePayment',
    entry: 'lambdas/api/create-payment.ts',
    description: 'POST /v1/payments: validates a checkout, stores it, starts the pay-in workflow',
    timeoutSeconds: 15,
    // The stored payment is the request's idempotency record (its id derives from the Idempotency-Key).
    tables: { payments: 'readWrite' },
    startsWorkflows: ['payIn'],
  }),
  ReviewPayment: fn({
    id: 'ReviewPayment',
    entry: 'lambdas/api/review-payment.ts',
    description: 'POST /v1/payments/{id}/review: an operator approves or rejects a payment held for risk review',
    timeoutSeconds: 15,
    tables: { payments: 'readWrite' },
    startsWorkflows: ['payIn'],
  }),
  GetPayment: fn({
    id: 'GetPayment',
    entry: 'lambdas/api/get-payment.ts',
    description: 'GET /v1/payments/{id}',
    timeoutSeconds: 10,
    tables: { payments: 'read', refunds: 'read' },
  }),
  GetPaymentTimeline: fn({
    id: 'GetPaymentTimeline',
    entry: 'lambdas/api/get-payment-timeline.ts',
    description: 'GET /v1/payments/{id}/timeline',
    timeoutSeconds: 15,
    tables: {
      payments: 'read',
      timeline: 'read',
      ledger: 'read',
      refunds: 'read',
      wallets: 'read',
      payouts: 'read',
      reconciliation: 'read',
    },
    readsHistoryOf: ['payIn', 'refund'],
  }),
  GetPaymentLedger: fn({
    id: 'GetPaymentLedger',
    entry: 'lambdas/api/get-payment-ledger.ts',
    description: 'GET /v1/payments/{id}/ledger',
    timeoutSeconds: 10,
    tables: { payments: 'read', ledger: 'read' },
  }),
  GetWallet: fn({
    id: 'GetWallet',
    entry: 'lambdas/api/get-wallet.ts',
    description: 'GET /v1/wallets/{seller_account}',
    timeoutSeconds: 10,
    tables: { wallets: 'read' },
  }),
  RiskCheck: fn({
    id: 'RiskCheck',
    entry: 'lambdas/payin/risk-check.ts',
    description: 'Pay-in step: risk check of the payment event',
    timeoutSeconds: 15,
    tables: { payments: 'readWrite' },
  }),
  Charge: fn({
    id: 'Charge',
    entry: 'lambdas/payin/charge.ts',
    description: 'Pay-in step: one PSP PaymentIntent for the checkout total',
    timeoutSeconds: 30,
    tables: { payments: 'readWrite' },
    psp: true,
  }),
  CreditWallet: fn({
    id: 'CreditWallet',
    entry: 'lambdas/payin/credit-wallet.ts',
    description:
      "Pay-in step: books one payment order once (its seller's wallet credit and its ledger transaction, one write)",
    timeoutSeconds: 15,
    tables: { payments: 'readWrite', wallets: 'readWrite', ledger: 'readWrite' },
  }),
  AppendLedger: fn({
    id: 'AppendLedger',
    entry: 'lambdas/payin/append-ledger.ts',
    description: 'Pay-in step: appends the ledger transaction of an order credited without it, once',
    timeoutSeconds: 15,
    tables: { payments: 'readWrite', ledger: 'readWrite' },
  }),
  AwaitPsp: fn({
    id: 'AwaitPsp',
    entry: 'lambdas/payin/await-psp.ts',
    description: 'Pay-in step (waitForTaskToken): keeps the task token of a payment pending at the PSP',
    timeoutSeconds: 15,
    tables: { payments: 'readWrite' },
    answersTasksOf: ['payIn'],
  }),
  CancelPending: fn({
    id: 'CancelPending',
    entry: 'lambdas/payin/cancel-pending.ts',
    description: 'Pay-in step at the pending deadline: stops the payment at the PSP',
    timeoutSeconds: 30,
    tables: { payments: 'readWrite' },
    psp: true,
  }),
  PspWebhook: fn({
    id: 'PspWebhook',
    entry: 'lambdas/api/psp-webhook.ts',
    description: 'POST /v1/webhooks/psp: verifies the PSP signature and queues the event for the flow that applies it',
    timeoutSeconds: 10,
    tables: {},
    webhookSecret: true,
    sendsTo: ['pspWebhooks', 'refundWebhooks', 'connectWebhooks'],
  }),
  PspWebhookProcessor: fn({
    id: 'PspWebhookProcessor',
    entry: 'lambdas/ops/psp-webhook-processor.ts',
    description:
      "Applies the pay-in's verified PSP events once each, re-reading the PaymentIntent, and resumes waiting pay-ins",
    timeoutSeconds: 60,
    tables: { payments: 'readWrite' },
    psp: true,
    answersTasksOf: ['payIn'],
  }),
  RefundWebhookProcessor: fn({
    id: 'RefundWebhookProcessor',
    entry: 'lambdas/ops/refund-webhook-processor.ts',
    description:
      'Applies verified refund and dispute events once each, re-reading the refund or dispute, and resumes waiting refunds',
    timeoutSeconds: 60,
    tables: { payments: 'read', refunds: 'readWrite', wallets: 'readWrite', ledger: 'readWrite' },
    psp: true,
    answersTasksOf: ['refund'],
  }),
  ConnectWebhookProcessor: fn({
    id: 'ConnectWebhookProcessor',
    entry: 'lambdas/ops/connect-webhook-processor.ts',
    description:
      'Applies verified Connect events (accounts, balance, transfers, payouts) once each, re-reading the PSP object, and resumes waiting payouts',
    timeoutSeconds: 60,
    tables: { payouts: 'readWrite', sellers: 'readWrite', wallets: 'readWrite', ledger: 'readWrite' },
    pspConnect: true,
    answersTasksOf: ['payOut'],
  }),
  RecordFailure: fn({
    id: 'RecordFailure',
    entry: 'lambdas/payin/record-failure.ts',
    description: 'Pay-in step after a step gave up: UNKNOWN after the charge, the reason after the bookings',
    timeoutSeconds: 15,
    tables: { payments: 'readWrite' },
  }),
  Janitor: fn({
    id: 'Janitor',
    entry: 'lambdas/ops/janitor.ts',
    description:
      'Scheduled: settles UNKNOWN and PENDING payments with the PSP and re-drives payments whose workflow ended or was lost; invoked: settles one payment for reconciliation',
    timeoutSeconds: 300,
    tables: { payments: 'readWrite' },
    psp: true,
    startsWorkflows: ['payIn'],
    answersTasksOf: ['payIn'],
    nameEnvVar: FIXING_JANITOR_ENV.payment,
  }),
  Finalize: fn({
    id: 'Finalize',
    entry: 'lambdas/payin/finalize.ts',
    description: 'Pay-in step: marks the orders and the payment SUCCESS once wallet and ledger are updated',
    timeoutSeconds: 15,
    tables: { payments: 'readWrite' },
  }),
  PutSeller: fn({
    id: 'PutSeller',
    entry: 'lambdas/api/put-seller.ts',
    description: 'PUT /v1/sellers/{seller_account}: creates or updates a seller and its connected account at the PSP',
    timeoutSeconds: 20,
    tables: { sellers: 'readWrite' },
    pspConnect: true,
  }),
  GetSeller: fn({
    id: 'GetSeller',
    entry: 'lambdas/api/get-seller.ts',
    description: 'GET /v1/sellers/{seller_account}',
    timeoutSeconds: 10,
    tables: { sellers: 'read' },
  }),
  CreateOnboardingLink: fn({
    id: 'CreateOnboardingLink',
    entry: 'lambdas/api/create-onboarding-link.ts',
    description: "POST /v1/sellers/{seller_account}/onboarding-link: a link to the PSP's hosted onboarding page",
    timeoutSeconds: 15,
    tables: { sellers: 'read' },
    pspConnect: true,
  }),
  CreatePayout: fn({
    id: 'CreatePayout',
    entry: 'lambdas/api/create-payout.ts',
    description:
      "POST /v1/payouts: reserves a seller's available money with a new payout and starts the pay-out workflow",
    timeoutSeconds: 15,
    tables: { sellers: 'read', payouts: 'readWrite', wallets: 'readWrite', idempotency: 'readWrite' },
    startsWorkflows: ['payOut'],
  }),
  GetPayout: fn({
    id: 'GetPayout',
    entry: 'lambdas/api/get-payout.ts',
    description: 'GET /v1/payouts/{payout_id}',
    timeoutSeconds: 10,
    tables: { payouts: 'read' },
  }),
  ListSellerPayouts: fn({
    id: 'ListSellerPayouts',
    entry: 'lambdas/api/list-seller-payouts.ts',
    description: 'GET /v1/sellers/{seller_account}/payouts',
    timeoutSeconds: 10,
    tables: { payouts: 'read' },
  }),
  CreatePayoutRun: fn({
    id: 'CreatePayoutRun',
    entry: 'lambdas/api/create-payout-run.ts',
    description: 'POST /v1/payout-runs: starts the payout run of a date',
    timeoutSeconds: 15,
    tables: { payouts: 'readWrite' },
    sendsTo: ['payoutRuns'],
  }),
  GetPayoutRun: fn({
    id: 'GetPayoutRun',
    entry: 'lambdas/api/get-payout-run.ts',
    description: 'GET /v1/payout-runs/{run_id}',
    timeoutSeconds: 10,
    tables: { payouts: 'read' },
  }),
  Transfer: fn({
    id: 'Transfer',
    entry: 'lambdas/payout/transfer.ts',
    description: "Pay-out step: the Connect transfer to the seller's account, then its booking",
    timeoutSeconds: 30,
    tables: { payouts: 'readWrite', wallets: 'readWrite', ledger: 'readWrite' },
    pspConnect: true,
  }),
  SendPayout: fn({
    id: 'SendPayout',
    entry: 'lambdas/payout/send-payout.ts',
    description: "Pay-out step: the payout from the seller's connected account to its bank",
    timeoutSeconds: 30,
    tables: { payouts: 'readWrite', wallets: 'readWrite', ledger: 'readWrite', sellers: 'readWrite' },
    pspConnect: true,
    answersTasksOf: ['payOut'],
  }),
  AwaitPayout: fn({
    id: 'AwaitPayout',
    entry: 'lambdas/payout/await-payout.ts',
    description: 'Pay-out step (waitForTaskToken): keeps the task token of a payout on its way to the bank',
    timeoutSeconds: 15,
    tables: { payouts: 'readWrite' },
    answersTasksOf: ['payOut'],
  }),
  SettlePayout: fn({
    id: 'SettlePayout',
    entry: 'lambdas/payout/settle-payout.ts',
    description: "Pay-out step: applies the PSP's state of the payout (paid; failed: the transfer reversed and booked)",
    timeoutSeconds: 30,
    tables: { payouts: 'readWrite', wallets: 'readWrite', ledger: 'readWrite', sellers: 'readWrite' },
    pspConnect: true,
    answersTasksOf: ['payOut'],
  }),
  PayoutJanitor: fn({
    id: 'PayoutJanitor',
    entry: 'lambdas/ops/payout-janitor.ts',
    description:
      "Scheduled: drives open payouts on with the workflow's steps and settles UNKNOWN ones from the PSP; invoked: settles one payout for reconciliation",
    timeoutSeconds: 300,
    tables: { payouts: 'readWrite', wallets: 'readWrite', ledger: 'readWrite', sellers: 'readWrite' },
    pspConnect: true,
    answersTasksOf: ['payOut'],
    nameEnvVar: FIXING_JANITOR_ENV.payout,
  }),
  PayoutRunScheduled: fn({
    id: 'PayoutRunScheduled',
    entry: 'lambdas/ops/payout-run-scheduled.ts',
    description: 'Scheduled (daily): starts the payout run of the day',
    timeoutSeconds: 30,
    tables: { payouts: 'readWrite' },
    sendsTo: ['payoutRuns'],
  }),
  PayoutRunWorker: fn({
    id: 'PayoutRunWorker',
    entry: 'lambdas/ops/payout-run-worker.ts',
    description: "Payout runs: lists sellers page by page and pays each seller's available money per currency",
    timeoutSeconds: 150,
    tables: { sellers: 'read', payouts: 'readWrite', wallets: 'readWrite' },
    pspConnect: true,
    sendsTo: ['payoutRuns'],
    startsWorkflows: ['payOut'],
  }),
  CreateRefund: fn({
    id: 'CreateRefund',
    entry: 'lambdas/api/create-refund.ts',
    description:
      "POST /v1/payments/{payment_id}/refunds: reserves the refund on the order's refundable amount and starts the refund workflow",
    timeoutSeconds: 15,
    tables: { payments: 'read', refunds: 'readWrite', idempotency: 'readWrite' },
    startsWorkflows: ['refund'],
  }),
  GetRefund: fn({
    id: 'GetRefund',
    entry: 'lambdas/api/get-refund.ts',
    description: 'GET /v1/refunds/{refund_id}',
    timeoutSeconds: 10,
    tables: { refunds: 'read' },
  }),
  ListDisputes: fn({
    id: 'ListDisputes',
    entry: 'lambdas/api/list-disputes.ts',
    description: 'GET /v1/disputes',
    timeoutSeconds: 10,
    tables: { refunds: 'read' },
  }),
  GetDispute: fn({
    id: 'GetDispute',
    entry: 'lambdas/api/get-dispute.ts',
    description: 'GET /v1/disputes/{dispute_id}',
    timeoutSeconds: 10,
    tables: { refunds: 'read' },
  }),
  DebitAndBook: fn({
    id: 'DebitAndBook',
    entry: 'lambdas/refunds/debit-and-book.ts',
    description: "Refund step: debits the seller's wallet and books the refund, once each",
    timeoutSeconds: 15,
    tables: { refunds: 'readWrite', wallets: 'readWrite', ledger: 'readWrite' },
  }),
  RefundAtPsp: fn({
    id: 'RefundAtPsp',
    entry: 'lambdas/refunds/refund-at-psp.ts',
    description: 'Refund step: the refund at the PSP (Idempotency-Key: the refund id)',
    timeoutSeconds: 30,
    tables: { refunds: 'readWrite', wallets: 'readWrite', ledger: 'readWrite' },
    psp: true,
    answersTasksOf: ['refund'],
  }),
  AwaitRefund: fn({
    id: 'AwaitRefund',
    entry: 'lambdas/refunds/await-refund.ts',
    description: 'Refund step (waitForTaskToken): keeps the task token of a refund pending at the PSP',
    timeoutSeconds: 15,
    tables: { refunds: 'readWrite' },
    answersTasksOf: ['refund'],
  }),
  SettleRefund: fn({
    id: 'SettleRefund',
    entry: 'lambdas/refunds/settle-refund.ts',
    description:
      "Refund step: applies the PSP's state of the refund (failed: the booking reversed, the wallet restored)",
    timeoutSeconds: 30,
    tables: { refunds: 'readWrite', wallets: 'readWrite', ledger: 'readWrite' },
    psp: true,
    answersTasksOf: ['refund'],
  }),
  RefundJanitor: fn({
    id: 'RefundJanitor',
    entry: 'lambdas/ops/refund-janitor.ts',
    description:
      "Scheduled: drives open refunds on with the workflow's steps and settles UNKNOWN ones from the PSP; invoked: settles one refund or dispute for reconciliation",
    timeoutSeconds: 300,
    // Payments read: a dispute's orders (reconciliation's fix of a dispute the PSP booked).
    tables: { refunds: 'readWrite', wallets: 'readWrite', ledger: 'readWrite', payments: 'read' },
    psp: true,
    answersTasksOf: ['refund'],
    nameEnvVar: FIXING_JANITOR_ENV.refund,
  }),
  RequestReport: fn({
    id: 'RequestReport',
    entry: 'lambdas/reconciliation/request-report.ts',
    description: "Reconciliation step: creates the PSP's report run of the run's date (the settlement file)",
    timeoutSeconds: 30,
    tables: { reconciliation: 'readWrite' },
    psp: true,
  }),
  CheckReport: fn({
    id: 'CheckReport',
    entry: 'lambdas/reconciliation/check-report.ts',
    description: "Reconciliation step: polls the PSP's report run until its file is ready",
    timeoutSeconds: 30,
    tables: { reconciliation: 'readWrite' },
    psp: true,
  }),
  SplitFile: fn({
    id: 'SplitFile',
    entry: 'lambdas/reconciliation/split-file.ts',
    description: 'Reconciliation step: downloads the settlement file from the PSP and splits it into shards',
    timeoutSeconds: 900,
    memoryMb: 1024,
    tables: { reconciliation: 'readWrite' },
    psp: true,
    buckets: { settlement: 'readWrite' },
  }),
  MatchShard: fn({
    id: 'MatchShard',
    entry: 'lambdas/reconciliation/match-shard.ts',
    description:
      "Reconciliation step: matches one shard of the settlement file with the ledger and has the flows' janitors make the automatic fixes",
    timeoutSeconds: 900,
    memoryMb: 1024,
    // Books the PSP's fees; reads the records the rows name (a fix changes them in its flow's function).
    tables: { reconciliation: 'readWrite', ledger: 'readWrite', payments: 'read', refunds: 'read', payouts: 'read' },
    // The PSP's balance transactions (when it dates a booking), with the payments key.
    psp: true,
    buckets: { settlement: 'read' },
    // The automatic fixes, each made by its flow's janitor with its own recovery code and rights.
    invokes: ['Janitor', 'RefundJanitor', 'PayoutJanitor'],
  }),
  FinishRun: fn({
    id: 'FinishRun',
    entry: 'lambdas/reconciliation/finish-run.ts',
    description:
      'Reconciliation step: totals the run, writes its report, queues the open mismatches and publishes their counts',
    timeoutSeconds: 900,
    // Payments read: an open item whose automatic fix did not settle it is closed once its payment is SUCCESS.
    tables: { reconciliation: 'readWrite', ledger: 'read', wallets: 'read', payments: 'read' },
    // Writes the report as it stood at completion beside the file.
    buckets: { settlement: 'readWrite' },
    sendsTo: ['reconciliationFinance', 'reconciliationInvestigation'],
  }),
  FailRun: fn({
    id: 'FailRun',
    entry: 'lambdas/reconciliation/fail-run.ts',
    description: 'Reconciliation step after a step gave up: records the run FAILED with the error',
    timeoutSeconds: 15,
    tables: { reconciliation: 'readWrite' },
  }),
  ReconciliationScheduled: fn({
    id: 'ReconciliationScheduled',
    entry: 'lambdas/ops/reconciliation-scheduled.ts',
    description: "Scheduled (daily): starts the nightly reconciliation run against the PSP's settlement file",
    timeoutSeconds: 30,
    tables: { reconciliation: 'readWrite' },
    startsWorkflows: ['reconciliation'],
  }),
  CreateReconciliationRun: fn({
    id: 'CreateReconciliationRun',
    entry: 'lambdas/api/create-reconciliation-run.ts',
    description: 'POST /v1/reconciliation/runs: starts the reconciliation run of a date (or of an uploaded file)',
    timeoutSeconds: 15,
    tables: { reconciliation: 'readWrite' },
    startsWorkflows: ['reconciliation'],
    buckets: { settlement: 'read' },
  }),
  GetReconciliationRun: fn({
    id: 'GetReconciliationRun',
    entry: 'lambdas/api/get-reconciliation-run.ts',
    description: 'GET /v1/reconciliation/runs/{run_id}',
    timeoutSeconds: 10,
    tables: { reconciliation: 'read' },
  }),
  GetReconciliationReport: fn({
    id: 'GetReconciliationReport',
    entry: 'lambdas/api/get-reconciliation-report.ts',
    description: "GET /v1/reconciliation/runs/{run_id}/report.html: the run's report, as HTML",
    timeoutSeconds: 10,
    tables: { reconciliation: 'read' },
  }),
  ListReconciliationRuns: fn({
    id: 'ListReconciliationRuns',
    entry: 'lambdas/api/list-reconciliation-runs.ts',
    description: 'GET /v1/reconciliation/runs?date=: the reconciliation runs of a date',
    timeoutSeconds: 10,
    tables: { reconciliation: 'read' },
  }),
  ListReconciliationMismatches: fn({
    id: 'ListReconciliationMismatches',
    entry: 'lambdas/api/list-reconciliation-mismatches.ts',
    description: 'GET /v1/reconciliation/mismatches',
    timeoutSeconds: 10,
    tables: { reconciliation: 'read' },
  }),
  ResolveReconciliationMismatch: fn({
    id: 'ResolveReconciliationMismatch',
    entry: 'lambdas/api/resolve-reconciliation-mismatch.ts',
    description: 'POST /v1/reconciliation/mismatches/{mismatch_id}/resolve: a person closes an open mismatch',
    timeoutSeconds: 15,
    tables: { reconciliation: 'readWrite' },
  }),
} satisfies Record<string, FunctionSpec>;

export type FunctionId = keyof typeof functions;

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT';
  /** API Gateway resource path, with `{param}` placeholders. */
  path: string;
  functionId: FunctionId;
  /** Requires `Authorization: Bearer <secret key>` (checked by the Authorizer function). */
  authorized: boolean;
  /**
   * The scope the key needs (`admin` implies all): set on every authorized route (`route` below makes it so). The
   * route's handler refuses a key without it (`apiHandler(fn, { scope })`, 403 `insufficient_scope`);
   * test/unit/scopes.test.ts checks each handler against this list.
   */
  scope?: Scope;
}

/** A route: an authorized one must name its scope, a public one has none. */
const route = (
  spec: Omit<RouteSpec, 'authorized' | 'scope'> & ({ authorized: true; scope: Scope } | { authorized: false }),
): RouteSpec => spec;

export const apiRoutes: RouteSpec[] = [
  route({
    method: 'POST',
    path: '/v1/payments',
    functionId: 'CreatePayment',
    authorized: true,
    scope: 'payments:write',
  }),
  route({
    method: 'GET',
    path: '/v1/payments/{payment_id}',
    functionId: 'GetPayment',
    authorized: true,
    scope: 'payments:read',
  }),
  route({
    method: 'GET',
    path: '/v1/payments/{payment_id}/timeline',
    functionId: 'GetPaymentTimeline',
    authorized: true,
    scope: 'payments:read',
  }),
  route({
    method: 'GET',
    path: '/v1/payments/{payment_id}/ledger',
    functionId: 'GetPaymentLedger',
    authorized: true,
    scope: 'payments:read',
  }),
  route({
    method: 'GET',
    path: '/v1/wallets/{seller_account}',
    functionId: 'GetWallet',
    authorized: true,
    scope: 'payments:read',
  }),
  route({
    method: 'POST',
    path: '/v1/payments/{payment_id}/review',
    functionId: 'ReviewPayment',
    authorized: true,
    scope: 'reviews:write',
  }),
  route({ method: 'POST', path: '/v1/webhooks/psp', functionId: 'PspWebhook', authorized: false }),
  route({
    method: 'PUT',
    path: '/v1/sellers/{seller_account}',
    functionId: 'PutSeller',
    authorized: true,
    scope: 'sellers:write',
  }),
  route({
    method: 'GET',
    path: '/v1/sellers/{seller_account}',
    functionId: 'GetSeller',
    authorized: true,
    scope: 'sellers:read',
  }),
  route({
    method: 'POST',
    path: '/v1/sellers/{seller_account}/onboarding-link',
    functionId: 'CreateOnboardingLink',
    authorized: true,
    scope: 'sellers:write',
  }),
  route({
    method: 'GET',
    path: '/v1/sellers/{seller_account}/payouts',
    functionId: 'ListSellerPayouts',
    authorized: true,
    scope: 'payouts:read',
  }),
  route({ method: 'POST', path: '/v1/payouts', functionId: 'CreatePayout', authorized: true, scope: 'payouts:write' }),
  route({
    method: 'GET',
    path: '/v1/payouts/{payout_id}',
    functionId: 'GetPayout',
    authorized: true,
    scope: 'payouts:read',
  }),
  route({
    method: 'POST',
    path: '/v1/payout-runs',
    functionId: 'CreatePayoutRun',
    authorized: true,
    scope: 'payouts:write',
  }),
  route({
    method: 'POST',
    path: '/v1/payments/{payment_id}/refunds',
    functionId: 'CreateRefund',
    authorized: true,
    scope: 'refunds:write',
  }),
  route({
    method: 'GET',
    path: '/v1/refunds/{refund_id}',
    functionId: 'GetRefund',
    authorized: true,
    scope: 'payments:read',
  }),
  route({ method: 'GET', path: '/v1/disputes', functionId: 'ListDisputes', authorized: true, scope: 'payments:read' }),
  route({
    method: 'GET',
    path: '/v1/disputes/{dispute_id}',
    functionId: 'GetDispute',
    authorized: true,
    scope: 'payments:read',
  }),
  route({
    method: 'GET',
    path: '/v1/payout-runs/{run_id}',
    functionId: 'GetPayoutRun',
    authorized: true,
    scope: 'payouts:read',
  }),
  route({
    method: 'POST',
    path: '/v1/reconciliation/runs',
    functionId: 'CreateReconciliationRun',
    authorized: true,
    scope: 'reconciliation:write',
  }),
  route({
    method: 'GET',
    path: '/v1/reconciliation/runs/{run_id}',
    functionId: 'GetReconciliationRun',
    authorized: true,
    scope: 'reconciliation:read',
  }),
  // Answers text/html: the Lambda proxy integration passes the handler's body and Content-Type through.
  route({
    method: 'GET',
    path: '/v1/reconciliation/runs/{run_id}/report.html',
    functionId: 'GetReconciliationReport',
    authorized: true,
    scope: 'reconciliation:read',
  }),
  route({
    method: 'GET',
    path: '/v1/reconciliation/runs',
    functionId: 'ListReconciliationRuns',
    authorized: true,
    scope: 'reconciliation:read',
  }),
  route({
    method: 'GET',
    path: '/v1/reconciliation/mismatches',
    functionId: 'ListReconciliationMismatches',
    authorized: true,
    scope: 'reconciliation:read',
  }),
  route({
    method: 'POST',
    path: '/v1/reconciliation/mismatches/{mismatch_id}/resolve',
    functionId: 'ResolveReconciliationMismatch',
    authorized: true,
    scope: 'reconciliation:write',
  }),
];

interface ScheduleBase {
  functionId: FunctionId;
  /**
   * Locally, this variable (`*_INTERVAL_SECONDS`, read by `loadLocalStackConfig`) replaces the schedule by a fixed
   * interval in seconds, e.g. to run the janitor every second in tests.
   */
  localIntervalEnvVar?: string;
}

/** A function run on a schedule: every `rate` minutes, or at the times of `cron` (EventBridge cron fields, UTC). */
export type ScheduleSpec = ScheduleBase & ({ rate: number; cron?: never } | { cron: CronFields; rate?: never });

export const schedules: ScheduleSpec[] = [
  { functionId: 'Janitor', rate: 5, localIntervalEnvVar: 'JANITOR_INTERVAL_SECONDS' },
  { functionId: 'PayoutJanitor', rate: 5, localIntervalEnvVar: 'PAYOUT_JANITOR_INTERVAL_SECONDS' },
  { functionId: 'RefundJanitor', rate: 5, localIntervalEnvVar: 'REFUND_JANITOR_INTERVAL_SECONDS' },
  // Daily at 06:00 UTC: the day's run pays what became available overnight.
  {
    functionId: 'PayoutRunScheduled',
    cron: { minute: '0', hour: '6' },
    localIntervalEnvVar: 'PAYOUT_RUN_INTERVAL_SECONDS',
  },
  // Daily at 04:00 UTC: the reconciliation of the PSP's settlement file, before the payout run.
  {
    functionId: 'ReconciliationScheduled',
    cron: { minute: '0', hour: '4' },
    localIntervalEnvVar: 'RECONCILIATION_INTERVAL_SECONDS',
  },
];

export interface FailedExecutionsQueueSpec {
  /** CDK logical id of the queue; locally the queue is named after it (kebab-case). */
  id: string;
  /** Environment variable that carries its URL to operator tooling (e.g. the replay command). */
  envVar: string;
}

export interface StateMachineSpec<Fn extends string = FunctionId> {
  id: string;
  /** ASL file, relative to the repository root: the single source of the workflow. */
  file: string;
  /** `${Variable}` in the ASL file -> the function whose ARN replaces it. */
  substitutions: Record<string, Fn>;
  /** Environment variable that carries the state machine ARN to the functions that start it. */
  envVar: string;
  /** Where its failed, timed-out and aborted executions are sent (EventBridge on AWS), for investigation and replay. */
  failedExecutionsQueue: FailedExecutionsQueueSpec;
}

/**
 * The names of the state machines. Declared apart from `stateMachines` (not `keyof typeof stateMachines`): the
 * functions name state machines and the machines' substitutions name functions, a type cycle TypeScript refuses.
 */
export type StateMachineName = 'payIn' | 'payOut' | 'refund' | 'reconciliation';

export const stateMachines: Record<StateMachineName, StateMachineSpec> = {
  payIn: {
    id: 'PayIn',
    file: 'state-machines/pay-in.asl.json',
    substitutions: {
      RiskCheckFunctionArn: 'RiskCheck',
      ChargeFunctionArn: 'Charge',
      CreditWalletFunctionArn: 'CreditWallet',
      AppendLedgerFunctionArn: 'AppendLedger',
      FinalizeFunctionArn: 'Finalize',
      RecordFailureFunctionArn: 'RecordFailure',
      AwaitPspFunctionArn: 'AwaitPsp',
      CancelPendingFunctionArn: 'CancelPending',
    },
    envVar: 'PAYIN_STATE_MACHINE_ARN',
    failedExecutionsQueue: { id: 'FailedPayments', envVar: 'FAILED_PAYMENTS_QUEUE_URL' },
  },
  payOut: {
    id: 'PayOut',
    file: 'state-machines/pay-out.asl.json',
    substitutions: {
      TransferFunctionArn: 'Transfer',
      SendPayoutFunctionArn: 'SendPayout',
      AwaitPayoutFunctionArn: 'AwaitPayout',
      SettlePayoutFunctionArn: 'SettlePayout',
    },
    envVar: 'PAYOUT_STATE_MACHINE_ARN',
    failedExecutionsQueue: { id: 'FailedPayouts', envVar: 'FAILED_PAYOUTS_QUEUE_URL' },
  },
  refund: {
    id: 'Refund',
    file: 'state-machines/refund.asl.json',
    substitutions: {
      DebitAndBookFunctionArn: 'DebitAndBook',
      RefundAtPspFunctionArn: 'RefundAtPsp',
      AwaitRefundFunctionArn: 'AwaitRefund',
      SettleRefundFunctionArn: 'SettleRefund',
    },
    envVar: 'REFUND_STATE_MACHINE_ARN',
    failedExecutionsQueue: { id: 'FailedRefunds', envVar: 'FAILED_REFUNDS_QUEUE_URL' },
  },
  reconciliation: {
    id: 'Reconciliation',
    file: 'state-machines/reconciliation.asl.json',
    substitutions: {
      RequestReportFunctionArn: 'RequestReport',
      CheckReportFunctionArn: 'CheckReport',
      SplitFileFunctionArn: 'SplitFile',
      MatchShardFunctionArn: 'MatchShard',
      FinishRunFunctionArn: 'FinishRun',
      FailRunFunctionArn: 'FailRun',
    },
    envVar: 'RECONCILIATION_STATE_MACHINE_ARN',
    failedExecutionsQueue: { id: 'FailedReconciliations', envVar: 'FAILED_RECONCILIATIONS_QUEUE_URL' },
  },
};

/**
 * The CloudWatch namespace of the metrics the functions publish (Powertools Metrics, EMF): every function gets it
 * as POWERTOOLS_METRICS_NAMESPACE. Powertools adds the dimension `service` (POWERTOOLS_SERVICE_NAME).
 */
export const METRICS_NAMESPACE = 'Payments';
/** The Powertools service name of every function (POWERTOOLS_SERVICE_NAME): the `service` dimension of its metrics. */
export const SERVICE_NAME = 'payments';

/**
 * An alarm on a metric a function publishes (namespace `METRICS_NAMESPACE`, dimension `service` = `SERVICE_NAME`):
 * it alarms when the metric's maximum over a period is at least the threshold, and notifies the alarm topic.
 */
export interface MetricAlarmSpec {
  /** CDK logical id of the alarm. */
  id: string;
  /** The function that publishes the metric. */
  functionId: string;
  metricName: string;
  description: string;
  threshold: number;
  periodSeconds: number;
}

export const metricAlarms: MetricAlarmSpec[] = [
  {
    id: 'OpenManualMismatchesAlarm',
    functionId: 'FinishRun',
    metricName: 'OpenManualMismatches',
    description:
      'Reconciliation: mismatches wait for finance (the ReconciliationFinance queue, GET /v1/reconciliation/mismatches)',
    threshold: 1,
    periodSeconds: 24 * 3600,
  },
  {
    id: 'OpenUnclassifiableMismatchesAlarm',
    functionId: 'FinishRun',
    metricName: 'OpenUnclassifiableMismatches',
    description:
      'Reconciliation: mismatches no rule classifies wait for an investigation (the ReconciliationInvestigation queue)',
    threshold: 1,
    periodSeconds: 24 * 3600,
  },
];

/**
 * A whole catalog, with plain string names: what the CDK constructs take (this one by default, `catalog`; the
 * tests pass fixtures with more workflows, schedules and buckets).
 */
export interface Catalog {
  functions: Record<string, FunctionSpec<string, string>>;
  queues: Record<string, QueueSpec>;
  workQueues: Record<string, WorkQueueSpec>;
  buckets: Record<string, BucketSpec>;
  stateMachines: Record<string, StateMachineSpec<string>>;
  schedules: (Omit<ScheduleBase, 'functionId'> & { functionId: string } & (
      | { rate: number; cron?: never }
      | { cron: CronFields; rate?: never }
    ))[];
  apiRoutes: RouteSpec[];
  metricAlarms: MetricAlarmSpec[];
}

export const catalog: Catalog = {
  functions,
  queues,
  workQueues,
  buckets,
  stateMachines,
  schedules,
  apiRoutes,
  metricAlarms,
};
