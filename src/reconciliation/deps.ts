/**
 * The composition root of reconciliation: the real tables, the PSP's reports (payments key), the settlement
 * bucket, the work queues and the workflow starter, built on first use. Our other capabilities' records and recovery
 * actions, the ledger and wallets, and the mismatch metrics come from the caller (a flow never imports another flow:
 * the handlers, which may, pass them in; each step wires only what it uses); functions that do not match shards or
 * finish a run (the API, the report and file steps) need none of them, and do not bundle them.
 */
import { dynamo, runtimeConfig, s3, sfn, sqs } from '../core/clients';
import { bucketName, ConfigError, tableName } from '../core/config';
import { lazy } from '../core/lazy';
import { provided } from '../core/provided';
import { S3SettlementArchive, SfnReconciliationWorkflow, SqsWorkQueues } from './adapters';
import type { OurRecords, ReconciliationDeps, ReconciliationMetrics, RecoveryActions, SettlementPsp } from './ports';
import { ReconciliationTable } from './reconciliation-table';

const required = (value: string | undefined, name: string) => {
  if (!value) throw new ConfigError(`${name} is not set`);
  return value;
};

const notWired = (what: string) => () => {
  throw new ConfigError(`${what} is not wired in this function`);
};

/** The PSP's reports, provided by src/reconciliation/with-psp.ts to the functions that read them. */
export const reconciliationPsp = provided<SettlementPsp>("the PSP's reports", 'src/reconciliation/with-psp.ts');

let deps: ReconciliationDeps | undefined;

/** What the caller wires in (see above); what it leaves out fails with a ConfigError when used. */
export interface WiredByCaller {
  records?: () => OurRecords;
  recovery?: () => RecoveryActions;
  ledger?: () => ReconciliationDeps['ledger'];
  wallets?: () => ReconciliationDeps['wallets'];
  /** The open-mismatch metrics: only the run's last step publishes them (src/reconciliation/metrics.ts). */
  metrics?: () => ReconciliationMetrics;
}

export function reconciliationDeps({
  records = notWired('our records'),
  recovery = notWired('the recovery actions'),
  ledger = notWired('the ledger'),
  wallets = notWired("the wallets' balances"),
  metrics = notWired('the mismatch metrics'),
}: WiredByCaller = {}): ReconciliationDeps {
  deps ??= lazy<ReconciliationDeps>({
    store: () => new ReconciliationTable(dynamo(), tableName(runtimeConfig(), 'reconciliation')),
    psp: () => reconciliationPsp.get(),
    archive: () => new S3SettlementArchive(s3, () => bucketName(runtimeConfig(), 'SETTLEMENT_BUCKET')),
    records,
    recovery,
    ledger,
    wallets,
    queues: () =>
      new SqsWorkQueues(sqs, () => ({
        manual: required(runtimeConfig().reconciliationFinanceQueueUrl, 'RECONCILIATION_FINANCE_QUEUE_URL'),
        unclassifiable: required(
          runtimeConfig().reconciliationInvestigationQueueUrl,
          'RECONCILIATION_INVESTIGATION_QUEUE_URL',
        ),
      })),
    metrics,
    workflow: () =>
      new SfnReconciliationWorkflow(sfn, () =>
        required(runtimeConfig().reconciliationStateMachineArn, 'RECONCILIATION_STATE_MACHINE_ARN'),
      ),
    settings: () => runtimeConfig().reconciliation,
    now: () => () => new Date(),
  });
  return deps;
}
