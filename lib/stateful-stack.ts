import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  type ITable,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { type TableName, type TableSchema, tableSchemas } from '../src/core/table-schemas';
import { acknowledge } from './nag';

/**
 * Everything that holds data and must survive a redeploy or a deleted stack: the DynamoDB tables
 * (one per schema in `src/core/table-schemas.ts`), the PSP secret key and the PSP's webhook
 * signing secret. All retained.
 */
export class PaymentsStatefulStack extends Stack {
  readonly tables: Record<TableName, ITable>;
  /** The PSP (Stripe) secret key. Its value is put by operators out of band, never by code. */
  readonly pspSecret: ISecret;
  /** The PSP's webhook signing secret (Stripe `whsec_...`). Its value is put by operators out of band, never by code. */
  readonly webhookSecret: ISecret;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, { terminationProtection: true, ...props });

    const tables: Partial<Record<TableName, ITable>> = {};
    for (const [name, schema] of Object.entries(tableSchemas) as [TableName, TableSchema][]) {
      tables[name] = createTable(this, schema);
    }
    this.tables = tables as Record<TableName, ITable>;

    const pspSecret = new Secret(this, 'PspSecretKey', {
      description:
        'PSP (Stripe) secret key used by the pay-in Charge step. Set the value out of band ' +
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

function createTable(scope: Construct, schema: TableSchema): Table {
  const table = new Table(scope, schema.id, {
    partitionKey: { name: schema.partitionKey, type: AttributeType.STRING },
    sortKey: schema.sortKey ? { name: schema.sortKey, type: AttributeType.STRING } : undefined,
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: TableEncryption.AWS_MANAGED,
    timeToLiveAttribute: schema.timeToLiveAttribute,
    deletionProtection: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  for (const index of schema.globalSecondaryIndexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
      sortKey: index.sortKey ? { name: index.sortKey, type: AttributeType.STRING } : undefined,
      projectionType: ProjectionType.ALL,
    });
  }
  return table;
}
