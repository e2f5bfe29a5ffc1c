/**
 * Starting the pay-in workflow. The first execution is named after the payment id, so a repeated start cannot
 * run a second workflow; a re-drive (janitor, replay, review approval) gets a new name, and relies on every step
 * being idempotent. The current execution's name is kept on the payment event (the first's from its creation).
 * A re-drive's start is recorded on the payment's timeline; the first's is in its own history.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { asRetryable } from '../core/errors';
import { recordTimeline } from '../core/timeline';
import type { PaymentEvent } from './payment';
import type { PaymentsStore } from './ports';

export interface WorkflowDeps {
  sfn: SFNClient;
  stateMachineArn: string;
  payments: PaymentsStore;
}

/** What a start needs of the payment: its ids, its current execution, and what the risk check assesses. */
export type StartedEvent = Pick<
  PaymentEvent,
  'payment_id' | 'order_ids' | 'execution_name' | 'buyer' | 'currency' | 'total_minor' | 'status'
>;

export function executionArn(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

export async function startPayIn(
  deps: WorkflowDeps,
  event: StartedEvent,
  executionName: string = event.payment_id,
): Promise<void> {
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: executionName,
        input: JSON.stringify({
          payment_id: event.payment_id,
          orders: event.order_ids.map((id) => ({ payment_order_id: id })),
          // What the risk check needs, as the payment is now (so it need not read it).
          subject: {
            buyer: event.buyer,
            currency: event.currency,
            total_minor: event.total_minor,
            status: event.status,
          },
        }),
      }),
    );
  } catch (error) {
    if (!(error instanceof ExecutionAlreadyExists) && (error as Error).name !== 'ExecutionAlreadyExists') {
      throw asRetryable(error);
    }
    // Started before (a retried request): keep whatever execution is recorded as current, if any.
    await deps.payments.setEventFields(
      event.payment_id,
      { execution_name: executionName },
      undefined,
      'execution_name',
    );
    return;
  }
  // The first execution's name was stored with the payment; a re-drive's is stored now.
  if (event.execution_name === executionName) return;
  await deps.payments.setEventFields(event.payment_id, { execution_name: executionName });
  await recordTimeline({
    payment_id: event.payment_id,
    type: 'execution.started',
    summary: `pay-in workflow started: execution ${executionName}`,
    ids: { execution_arn: executionArn(deps.stateMachineArn, executionName), execution_name: executionName },
  });
}

/** Starts a new execution for a payment whose workflow ended or was lost. */
export async function redrive(
  deps: WorkflowDeps,
  event: StartedEvent,
  why: 'janitor' | 'replay' | 'review',
  now: Date = new Date(),
): Promise<string> {
  const name = `${event.payment_id}-${why}-${now.getTime()}`;
  await startPayIn(deps, event, name);
  return name;
}

/** Whether the payment's current execution is still running (false when it ended or never existed). */
export async function isWorkflowRunning(deps: Omit<WorkflowDeps, 'payments'>, executionName: string | undefined) {
  if (!executionName) return false;
  try {
    const execution = await deps.sfn.send(
      new DescribeExecutionCommand({ executionArn: executionArn(deps.stateMachineArn, executionName) }),
    );
    return execution.status === 'RUNNING';
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return false;
    throw asRetryable(error);
  }
}
