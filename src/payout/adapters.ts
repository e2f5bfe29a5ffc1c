/** The pay-out's workflow starter (Step Functions) and run queue (SQS). */
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { asRetryable } from '../core/errors';
import type { PayoutWorkflow, RunQueue, RunRef } from './ports';

/** One execution per payout, named after it: a repeated start cannot run a second workflow. */
export class SfnPayoutWorkflow implements PayoutWorkflow {
  constructor(
    private readonly sfn: () => SFNClient,
    private readonly stateMachineArn: () => string,
  ) {}

  async start(payoutId: string): Promise<void> {
    try {
      await this.sfn().send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn(),
          name: payoutId,
          input: JSON.stringify({ payout_id: payoutId }),
        }),
      );
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists') return;
      throw asRetryable(error);
    }
  }
}

/** A run's messages: `{kind: 'page', run, start_key}` and `{kind: 'sellers', run, sellers}`. */
export type RunMessage =
  | { kind: 'page'; run: RunRef; start_key?: string }
  | { kind: 'sellers'; run: RunRef; sellers: string[] };

export class SqsRunQueue implements RunQueue {
  constructor(
    private readonly sqs: () => SQSClient,
    private readonly queueUrl: () => string,
  ) {}

  async sendPage(run: RunRef, startKey: string | undefined): Promise<void> {
    const message: RunMessage = { kind: 'page', run, ...(startKey ? { start_key: startKey } : {}) };
    await this.sqs()
      .send(new SendMessageCommand({ QueueUrl: this.queueUrl(), MessageBody: JSON.stringify(message) }))
      .catch((error) => {
        throw asRetryable(error);
      });
  }

  async sendSellers(run: RunRef, sellers: string[]): Promise<void> {
    const message: RunMessage = { kind: 'sellers', run, sellers };
    const result = await this.sqs()
      .send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl(),
          Entries: [{ Id: '0', MessageBody: JSON.stringify(message) }],
        }),
      )
      .catch((error) => {
        throw asRetryable(error);
      });
    if ((result.Failed ?? []).length > 0)
      throw new Error(`run queue refused a message: ${JSON.stringify(result.Failed)}`);
  }
}
