/** Reading a local stack's Step Functions executions with the real SDK, for tests. */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { StackInfo } from './local-stack-process';
import { until } from './payouts';

export function sfnClient(stack: StackInfo): SFNClient {
  return new SFNClient({
    endpoint: stack.urls.sfn,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
}

export const payInExecutionArn = (name: string) => `arn:aws:states:us-east-1:000000000000:execution:PayIn:${name}`;

/** Every event of an execution's history, page after page. */
export async function fullHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Waits until an execution is closed with its history's last event recorded; its description and history. */
export async function closedExecution(
  sfn: SFNClient,
  executionArn: string,
): Promise<{ described: DescribeExecutionCommandOutput; history: HistoryEvent[] }> {
  return until(
    `${executionArn} closed`,
    async () => ({
      described: await sfn.send(new DescribeExecutionCommand({ executionArn })),
      history: await fullHistory(sfn, executionArn),
    }),
    ({ described, history }) =>
      described.status !== 'RUNNING' &&
      /^Execution(Succeeded|Failed|Aborted|TimedOut)$/.test(history.at(-1)?.type ?? ''),
  );
}
