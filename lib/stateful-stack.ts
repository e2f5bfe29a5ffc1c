import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  type ITable,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import type { IKey, Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { type BucketSpec, catalog } from '../lambdas/catalog';
import { type TableName, type TableSchema, tableSchemas } from '../src/core/table-schemas';
import { customerManagedKey, DATA_KEY_ALIAS } from './encryption';
import { acknowledge } from './nag';

export interface PaymentsStatefulStackProps extends StackProps {
  /** The catalog's buckets (`buckets` of `lambdas/catalog.ts` by default). */
  buckets?: Record<string, BucketSpec>;
}

/**
 * Everything that holds data and must survive a redeploy or a deleted stack: the DynamoDB tables
 * (one per schema in `src/core/table-schemas.ts`), the S3 buckets of the catalog (with a bucket for their
 * server access logs), the PSP's two keys (the payments key of the pay-in, the restricted Connect key of the
 * pay-out) and the PSP's webhook signing secret. All retained.
 *
 * Encryption: the tables (payments, ledger, wallets... the money) and the catalog's buckets with one
 * customer-managed key (`dataKey`, rotated yearly, retained). The functions that use a table or bucket get the
 * key's use with their grants (kms:Decrypt to read; Encrypt, ReEncrypt*, GenerateDataKey* to write), in their
 * own role's policy in the stateless stack: the key's policy names no stateless resource, so no reference goes
 * from this stack to the stateless one (no cycle). The key is for the data here only: the queues and the alarm
 * topic have the stateless stack's own key, whose policy lets EventBridge and CloudWatch use it. Exceptions, on
 * purpose: the secrets keep Secrets Manager's AWS-managed key (see below), and the server access log bucket is
 * SSE-S3 (see createAccessLogsBucket).
 */
export class PaymentsStatefulStack extends Stack {
  /** The customer-managed key of the tables and the catalog's buckets. */
  readonly dataKey: Key;
  readonly tables: Record<TableName, ITable>;
  /** The catalog's buckets, by name. */
  readonly buckets: Record<string, IBucket>;
  /** Where the buckets' server access logs go; only when the catalog has buckets. */
  readonly accessLogsBucket?: Bucket;
  /**
   * The PSP (Stripe) secret key of payments: the pay-in's charges and the refunds. Its value is put by operators out
   * of band, never by code.
   */
  readonly pspSecret: ISecret;
  /**
   * The PSP's (Stripe) restricted key for Connect, the pay-out's: the only key that may move money out (accounts,
   * account links, transfers, payouts). Its value is put by operators out of band, never by code.
   */
  readonly pspConnectSecret: ISecret;
  /** The PSP's webhook signing secret (Stripe `whsec_...`). Its value is put by operators out of band, never by code. */
  readonly webhookSecret: ISecret;

  constructor(scope: Construct, id: string, props: PaymentsStatefulStackProps = {}) {
    const { buckets: bucketSpecs = catalog.buckets, ...stackProps } = props;
    super(scope, id, { terminationProtection: true, ...stackProps });

    this.dataKey = customerManagedKey(
      this,
      'DataKey',
      DATA_KEY_ALIAS,
      'Marketplace payments: encrypts the DynamoDB tables (payments, ledger, wallets...) and the S3 buckets',
    );

    const tables: Partial<Record<TableName, ITable>> = {};
    for (const [name, schema] of Object.entries(tableSchemas) as [TableName, TableSchema][]) {
      tables[name] = createTable(this, schema, this.dataKey);
    }
    this.tables = tables as Record<TableName, ITable>;

    const bucketEntries = Object.entries(bucketSpecs);
    this.buckets = {};
    if (bucketEntries.length > 0) {
      const accessLogs = createAccessLogsBucket(this);
      this.accessLogsBucket = accessLogs;
      for (const [name, spec] of bucketEntries) this.buckets[name] = createBucket(this, spec, accessLogs, this.dataKey);
    }

    // The secrets keep the AWS-managed key of Secrets Manager (aws/secretsmanager): it is used only through Secrets
    // Manager by this account's principals, and what decides who reads a secret is secretsmanager:GetSecretValue,
    // granted only to the functions whose catalog entry asks for the secret (`psp`, `pspConnect`, `webhookSecret`).
    // A customer-managed key would add a second grant to the same roles and no narrower access.

    const pspSecret = new Secret(this, 'PspSecretKey', {
      description:
        'PSP (Stripe) secret key (payments), read only by the functions with catalog psp: the pay-in (charges, ' +
        'cancellations) and the refunds. Set the value out of band ' +
        '(aws secretsmanager put-secret-value); the generated initial value is a placeholder.',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(pspSecret, {
      id: 'AwsSolutions-SMG4',
      reason:
        'The value is a key issued by the PSP (Stripe): it can only be rolled in the PSP dashboard, so a ' +
        'rotation Lambda cannot create a new one. Operators roll it there and put the new value in this secret.',
    });
    this.pspSecret = pspSecret;

    // A secret of its own, not a second value in the payments key's secret: a function reads a secret whole, so the
    // pay-in's and the refunds' functions (Charge, CancelPending, RefundAtPsp, their janitors...) must not be able to
    // read the key that pays out.
    const pspConnectSecret = new Secret(this, 'PspConnectSecretKey', {
      description:
        "The PSP's (Stripe) restricted key for Connect, read only by the pay-out functions (catalog pspConnect): " +
        'write accounts, account links, transfers and payouts; read payments and balances. Set the value out of ' +
        'band (aws secretsmanager put-secret-value); the generated initial value is a placeholder.',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(pspConnectSecret, {
      id: 'AwsSolutions-SMG4',
      reason:
        'The value is a restricted key issued by the PSP (Stripe): it can only be created and rolled in the PSP ' +
        'dashboard, so a rotation Lambda cannot create a new one. Operators roll it there and put the new value in ' +
        'this secret.',
    });
    this.pspConnectSecret = pspConnectSecret;

    const webhookSecret = new Secret(this, 'PspWebhookSecret', {
      description:
        "The PSP's (Stripe) webhook signing secret (whsec_...), with which the webhook function verifies the " +
        'Stripe-Signature of each call. Set the value out of band (aws secretsmanager put-secret-value); the ' +
        'generated initial value is a placeholder, so every webhook is refused until it is set.',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(webhookSecret, {
      id: 'AwsSolutions-SMG4',
      reason:
        "The value is the signing secret of the PSP's (Stripe) webhook endpoint: only the PSP can roll it (in its " +
        'dashboard, with an overlap period), so a rotation Lambda cannot create a new one. Operators roll it there ' +
        'and put the new value in this secret.',
    });
    this.webhookSecret = webhookSecret;
  }
}

function createTable(scope: Construct, schema: TableSchema, key: IKey): Table {
  const table = new Table(scope, schema.id, {
    partitionKey: { name: schema.partitionKey, type: AttributeType.STRING },
    sortKey: schema.sortKey ? { name: schema.sortKey, type: AttributeType.STRING } : undefined,
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: key,
    timeToLiveAttribute: schema.timeToLiveAttribute,
    deletionProtection: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  for (const index of schema.globalSecondaryIndexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
      sortKey: index.sortKey ? { name: index.sortKey, type: AttributeType.STRING } : undefined,
      ...(index.include
        ? { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...index.include] }
        : { projectionType: ProjectionType.ALL }),
    });
  }
  return table;
}

/** What every bucket gets: TLS only, no public access, versioned, retained. */
const SECURE_BUCKET = {
  enforceSSL: true,
  blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
  versioned: true,
  removalPolicy: RemovalPolicy.RETAIN,
} as const;

/**
 * A bucket of the catalog, encrypted with the customer-managed key (S3 Bucket Keys on, so S3 asks KMS for a bucket
 * data key rather than one per object), its server access logs in `accessLogs` under its id.
 */
function createBucket(scope: Construct, spec: BucketSpec, accessLogs: Bucket, key: IKey): Bucket {
  return new Bucket(scope, spec.id, {
    ...SECURE_BUCKET,
    encryption: BucketEncryption.KMS,
    encryptionKey: key,
    bucketKeyEnabled: true,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: `${spec.id}/`,
  });
}

/**
 * The target of the buckets' server access logs (S3 writes them, through the bucket policy CDK adds). SSE-S3, not
 * the data key: the logs are request metadata (no object content), and a KMS-encrypted log target needs the key
 * policy to let the S3 log delivery service (logging.s3.amazonaws.com) use the key, which CDK grants without any
 * condition: that is not a grant to put on the key of the money tables.
 */
function createAccessLogsBucket(scope: Construct): Bucket {
  const bucket = new Bucket(scope, 'AccessLogs', {
    ...SECURE_BUCKET,
    encryption: BucketEncryption.S3_MANAGED,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
  });
  acknowledge(bucket, {
    id: 'AwsSolutions-S1',
    reason:
      "This is the server access log bucket of the catalog's buckets: logging its own accesses would write a log " +
      'object for every log object S3 delivers, into itself, without end.',
  });
  return bucket;
}
