/**
 * The automatic fixes, made by the flows' janitors (Lambda Invoke): imported only by the function that invokes them
 * (MatchShard), so no other reconciliation function loads the Lambda client.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { ConfigError, FIXING_JANITOR_ENV, type FixingJanitor } from '../core/config';
import { asRetryable } from '../core/errors';
import type { RecoveryActions } from './ports';

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
 * safe: the next run of the date asks again. The call is made once (no SDK retry: src/core/lambda-client.ts). The matching
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
    if (!name) throw new ConfigError(`${FIXING_JANITOR_ENV[janitor]} is not set`);
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
