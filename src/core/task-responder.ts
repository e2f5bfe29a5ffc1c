/** Resumes waiting workflows (SendTaskSuccess), on AWS and on the local Step Functions endpoint alike. */
import { SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { asRetryable } from './errors';

/** Resumes a workflow waiting on a task token. */
export interface TaskResponder {
  /** Returns false when the task no longer waits (timed out, already answered, unknown token). */
  succeed(token: string, output: unknown): Promise<boolean>;
}

const GONE = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken']);

export class SfnTaskResponder implements TaskResponder {
  constructor(private readonly sfn: () => SFNClient) {}

  async succeed(token: string, output: unknown): Promise<boolean> {
    try {
      await this.sfn().send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) }));
      return true;
    } catch (error) {
      // The task no longer waits (answered before, timed out): nothing to resume; the records are the truth.
      if (GONE.has((error as Error).name)) return false;
      throw asRetryable(error);
    }
  }
}
