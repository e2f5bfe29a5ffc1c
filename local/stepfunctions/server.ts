/**
 * The local Step Functions endpoint: the AWS JSON 1.0 protocol (`X-Amz-Target: AWSStepFunctions.<Action>`)
 * for the actions the project uses, so handlers and operators use the real @aws-sdk/client-sfn against it.
 */
import http from 'node:http';
import { listen } from '../http-server';
import { type Execution, type ExecutionStatus, type LocalStepFunctions, SfnError } from './engine';

type Body = Record<string, unknown>;

function page<T>(items: T[], body: Body): { items: T[]; nextToken?: string } {
  const max = Math.min(Math.max(Number(body.maxResults ?? 100) || 100, 1), 1000);
  const start = body.nextToken ? Number(Buffer.from(String(body.nextToken), 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw new SfnError('InvalidToken', 'Invalid Token');
  const end = start + max;
  return {
    items: items.slice(start, end),
    nextToken: end < items.length ? Buffer.from(String(end)).toString('base64url') : undefined,
  };
}

function describe(execution: Execution) {
  return {
    executionArn: execution.executionArn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: execution.startDate,
    stopDate: execution.stopDate,
    input: execution.input,
    output: execution.output,
    error: execution.error,
    cause: execution.cause,
  };
}

function actions(engine: LocalStepFunctions): Record<string, (body: Body) => unknown> {
  return {
    ListStateMachines: () => ({ stateMachines: engine.listStateMachines().map((m) => ({ ...m, creationDate: 0 })) }),
    DescribeStateMachine: (body) => engine.describeStateMachine(String(body.stateMachineArn)),
    StartExecution: (body) => {
      const execution = engine.start(
        String(body.stateMachineArn),
        body.name === undefined ? undefined : String(body.name),
        body.input === undefined ? undefined : String(body.input),
      );
      return { executionArn: execution.executionArn, startDate: execution.startDate };
    },
    DescribeExecution: (body) => describe(engine.execution(String(body.executionArn))),
    StopExecution: (body) => ({
      stopDate: engine.stop(
        String(body.executionArn),
        body.error === undefined ? undefined : String(body.error),
        body.cause === undefined ? undefined : String(body.cause),
      ),
    }),
    ListExecutions: (body) => {
      const { items, nextToken } = page(
        engine.list(String(body.stateMachineArn), body.statusFilter as ExecutionStatus | undefined),
        body,
      );
      return {
        executions: items.map(({ executionArn, stateMachineArn, name, status, startDate, stopDate }) => ({
          executionArn,
          stateMachineArn,
          name,
          status,
          startDate,
          stopDate,
        })),
        nextToken,
      };
    },
    SendTaskSuccess: (body) => {
      engine.sendTaskSuccess(String(body.taskToken), String(body.output ?? 'null'));
      return {};
    },
    SendTaskFailure: (body) => {
      engine.sendTaskFailure(
        String(body.taskToken),
        body.error === undefined ? undefined : String(body.error),
        body.cause === undefined ? undefined : String(body.cause),
      );
      return {};
    },
    SendTaskHeartbeat: (body) => {
      engine.sendTaskHeartbeat(String(body.taskToken));
      return {};
    },
    GetExecutionHistory: (body) => {
      const execution = engine.execution(String(body.executionArn));
      const events = body.reverseOrder ? [...execution.history].reverse() : execution.history;
      const { items, nextToken } = page(events, body);
      return { events: items, nextToken };
    },
  };
}

export interface LocalSfnServer {
  url: string;
  close(): Promise<void>;
}

export async function startSfnServer(engine: LocalStepFunctions, host: string, port: number): Promise<LocalSfnServer> {
  const handlers = actions(engine);
  const server = http.createServer(async (req, res) => {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const target = String(req.headers['x-amz-target'] ?? '');
      const action = target.startsWith('AWSStepFunctions.') ? target.slice('AWSStepFunctions.'.length) : '';
      const handler = handlers[action];
      if (!handler) throw new SfnError('UnknownOperationException', `Unsupported action '${target}'`);
      const text = Buffer.concat(chunks).toString('utf8');
      reply(200, handler(text ? (JSON.parse(text) as Body) : {}));
    } catch (error) {
      const type = error instanceof SfnError ? error.type : 'InternalFailure';
      const status = error instanceof SfnError ? 400 : 500;
      reply(status, { __type: type, message: (error as Error).message }, { 'x-amzn-errortype': type });
    }
  });
  return listen(server, host, port);
}
