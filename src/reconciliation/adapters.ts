/**
 * Reconciliation's adapters: the settlement archive (S3, streamed uploads), the work queues (SQS), the workflow
 * starter (Step Functions) and the automatic fixes (Lambda: each flow's recovery runs in a function of its own). The
 * open-mismatch metrics are in metrics.ts (only the run's last step bundles Powertools Metrics).
 */
import type { Readable } from 'node:stream';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import { ConfigError } from '../core/config';
import { asRetryable } from '../core/errors';
import type { StoredMismatch } from './domain/run';
import type { ReconciliationWorkflow, RecoveryActions, SettlementArchive, WorkQueues } from './ports';

export class S3SettlementArchive implements SettlementArchive {
  constructor(
    private readonly s3: () => S3Client,
    private readonly bucket: () => string,
  ) {}

  async putStream(key: string, body: Readable, contentType: string): Promise<{ version?: string }> {
    // Multipart, part by part: the file is never held whole.
    const upload = new Upload({
      client: this.s3(),
      params: { Bucket: this.bucket(), Key: key, Body: body, ContentType: contentType },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    });
    try {
      const out = await upload.done();
      return out.VersionId ? { version: out.VersionId } : {};
    } catch (error) {
      throw asRetryable(error);
    }
  }

  async putText(key: string, body: string, contentType: string): Promise<void> {
    await this.s3()
      .send(new PutObjectCommand({ Bucket: this.bucket(), Key: key, Body: body, ContentType: contentType }))
      .catch((error) => {
        throw asRetryable(error);
      });
  }

  async getStream(key: string): Promise<Readable> {
    const out = await this.s3()
      .send(new GetObjectCommand({ Bucket: this.bucket(), Key: key }))
      .catch((error) => {
        throw asRetryable(error);
      });
    if (!out.Body) throw new Error(`settlement archive: ${key} has no body`);
    return out.Body as Readable;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.s3().send(new HeadObjectCommand({ Bucket: this.bucket(), Key: key }));
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if ((error as Error).name === 'NotFound' || status === 404) return false;
      throw asRetryable(error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3()
        .send(new ListObjectsV2Command({ Bucket: this.bucket(), Prefix: prefix, ContinuationToken: token }))
        .catch((error) => {
          throw asRetryable(error);
        });
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }
}

/** The finance queue (manual) and the investigation queue (unclassifiable). */
export class SqsWorkQueues implements WorkQueues {
  constructor(
    private readonly sqs: () => SQSClient,
    private readonly urls: () => { manual: string; unclassifiable: string },
  ) {}

  async send(queue: 'manual' | 'unclassifiable', mismatch: StoredMismatch): Promise<void> {
    const body = {
      mismatch_id: mismatch.mismatch_id,
      date: mismatch.date,
      run_id: mismatch.run_id,
      type: mismatch.type,
      class: mismatch.class,
      detail: mismatch.detail,
      ...(mismatch.balance_transaction_id && { balance_transaction_id: mismatch.balance_transaction_id }),
      ...(mismatch.payment_id && { payment_id: mismatch.payment_id }),
      ...(mismatch.currency && { currency: mismatch.currency }),
      ...(mismatch.psp_amount_minor !== undefined && { psp_amount_minor: mismatch.psp_amount_minor }),
      ...(mismatch.our_amount_minor !== undefined && { our_amount_minor: mismatch.our_amount_minor }),
    };
    await this.sqs()
      .send(new SendMessageCommand({ QueueUrl: this.urls()[queue], MessageBody: JSON.stringify(body) }))
      .catch((error) => {
        throw asRetryable(error);
      });
  }
}

/** One execution per run, named after it. */
export class SfnReconciliationWorkflow implements ReconciliationWorkflow {
  constructor(
    private readonly sfn: () => SFNClient,
    private readonly stateMachineArn: () => string,
  ) {}

  async start(runId: string): Promise<void> {
    try {
      await this.sfn().send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn(),
          name: runId,
          input: JSON.stringify({ run_id: runId }),
        }),
      );
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists') return;
      throw asRetryable(error);
    }
  }
}

/**
 * What reconciliation sends a flow's janitor to have one record fixed now (its second door, beside the schedule's
 * sweep: lambdas/ops/reconciliation-fix.ts), and what the janitor answers: what the fix did, or, when it could not
 * settle the record, its error (answered, not thrown: a fix that did not settle is the run's finding, not the
 * janitor's failure, and its Errors alarm stays the sweep's).
 */
export interface FixRequest {
  reconciliation_fix: { payment_id: string } | { refund_id: string } | { dispute_id: string } | { payout_id: string };
}
export type FixAnswer = { result: string } | { error: { type: string; message: string } };

/** The janitor of each flow, and the environment variable that names it (the catalog's `nameEnvVar`). */
export type FixingJanitor = 'payment' | 'refund' | 'payout';
const JANITOR_NAME_ENV: Record<FixingJanitor, string> = {
  payment: 'PAYIN_JANITOR_FUNCTION_NAME',
  refund: 'REFUND_JANITOR_FUNCTION_NAME',
  payout: 'PAYOUT_JANITOR_FUNCTION_NAME',
};

/** A fix the janitor could not make (what it answered), or the janitor's own crash. */
export class FixFunctionError extends Error {
  constructor(
    readonly functionName: string,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
    this.name = errorType;
  }
}

/**
 * The automatic fixes, each made by the janitor of its flow (Janitor, RefundJanitor, PayoutJanitor: the flows' own
 * recovery code, with their own rights), invoked and awaited: the shard records what the fix said, or that it did
 * not settle. Every fix is idempotent and safe beside another run of itself (the janitors' sweeps, the webhooks and
 * the workflows race on the same records, each write conditional), so a fix that ran but whose answer was lost is
 * safe: the next run of the date asks again. The call is made once (no SDK retry: src/core/clients.ts). The matching
 * function itself neither bundles that code nor holds those rights.
 */
export class LambdaRecoveryActions implements RecoveryActions {
  constructor(
    private readonly lambda: () => LambdaClient,
    private readonly names: () => Partial<Record<FixingJanitor, string>>,
  ) {}

  settlePayment(paymentId: string): Promise<string> {
    return this.invoke('payment', { reconciliation_fix: { payment_id: paymentId } });
  }

  settleRefund(refundId: string): Promise<string> {
    return this.invoke('refund', { reconciliation_fix: { refund_id: refundId } });
  }

  applyDispute(disputeId: string): Promise<string> {
    return this.invoke('refund', { reconciliation_fix: { dispute_id: disputeId } });
  }

  settlePayout(payoutId: string): Promise<string> {
    return this.invoke('payout', { reconciliation_fix: { payout_id: payoutId } });
  }

  private async invoke(janitor: FixingJanitor, request: FixRequest): Promise<string> {
    const name = this.names()[janitor];
    if (!name) throw new ConfigError(`${JANITOR_NAME_ENV[janitor]} is not set`);
    const out = await this.lambda()
      .send(
        new InvokeCommand({
          FunctionName: name,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(request)),
        }),
      )
      .catch((error) => {
        throw asRetryable(error);
      });
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
    const body = parseJson(text) as Partial<{
      result: unknown;
      error: unknown;
      errorType: unknown;
      errorMessage: unknown;
    }>;
    if (out.FunctionError) {
      // The janitor crashed (or timed out): Lambda's own error document.
      throw new FixFunctionError(
        name,
        typeof body?.errorType === 'string' ? body.errorType : out.FunctionError,
        typeof body?.errorMessage === 'string' ? body.errorMessage : `${name} failed (${out.FunctionError})`,
      );
    }
    const error = body?.error as Partial<{ type: unknown; message: unknown }> | undefined;
    if (error && typeof error === 'object') {
      throw new FixFunctionError(
        name,
        typeof error.type === 'string' ? error.type : 'Error',
        typeof error.message === 'string' ? error.message : JSON.stringify(error),
      );
    }
    if (typeof body?.result !== 'string') throw new Error(`${name} answered no fix result: ${text.slice(0, 200)}`);
    return body.result;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
