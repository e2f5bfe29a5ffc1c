/**
 * The local API Gateway: an HTTP server that turns requests into API Gateway (REST, proxy) events for the
 * handler modules of lambdas/catalog.ts, runs the REQUEST authorizer first where the route needs it, and
 * returns the handlers' responses unchanged.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { APIGatewayAuthorizerResult, APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { apiRoutes, type RouteSpec } from '../lambdas/catalog';
import { listen } from './http-server';
import { invoke, LOCAL_ACCOUNT, LOCAL_REGION } from './lambda-runtime';

const STAGE = 'local';
const API_ID = 'local';

interface CompiledRoute extends RouteSpec {
  pattern: RegExp;
  params: string[];
}

function compile(route: RouteSpec): CompiledRoute {
  const params: string[] = [];
  const pattern = route.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { ...route, pattern: new RegExp(`^${pattern}$`), params };
}

const routes = apiRoutes.map(compile);

function send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

async function readBody(req: http.IncomingMessage, limit = 10 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function singleValued(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    // API Gateway keeps the client's header case; Node lower-cases them. Handlers read either.
    out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const route = routes.find((r) => r.method === method && r.pattern.test(url.pathname));
  if (!route) {
    send(res, 403, JSON.stringify({ message: 'Missing Authentication Token' }));
    return;
  }
  const match = route.pattern.exec(url.pathname) ?? [];
  const pathParameters = Object.fromEntries(
    route.params.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]),
  );
  const headers = singleValued(req.headers);
  const query = Object.fromEntries(url.searchParams);
  const requestId = randomUUID();
  const methodArn = `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${API_ID}/${STAGE}/${method}${url.pathname}`;
  let authorizer: Record<string, unknown> | null = null;
  if (route.authorized) {
    try {
      const result = (await invoke('Authorizer', {
        type: 'REQUEST',
        methodArn,
        resource: route.path,
        path: url.pathname,
        httpMethod: method,
        headers,
        queryStringParameters: query,
        pathParameters,
        requestContext: { requestId, stage: STAGE, apiId: API_ID },
      })) as APIGatewayAuthorizerResult;
      const allowed = result.policyDocument.Statement.some((s) => s.Effect === 'Allow');
      if (!allowed) {
        send(res, 403, JSON.stringify({ message: 'User is not authorized to access this resource' }));
        return;
      }
      authorizer = { principalId: result.principalId, ...result.context };
    } catch (error) {
      if (error instanceof Error && error.message === 'Unauthorized') {
        send(res, 401, JSON.stringify({ message: 'Unauthorized' }), { 'www-authenticate': 'Bearer' });
      } else {
        process.stderr.write(`local API: authorizer failed: ${(error as Error)?.stack ?? String(error)}\n`);
        send(res, 500, JSON.stringify({ message: null }));
      }
      return;
    }
  }
  const body = await readBody(req);
  const event: APIGatewayProxyEvent = {
    resource: route.path,
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: null,
    pathParameters,
    stageVariables: null,
    body: body.length > 0 ? body : null,
    isBase64Encoded: false,
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: API_ID,
      authorizer,
      httpMethod: method,
      identity: {
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      } as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/${STAGE}${url.pathname}`,
      protocol: 'HTTP/1.1',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: route.path,
      resourcePath: route.path,
      stage: STAGE,
    },
  };
  const response = (await invoke(route.functionId, event)) as APIGatewayProxyResult;
  const responseHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers ?? {})) responseHeaders[name] = String(value);
  responseHeaders['x-amzn-requestid'] = requestId;
  res.writeHead(response.statusCode, responseHeaders);
  res.end(response.isBase64Encoded ? Buffer.from(response.body, 'base64') : response.body);
}

export interface LocalApiGateway {
  url: string;
  close(): Promise<void>;
}

export async function startApiGateway(host: string, port: number): Promise<LocalApiGateway> {
  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A handler that throws is a Lambda error: API Gateway answers 502 without details; the log has them.
      process.stderr.write(`local API: ${req.method} ${req.url} failed: ${(error as Error)?.stack ?? String(error)}\n`);
      if (!res.headersSent) send(res, 502, JSON.stringify({ message: 'Internal server error' }));
      else res.destroy();
    });
  });
  return listen(server, host, port);
}
