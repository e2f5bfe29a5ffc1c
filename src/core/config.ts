/**
 * The one configuration module: nothing else reads `process.env` (the local stack's launcher aside, which sets
 * the functions' environment). Runtime settings (read by the functions, on AWS and locally) and local-stack
 * settings (ports, data folder, dev secrets) all come from environment variables; `.env.example` documents every
 * one of them with its default. An invalid value is refused when the configuration is loaded (a function's cold
 * start), with the variable's name and what is wrong; it never falls back silently.
 */
import { MoneyError, toMinorUnits } from './money';
import { type TableName, tableSchemas } from './table-schemas';

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer in ${min}..${max}, got '${raw}'`);
  }
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got '${raw}'`);
}

/** Parses `USD:10000.00,JPY:1000000` into per-currency amounts in minor units; names the variable on error. */
export function parseAmountLimits(raw: string | undefined, name = 'RISK_MAX_AMOUNTS'): Record<string, number> {
  if (!raw) return {};
  return Object.fromEntries(
    raw.split(',').map((pair) => {
      const [currency = '', amount = ''] = pair.trim().split(':');
      try {
        return [currency, toMinorUnits(amount, currency)];
      } catch (error) {
        if (error instanceof MoneyError) throw new ConfigError(`${name} '${pair}': ${error.message}`);
        throw error;
      }
    }),
  );
}

/** The settings of the default risk provider (a rules engine). */
export interface RiskSettings {
  /** Checkouts above this total (minor units, per currency) are rejected. */
  maxAmountMinor: Record<string, number>;
  /** Checkouts above this total (minor units, per currency) are held for review. */
  reviewAboveMinor: Record<string, number>;
  /** Buyer countries (ISO 3166-1 alpha-2) that are refused. */
  blockedCountries: string[];
  /** More payments than this by one buyer within an hour are held for review (0: no limit). */
  maxPaymentsPerBuyerPerHour: number;
}

export function loadRiskSettings(env: Env): RiskSettings {
  const blockedCountries = (env.RISK_BLOCKED_COUNTRIES ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const badCountry = blockedCountries.find((c) => !/^[A-Z]{2}$/.test(c));
  if (badCountry !== undefined) {
    throw new ConfigError(`RISK_BLOCKED_COUNTRIES must list ISO 3166-1 alpha-2 codes such as KP, got '${badCountry}'`);
  }
  return {
    maxAmountMinor: parseAmountLimits(env.RISK_MAX_AMOUNTS, 'RISK_MAX_AMOUNTS'),
    reviewAboveMinor: parseAmountLimits(env.RISK_REVIEW_ABOVE, 'RISK_REVIEW_ABOVE'),
    blockedCountries,
    maxPaymentsPerBuyerPerHour: integer(env, 'RISK_MAX_PAYMENTS_PER_BUYER_PER_HOUR', 0, 0, 1_000_000),
  };
}

/** Timing rules of the pay-in. */
export interface PayInSettings {
  /** How long a payment may stay pending at the PSP (3-D Secure, hosted page) before it is stopped. */
  pendingDeadlineSeconds: number;
  /** How long the PSP's search may lag behind its writes (Stripe documents about a minute). */
  pspSearchLagSeconds: number;
}

export function loadPayInSettings(env: Env): PayInSettings {
  return {
    pendingDeadlineSeconds: integer(env, 'PENDING_DEADLINE_SECONDS', 3600, 10, 86_400),
    pspSearchLagSeconds: integer(env, 'PSP_SEARCH_LAG_SECONDS', 120, 0, 86_400),
  };
}

/** The pay-out's settings. */
export interface PayOutSettings {
  /** The smallest payout a run makes, per currency (minor units), e.g. PAYOUT_MINIMUMS=EUR:10.00,USD:10.00. */
  minimumsMinor: Record<string, number>;
  /** Where the PSP's hosted onboarding page sends a seller back (`{seller_account}` is replaced). */
  onboardingReturnUrl: string;
  /** Where it sends a seller whose link expired, to get a fresh one. */
  onboardingRefreshUrl: string;
}

export function loadPayOutSettings(env: Env): PayOutSettings {
  return {
    minimumsMinor: parseAmountLimits(env.PAYOUT_MINIMUMS ?? 'EUR:10.00,USD:10.00,GBP:10.00', 'PAYOUT_MINIMUMS'),
    onboardingReturnUrl: env.ONBOARDING_RETURN_URL ?? 'https://marketplace.example/sellers/{seller_account}/onboarded',
    onboardingRefreshUrl:
      env.ONBOARDING_REFRESH_URL ?? 'https://marketplace.example/sellers/{seller_account}/onboarding',
  };
}

export interface ReconciliationSettings {
  /** Seconds between two polls of the PSP's report run. */
  reportPollSeconds: number;
  /** Polls before a report that never succeeds fails the run (bounded, like every wait). */
  reportMaxPolls: number;
  /** A RUNNING run whose lock is older than this is taken over by a new run of its date (the old one died). */
  staleRunSeconds: number;
  /** Tests: how long to wait before looking again at a wallet that differs from its payable account (2 s). */
  recheckMs?: number;
}

export function loadReconciliationSettings(env: Env): ReconciliationSettings {
  return {
    reportPollSeconds: integer(env, 'RECONCILIATION_REPORT_POLL_SECONDS', 10, 0, 3600),
    reportMaxPolls: integer(env, 'RECONCILIATION_REPORT_MAX_POLLS', 180, 1, 10_000),
    staleRunSeconds: integer(env, 'RECONCILIATION_STALE_RUN_SECONDS', 4 * 3600, 60, 7 * 24 * 3600),
  };
}

/**
 * The environment variables that name the janitors making reconciliation's automatic fixes, by flow: the catalog's
 * `nameEnvVar` of each janitor, read here and named in the invoker's errors (one list).
 */
export const FIXING_JANITOR_ENV = {
  payment: 'PAYIN_JANITOR_FUNCTION_NAME',
  refund: 'REFUND_JANITOR_FUNCTION_NAME',
  payout: 'PAYOUT_JANITOR_FUNCTION_NAME',
} as const;
export type FixingJanitor = keyof typeof FIXING_JANITOR_ENV;

export interface RuntimeConfig {
  region: string;
  tables: Record<TableName, string>;
  payInStateMachineArn: string | undefined;
  payOutStateMachineArn: string | undefined;
  refundStateMachineArn: string | undefined;
  reconciliationStateMachineArn: string | undefined;
  /** Work lists of reconciliation: manual mismatches (finance) and unclassifiable ones (investigation). */
  reconciliationFinanceQueueUrl: string | undefined;
  reconciliationInvestigationQueueUrl: string | undefined;
  /** Queue of a payout run's pages and sellers (its workers consume it). */
  payoutRunQueueUrl: string | undefined;
  /** Queues of verified PSP webhook events, one per flow (src/psp/event-flows.ts): pay-in, refunds, pay-out. */
  pspWebhookQueueUrl: string | undefined;
  refundWebhookQueueUrl: string | undefined;
  connectWebhookQueueUrl: string | undefined;
  /** Where failed pay-in executions are dead-lettered (read by the replay command). */
  failedPaymentsQueueUrl: string | undefined;
  /**
   * The janitors that make reconciliation's automatic fixes with their flow's own recovery code (MatchShard invokes
   * them): the pay-in's, the refunds' (refunds and disputes), the pay-out's. Their names (the catalog's `nameEnvVar`).
   */
  fixingJanitors: Partial<Record<FixingJanitor, string>>;
  /** Endpoint overrides: set by the local stack, unset on AWS. */
  endpoints: { dynamodb?: string; sfn?: string; sqs?: string; s3?: string; lambda?: string };
  /**
   * Bucket names, by the environment variable of the catalog's bucket (`envVar`, a name ending in `_BUCKET`, e.g.
   * REPORTS_BUCKET): each function gets those of the buckets it uses. See `bucketName`.
   */
  buckets: Record<string, string | undefined>;
  psp: {
    /** The PSP secret key itself (local stack), or... */
    secretKey?: string;
    /** ...the ARN of the Secrets Manager secret that holds it (AWS). */
    secretArn?: string;
    /** The Connect key of the pay-out (transfers, payouts, accounts): itself (local stack), or its secret's ARN (AWS). */
    connectSecretKey?: string;
    connectSecretArn?: string;
    /** The webhook signing secret (local stack), or the ARN of the secret that holds it (AWS). */
    webhookSecret?: string;
    webhookSecretArn?: string;
    /** Where the PSP API is, when it is not Stripe's own host (the local simulator). */
    host?: string;
    port?: number;
    protocol?: 'http' | 'https';
  };
  platformFeeBps: number;
  /** The janitor touches only payments unchanged for this long. */
  janitorStaleAfterSeconds: number;
  risk: RiskSettings;
  payIn: PayInSettings;
  payOut: PayOutSettings;
  reconciliation: ReconciliationSettings;
}

export function loadRuntimeConfig(env: Env = process.env): RuntimeConfig {
  const tables = Object.fromEntries(
    Object.entries(tableSchemas).map(([name, schema]) => [name, env[schema.envVar] ?? '']),
  ) as Record<TableName, string>;
  const protocol = env.PSP_API_PROTOCOL;
  if (protocol !== undefined && protocol !== 'http' && protocol !== 'https') {
    throw new ConfigError(`PSP_API_PROTOCOL must be http or https, got '${protocol}'`);
  }
  return {
    region: env.AWS_REGION ?? 'us-east-1',
    tables,
    payInStateMachineArn: env.PAYIN_STATE_MACHINE_ARN,
    payOutStateMachineArn: env.PAYOUT_STATE_MACHINE_ARN,
    refundStateMachineArn: env.REFUND_STATE_MACHINE_ARN,
    reconciliationStateMachineArn: env.RECONCILIATION_STATE_MACHINE_ARN,
    reconciliationFinanceQueueUrl: env.RECONCILIATION_FINANCE_QUEUE_URL,
    reconciliationInvestigationQueueUrl: env.RECONCILIATION_INVESTIGATION_QUEUE_URL,
    payoutRunQueueUrl: env.PAYOUT_RUN_QUEUE_URL,
    pspWebhookQueueUrl: env.PSP_WEBHOOK_QUEUE_URL,
    refundWebhookQueueUrl: env.REFUND_WEBHOOK_QUEUE_URL,
    connectWebhookQueueUrl: env.CONNECT_WEBHOOK_QUEUE_URL,
    failedPaymentsQueueUrl: env.FAILED_PAYMENTS_QUEUE_URL,
    fixingJanitors: {
      payment: env[FIXING_JANITOR_ENV.payment],
      refund: env[FIXING_JANITOR_ENV.refund],
      payout: env[FIXING_JANITOR_ENV.payout],
    },
    endpoints: {
      dynamodb: env.DYNAMODB_ENDPOINT,
      sfn: env.SFN_ENDPOINT,
      sqs: env.SQS_ENDPOINT,
      s3: env.S3_ENDPOINT,
      lambda: env.LAMBDA_ENDPOINT,
    },
    buckets: Object.fromEntries(Object.entries(env).filter(([name, value]) => BUCKET_ENV_VAR.test(name) && value)),
    psp: {
      secretKey: env.PSP_SECRET_KEY,
      secretArn: env.PSP_SECRET_ARN,
      connectSecretKey: env.PSP_CONNECT_SECRET_KEY,
      connectSecretArn: env.PSP_CONNECT_SECRET_ARN,
      webhookSecret: env.PSP_WEBHOOK_SECRET,
      webhookSecretArn: env.PSP_WEBHOOK_SECRET_ARN,
      host: env.PSP_API_HOST,
      port: env.PSP_API_PORT ? integer(env, 'PSP_API_PORT', 443, 1, 65535) : undefined,
      protocol,
    },
    platformFeeBps: integer(env, 'PLATFORM_FEE_BPS', 0, 0, 10_000),
    janitorStaleAfterSeconds: integer(env, 'JANITOR_STALE_AFTER_SECONDS', 300, 0, 7 * 24 * 3600),
    risk: loadRiskSettings(env),
    payIn: loadPayInSettings(env),
    payOut: loadPayOutSettings(env),
    reconciliation: loadReconciliationSettings(env),
  };
}

const BUCKET_ENV_VAR = /^[A-Z][A-Z0-9_]*_BUCKET$/;

/** Names a bucket for the functions, by its catalog envVar; fails loudly when that variable is missing. */
export function bucketName(config: RuntimeConfig, envVar: string): string {
  const name = config.buckets[envVar];
  if (!name) throw new ConfigError(`${envVar} is not set`);
  return name;
}

/**
 * Where the local runtime, which runs every function in one process with every table's name set, checks that a
 * function names only the tables its catalog entry grants (as its environment and role on AWS allow): a global
 * hook, because each function's bundle has its own copy of this module. Unset on AWS.
 */
export const LOCAL_TABLE_GUARD = Symbol.for('payments.local.table-guard');

/** Names a table for the functions; fails loudly when its environment variable is missing. */
export function tableName(config: RuntimeConfig, table: TableName): string {
  const guard = (globalThis as { [LOCAL_TABLE_GUARD]?: (table: TableName) => void })[LOCAL_TABLE_GUARD];
  guard?.(table);
  const name = config.tables[table];
  if (!name) throw new ConfigError(`${tableSchemas[table].envVar} is not set`);
  return name;
}

export interface LocalStackConfig {
  host: string;
  ports: { api: number; sfn: number; dynamodb: number; sqs: number; psp: number };
  dataDir: string;
  /** Keep DynamoDB Local and fauxqs in memory (tests) instead of under dataDir. */
  inMemory: boolean;
  /** The benchmark's DynamoDB meter between the functions and DynamoDB Local (local/dynamodb-meter.ts). */
  dynamodbMeter: boolean;
  pspSecretKey: string;
  pspWebhookSecret: string;
  /** A fixed dev API key; when unset one is generated on first start and kept under dataDir. */
  devApiKey?: string;
  platformFeeBps: number;
  /** How often the local scheduler runs the janitor. */
  janitorIntervalSeconds: number;
  /**
   * Local schedule overrides, in seconds, by variable name: every `*_INTERVAL_SECONDS` variable (a catalog schedule
   * names its own in `localIntervalEnvVar`); JANITOR_INTERVAL_SECONDS always, with its default.
   */
  scheduleIntervalSeconds: Record<string, number>;
  /** Use this PSP (e.g. a simulator the tests run) instead of starting one. */
  pspUrl?: string;
  /** Tests only: every Step Functions Retry pause lasts this long instead of its backoff. */
  retryIntervalMs?: number;
}

const INTERVAL_ENV_VAR = /^[A-Z][A-Z0-9_]*_INTERVAL_SECONDS$/;
/** The local schedule overrides that have a default (the janitor's: every minute rather than every 5). */
const INTERVAL_DEFAULTS: Record<string, number> = { JANITOR_INTERVAL_SECONDS: 60 };

function scheduleIntervals(env: Env): Record<string, number> {
  const names = new Set([
    ...Object.keys(INTERVAL_DEFAULTS),
    ...Object.keys(env).filter((name) => INTERVAL_ENV_VAR.test(name) && env[name] !== undefined && env[name] !== ''),
  ]);
  return Object.fromEntries(
    [...names].map((name) => [name, integer(env, name, INTERVAL_DEFAULTS[name] ?? 60, 1, 24 * 3600)]),
  );
}

export function loadLocalStackConfig(env: Env = process.env): LocalStackConfig {
  const scheduleIntervalSeconds = scheduleIntervals(env);
  return {
    host: env.LOCAL_HOST ?? '127.0.0.1',
    ports: {
      api: integer(env, 'API_PORT', 3000, 0, 65535),
      sfn: integer(env, 'SFN_PORT', 8083, 0, 65535),
      dynamodb: integer(env, 'DYNAMODB_PORT', 8000, 0, 65535),
      sqs: integer(env, 'SQS_PORT', 4566, 0, 65535),
      psp: integer(env, 'PSP_PORT', 12111, 0, 65535),
    },
    dataDir: env.LOCAL_DATA_DIR ?? '.local',
    inMemory: flag(env, 'LOCAL_IN_MEMORY', false),
    dynamodbMeter: flag(env, 'LOCAL_DYNAMODB_METER', false),
    pspSecretKey: env.PSP_SECRET_KEY ?? 'sk_test_local_simulator_key',
    pspWebhookSecret: env.PSP_WEBHOOK_SECRET ?? 'whsec_local_simulator_secret',
    devApiKey: env.DEV_API_KEY || undefined,
    platformFeeBps: integer(env, 'PLATFORM_FEE_BPS', 0, 0, 10_000),
    janitorIntervalSeconds: scheduleIntervalSeconds.JANITOR_INTERVAL_SECONDS ?? 60,
    scheduleIntervalSeconds,
    pspUrl: env.PSP_URL || undefined,
    retryIntervalMs: env.LOCAL_SFN_RETRY_INTERVAL_MS
      ? integer(env, 'LOCAL_SFN_RETRY_INTERVAL_MS', 0, 0, 60_000)
      : undefined,
  };
}
