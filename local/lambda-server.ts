/**
 * Lambda's Invoke API for the functions that invoke others (the catalog's `invokes`: MatchShard and the fix
 * functions): `POST /2015-03-31/functions/{name}/invocations` runs the named function of the catalog in this process
 * (local/lambda-runtime.ts) and answers as Lambda does: 200 with the function's result as JSON, or, when the handler
 * threw, 200 with `X-Amz-Function-Error: Unhandled` and `{"errorType", "errorMessage"}`; an unknown function is a
 * 404 `ResourceNotFoundException`. Synchronous invocations only (`RequestResponse`, the default), the one kind used.
 */
import http from 'node:http';
import { functions } from '../lambdas/catalog';
import { listen } from './http-server';

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export interface LocalLambdaServer {
  url: string;
  close(): Promise<void>;
}

export async function startLambdaServer(
  invoke: (functionId: string, event: unknown) => Promise<unknown>,
  host: string,
  port = 0,
): Promise<LocalLambdaServer> {
  const server = http.createServer(async (req, res) => {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body ?? null);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(text);
    };
    const refuse = (status: number, type: string, message: string) =>
      reply(status, { Type: 'User', message }, { 'x-amzn-errortype': type });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://local');
    const match = req.method === 'POST' ? INVOKE_PATH.exec(url.pathname) : null;
    if (!match) return refuse(404, 'UnknownOperationException', `${req.method} ${url.pathname} is not an operation`);
    const name = decodeURIComponent(match[1] ?? '');
    // A name (`Name` or `Name:qualifier`), or an ARN (`arn:aws:lambda:<region>:<account>:function:Name[:qualifier]`).
    const parts = name.split(':');
    const functionId = (parts[0] === 'arn' ? parts[6] : parts[0]) ?? '';
    if (!Object.hasOwn(functions, functionId)) {
      return refuse(404, 'ResourceNotFoundException', `Function not found: ${name}`);
    }
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (invocationType !== 'RequestResponse') {
      return refuse(400, 'InvalidParameterValueException', `InvocationType ${invocationType} is not served locally`);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let event: unknown;
    try {
      event = text ? JSON.parse(text) : {};
    } catch {
      return refuse(400, 'InvalidRequestContentException', 'Could not parse request body into json');
    }
    let result: unknown;
    try {
      result = await invoke(functionId, event);
    } catch (error) {
      const thrown = error instanceof Error ? error : new Error(String(error));
      reply(
        200,
        { errorType: thrown.name, errorMessage: thrown.message },
        { 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' },
      );
      return;
    }
    try {
      reply(200, result, { 'x-amz-executed-version': '$LATEST' });
    } catch (error) {
      // A result that is not JSON: Lambda's own error for it.
      reply(
        200,
        { errorType: 'Runtime.MarshalError', errorMessage: `Unable to marshal response: ${(error as Error).message}` },
        { 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' },
      );
    }
  });
  return listen(server, host, port);
}
