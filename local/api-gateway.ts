/**
 * The local API Gateway: an HTTP server that turns requests into API Gateway (REST, proxy) events for the
 * handler modules of lambdas/catalog.ts, runs the REQUEST authorizer first where the route needs it, and
 * returns the handlers' responses unchanged. Like API Gateway, it refuses a body over 10 MB (413) before anything
 * runs; a path parameter that is not valid percent-encoding is a 400 naming it. Both are JSON errors of the API's
 * shape (`{"error": {"code", "message", "errors": [{"field", "message"}]}}`).
 *
 * Locally only, requests under `/ops` go to the ops console when the stack passes one (`options.ops`): they are
 * not API routes and never reach a function.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { APIGatewayAuthorizerResult, APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { apiRoutes, type FunctionId, type RouteSpec } from '../lambdas/catalog';
import { badRequest, bodyTooLarge, errorResponse, type HttpError } from '../src/api/http';
import { listen } from './http-server';
import { invoke as invokeFunction, LOCAL_ACCOUNT, LOCAL_REGION } from './lambda-runtime';

const STAGE = 'local';
const API_ID = 'local';
/** API Gateway's payload limit. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

export interface CompiledRoute extends RouteSpec {
  pattern: RegExp;
  params: string[];
}

export function compileRoute(route: RouteSpec): CompiledRoute {
  const params: string[] = [];
  const pattern = route.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { ...route, pattern: new RegExp(`^${pattern}$`), params };
}

/** The path and the query of a request target (origin form: `/path?query`); undefined for any other form. */
export function splitTarget(target: string): { pathname: string; query: Record<string, string> } | undefined {
  if (!target.startsWith('/') || target.startsWith('//')) return undefined;
  const mark = target.indexOf('?');
  const pathname = mark < 0 ? target : target.slice(0, mark);
  const query = mark < 0 ? {} : Object.fromEntries(new URLSearchParams(target.slice(mark + 1)));
  return { pathname, query };
}

export type RouteMatch =
  | { route: CompiledRoute; pathParameters: Record<string, string> }
  | { error: HttpError }
  | undefined;

/**
 * The route of a request and its path parameters, percent-decoded; `{ error }` (a 400 naming the parameter) when a
 * parameter is not valid percent-encoding; undefined when no route matches.
 */
export function matchRoute(routes: CompiledRoute[], method: string, pathname: string): RouteMatch {
  const route = routes.find((r) => r.method === method && r.pattern.test(pathname));
  if (!route) return undefined;
  const match = route.pattern.exec(pathname) ?? [];
  const pathParameters: Record<string, string> = {};
  for (const [i, name] of route.params.entries()) {
    try {
      pathParameters[name] = decodeURIComponent(match[i + 1] ?? '');
    } catch {
      return {
        error: badRequest(`the path parameter ${name} is not valid percent-encoding`, [
          { field: name, message: 'must be valid percent-encoded UTF-8' },
        ]),
      };
    }
  }
  return { route, pathParameters };
}

function send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

/**
 * An answer of the gateway itself (no route, no or a bad API key, a failed authorizer or function): API Gateway's
 * `message`, and the API's error shape (`error.code`, `error.message`) as the deployed API's gateway responses give it.
 */
function gatewayResponse(
  res: http.ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  errors?: { field: string; header?: string; message: string }[],
) {
  send(res, status, JSON.stringify({ message, error: { code, message, ...(errors ? { errors } : {}) } }), headers);
}

function sendError(res: http.ServerResponse, error: HttpError, headers: Record<string, string> = {}) {
  const response = errorResponse(error);
  send(res, response.statusCode, response.body, headers);
}

/**
 * 413 with `Connection: close`: the rest of the body is not read (and never reaches a handler); Node closes the
 * connection once the response is sent.
 */
function refuseBody(res: http.ServerResponse, limit: number) {
  sendError(res, bodyTooLarge(limit), { connection: 'close' });
}

/**
 * The request body, or undefined as soon as it is over `limit` bytes: reading stops there, and the request is not
 * destroyed (which would destroy the socket before the 413 is sent, as `for await` on the request does when left).
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      req.pause();
      resolve(undefined);
    };
    const onEnd = () => resolve(Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

/** A declared Content-Length over the limit (a chunked body is counted while it is read). */
function declaredTooLarge(req: http.IncomingMessage, limit: number): boolean {
  const declared = Number(req.headers['content-length'] ?? 0);
  return Number.isFinite(declared) && declared > limit;
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

export type Invoker = (functionId: FunctionId, event: unknown) => Promise<unknown>;

/** Serves the requests under `/ops` (the local ops console); `apiUrl` is this gateway's own base URL. */
export type OpsRequestHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  context: { apiUrl: string },
) => Promise<void>;

/** Whether a request target is under `/ops` (`/ops`, `/ops/...`, `/ops?...`). */
export function isOpsTarget(target: string | undefined): boolean {
  return target !== undefined && /^\/ops(?:[/?#]|$)/.test(target);
}

export interface ApiGatewayOptions {
  /** The routes served (lambdas/catalog.ts by default). */
  routes?: RouteSpec[];
  /** Runs a function (the local Lambda runtime by default). */
  invoke?: Invoker;
  /** The largest request body (API Gateway's 10 MB by default). */
  maxBodyBytes?: number;
  /** The local ops console, served under `/ops` (none by default). */
  ops?: OpsRequestHandler;
}

interface Gateway {
  routes: CompiledRoute[];
  invoke: Invoker;
  maxBodyBytes: number;
  ops?: OpsRequestHandler;
  url: string;
}

async function handle(gateway: Gateway, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { invoke, maxBodyBytes } = gateway;
  if (declaredTooLarge(req, maxBodyBytes)) {
    refuseBody(res, maxBodyBytes);
    return;
  }
  if (gateway.ops && isOpsTarget(req.url)) {
    await gateway.ops(req, res, { apiUrl: gateway.url });
    return;
  }
  const method = req.method ?? 'GET';
  const target = splitTarget(req.url ?? '/');
  if (!target) {
    sendError(res, badRequest('the request target must be a path', [{ field: 'path', message: 'must start with /' }]));
    return;
  }
  const { pathname, query } = target;
  const matched = matchRoute(gateway.routes, method, pathname);
  if (!matched) {
    gatewayResponse(res, 403, 'missing_authentication_token', 'Missing Authentication Token');
    return;
  }
  if ('error' in matched) {
    sendError(res, matched.error);
    return;
  }
  const { route, pathParameters } = matched;
  const headers = singleValued(req.headers);
  const requestId = randomUUID();
  const methodArn = `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${API_ID}/${STAGE}/${method}${pathname}`;
  let authorizer: Record<string, unknown> | null = null;
  if (route.authorized) {
    try {
      const result = (await invoke('Authorizer', {
        type: 'REQUEST',
        methodArn,
        resource: route.path,
        path: pathname,
        httpMethod: method,
        headers,
        queryStringParameters: query,
        pathParameters,
        requestContext: { requestId, stage: STAGE, apiId: API_ID },
      })) as APIGatewayAuthorizerResult;
      const allowed = result.policyDocument.Statement.some((s) => s.Effect === 'Allow');
      if (!allowed) {
        gatewayResponse(res, 403, 'access_denied', 'User is not authorized to access this resource');
        return;
      }
      authorizer = { principalId: result.principalId, ...result.context };
    } catch (error) {
      if (error instanceof Error && error.message === 'Unauthorized') {
        gatewayResponse(res, 401, 'unauthorized', 'Unauthorized', { 'www-authenticate': 'Bearer' }, [
          { field: 'Authorization', header: 'Authorization', message: 'must be Bearer <a valid secret key>' },
        ]);
      } else {
        process.stderr.write(`local API: authorizer failed: ${(error as Error)?.stack ?? String(error)}\n`);
        gatewayResponse(res, 500, 'authorizer_error', 'the request could not be authorized');
      }
      return;
    }
  }
  const body = await readBody(req, maxBodyBytes);
  if (body === undefined) {
    refuseBody(res, maxBodyBytes);
    return;
  }
  const event: APIGatewayProxyEvent = {
    resource: route.path,
    path: pathname,
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
      path: `/${STAGE}${pathname}`,
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

export async function startApiGateway(
  host: string,
  port: number,
  options: ApiGatewayOptions = {},
): Promise<LocalApiGateway> {
  const gateway: Gateway = {
    routes: (options.routes ?? apiRoutes).map(compileRoute),
    invoke: options.invoke ?? ((functionId, event) => invokeFunction(functionId, event)),
    maxBodyBytes: options.maxBodyBytes ?? MAX_PAYLOAD_BYTES,
    ops: options.ops,
    url: '',
  };
  const serve = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(gateway, req, res).catch((error: unknown) => {
      // A handler that throws is a Lambda error: API Gateway answers 502 without details; the log has them.
      process.stderr.write(`local API: ${req.method} ${req.url} failed: ${(error as Error)?.stack ?? String(error)}\n`);
      if (!res.headersSent) gatewayResponse(res, 502, 'internal_error', 'Internal server error');
      else res.destroy();
    });
  };
  const server = http.createServer(serve);
  // `Expect: 100-continue` (curl sends it for large bodies): a body too large is refused before the client sends it.
  server.on('checkContinue', (req, res) => {
    if (declaredTooLarge(req, gateway.maxBodyBytes)) {
      refuseBody(res, gateway.maxBodyBytes);
      return;
    }
    res.writeContinue();
    serve(req, res);
  });
  const listening = await listen(server, host, port);
  gateway.url = listening.url;
  return listening;
}
