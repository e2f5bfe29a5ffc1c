/**
 * Reconciliation's adapters: the settlement archive (S3, streamed uploads), the work queues (SQS) and the workflow
 * starter (Step Functions). The open-mismatch metrics are in metrics.ts (only the run's last step bundles Powertools
 * Metrics), the automatic fixes' invoker in fix-invoker.ts (only MatchShard loads the Lambda client).
 */
import type { Readable } from 'node:stream';
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
import { asRetryable } from '../core/errors';
import type { StoredMismatch } from './domain/run';
import type { ReconciliationWorkflow, SettlementArchive, WorkQueues } from './ports';

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
