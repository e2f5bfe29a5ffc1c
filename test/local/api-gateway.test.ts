/**
 * The local API Gateway on loopback: a bad percent-encoding in a path parameter is a 400 naming it, a body over the
 * limit a 413 with `Connection: close`, the connection closed cleanly (both were a 502 that left the connection
 * unusable). Most tests serve one stub route with a stub invoker; the first ones use the catalog's routes, refused
 * before any function runs.
 */
import net from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import {
  compileRoute,
  type LocalApiGateway,
  MAX_PAYLOAD_BYTES,
  matchRoute,
  splitTarget,
  startApiGateway,
} from '../../local/api-gateway';

jest.setTimeout(30_000);

interface RawResponse {
  /** Everything the server sent. */
  text: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server ended the connection (FIN) after its response. */
  ended: boolean;
}

/**
 * Sends a request on a fresh socket: the head, then `bodyBytes` of body (in 64 KiB pieces, chunked or not) for as
 * long as the server reads; resolves with the server's bytes once the connection is closed.
 */
function rawRequest(url: string, head: string, bodyBytes = 0, chunked = false): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let text = '';
    let ended = false;
    let written = 0;
    const piece = Buffer.alloc(64 * 1024, 'x');
    socket.on('data', (data) => {
      text += data.toString('latin1');
    });
    socket.on('end', () => {
      ended = true;
    });
    // Writing on after the server closed is the client's EPIPE/ECONNRESET: the response was already received.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const [headText = '', body = ''] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = headText.split('\r\n');
      const headers = Object.fromEntries(
        headerLines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      );
      resolve({ text, status: Number(statusLine.split(' ')[1]), headers, body, ended });
    });
    const pump = () => {
      while (written < bodyBytes && !socket.destroyed && socket.writable) {
        const chunk = chunked
          ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
          : piece;
        written += piece.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (written >= bodyBytes && chunked && socket.writable) socket.write('0\r\n\r\n');
    };
    socket.write(head, pump);
  });
}

/** The JSON body of a raw response, chunked or not. */
function jsonBody(response: RawResponse): { error: { code: string; errors: { field: string }[] } } {
  const body = response.headers['transfer-encoding'] === 'chunked' ? response.body.split('\r\n')[1] : response.body;
  return JSON.parse(body ?? '');
}

describe('Local API Gateway with the catalog routes', () => {
  let gateway: LocalApiGateway;

  beforeAll(async () => {
    gateway = await startApiGateway('127.0.0.1', 0);
  });
  afterAll(() => gateway.close());

  it('answers 400 naming the path parameter to a bad percent-encoding (it was a 502)', async () => {
    // Act
    const response = await fetch(`${gateway.url}/v1/wallets/%E0%A4%A`);

    // Assess
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        code: 'invalid_request',
        message: 'the path parameter seller_account is not valid percent-encoding',
        errors: [{ field: 'seller_account', message: 'must be valid percent-encoded UTF-8' }],
      },
    });
  });

  it('answers 413 with Connection: close to a body over 10 MB, and closes the connection cleanly (it was a 502)', async () => {
    // Act
    const total = MAX_PAYLOAD_BYTES + 1024 * 1024;
    const response = await rawRequest(
      gateway.url,
      `POST /v1/webhooks/psp HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\n\r\n`,
      total,
    );

    // Assess
    expect(response.status).toBe(413);
    expect(response.headers.connection).toBe('close');
    expect(jsonBody(response).error).toMatchObject({ code: 'body_too_large', errors: [{ field: '(body)' }] });
    expect(response.ended).toBe(true);
    // The server is still there for the next connection.
    expect((await fetch(`${gateway.url}/nowhere`)).status).toBe(403);
  });

  it('answers 413 to a chunked body once it passes 10 MB', async () => {
    const response = await rawRequest(
      gateway.url,
      'POST /v1/webhooks/psp HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      MAX_PAYLOAD_BYTES + 1024 * 1024,
      true,
    );
    expect(response.status).toBe(413);
    expect(response.headers.connection).toBe('close');
    expect(response.ended).toBe(true);
  });
});

describe('Local API Gateway with a stub route', () => {
  const LIMIT = 4096;
  const events: APIGatewayProxyEvent[] = [];
  let gateway: LocalApiGateway;

  beforeAll(async () => {
    gateway = await startApiGateway('127.0.0.1', 0, {
      routes: [{ method: 'POST', path: '/things/{thing_id}', functionId: 'PspWebhook', authorized: false }],
      invoke: async (_functionId, event) => {
        events.push(event as APIGatewayProxyEvent);
        return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
      },
      maxBodyBytes: LIMIT,
    });
  });
  afterAll(() => gateway.close());
  beforeEach(() => {
    events.length = 0;
  });

  it('passes a request through with its path parameter decoded and its query', async () => {
    // Act
    const response = await fetch(`${gateway.url}/things/a%3Ab?x=1`, { method: 'POST', body: '{"a":1}' });

    // Assess
    expect(response.status).toBe(200);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      path: '/things/a%3Ab',
      pathParameters: { thing_id: 'a:b' },
      queryStringParameters: { x: '1' },
      body: '{"a":1}',
    });
  });

  it('passes a body of exactly the limit', async () => {
    const response = await fetch(`${gateway.url}/things/a`, { method: 'POST', body: 'x'.repeat(LIMIT) });
    expect(response.status).toBe(200);
    expect(events[0]?.body).toHaveLength(LIMIT);
  });

  it.each(['%', '%zz', '%E0%A4%A', '%C0%AF', '%ED%A0%80'])('answers 400 to the path parameter %p', async (raw) => {
    // Act
    const response = await fetch(`${gateway.url}/things/${raw}`, { method: 'POST' });

    // Assess
    expect(response.status).toBe(400);
    expect(((await response.json()) as ReturnType<typeof jsonBody>).error.errors).toEqual([
      { field: 'thing_id', message: 'must be valid percent-encoded UTF-8' },
    ]);
    expect(events).toEqual([]);
  });

  it('answers 413 and closes to a declared body over the limit, without reading it nor invoking anything', async () => {
    const response = await rawRequest(
      gateway.url,
      `POST /things/a HTTP/1.1\r\nHost: local\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`,
      LIMIT + 1,
    );
    expect(response.status).toBe(413);
    expect(response.headers.connection).toBe('close');
    expect(response.ended).toBe(true);
    expect(events).toEqual([]);
  });

  it('answers 413 and closes to a chunked body over the limit', async () => {
    const response = await rawRequest(
      gateway.url,
      'POST /things/a HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n\r\n',
      256 * 1024,
      true,
    );
    expect(response.status).toBe(413);
    expect(response.ended).toBe(true);
    expect(events).toEqual([]);
  });

  it('answers 413 before the body is sent to Expect: 100-continue', async () => {
    // Act: the head only; a client that expects 100-continue waits before sending the body.
    const response = await rawRequest(
      gateway.url,
      `POST /things/a HTTP/1.1\r\nHost: local\r\nExpect: 100-continue\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`,
    );

    // Assess
    expect(response.text).not.toContain('100 Continue');
    expect(response.status).toBe(413);
    expect(response.ended).toBe(true);
  });

  it('keeps a connection usable after an ordinary refusal', async () => {
    const first = await fetch(`${gateway.url}/things/%zz`, { method: 'POST' });
    const second = await fetch(`${gateway.url}/things/a`, { method: 'POST', body: '{}' });
    expect([first.status, second.status]).toEqual([400, 200]);
  });
});

describe("Local API Gateway's own answers", () => {
  let gateway: LocalApiGateway;

  beforeAll(async () => {
    gateway = await startApiGateway('127.0.0.1', 0, {
      routes: [{ method: 'GET', path: '/private/{id}', functionId: 'GetPayment', authorized: true }],
      invoke: async (functionId, event) => {
        if (functionId !== 'Authorizer') return { statusCode: 200, body: '{}' };
        const { headers } = event as { headers: Record<string, string> };
        if (headers.authorization === 'Bearer deny') {
          return { principalId: 'k', policyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Deny' }] } };
        }
        if (headers.authorization === 'Bearer crash') throw new Error('the table is unreachable');
        throw new Error('Unauthorized');
      },
    });
  });
  afterAll(() => gateway.close());

  it.each([
    ['no route', '/nowhere', {}, 403, 'missing_authentication_token'],
    ['no API key', '/private/a', {}, 401, 'unauthorized'],
    ['a denied key', '/private/a', { authorization: 'Bearer deny' }, 403, 'access_denied'],
    ['a failing authorizer', '/private/a', { authorization: 'Bearer crash' }, 500, 'authorizer_error'],
  ])(
    'answers %s with a JSON error of the API shape, and API Gateway message',
    async (_l, path, headers, status, code) => {
      // Act
      const response = await fetch(`${gateway.url}${path}`, { headers });

      // Assess
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/json');
      const body = (await response.json()) as { message: string; error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect(body.message).toBe(body.error.message);
    },
  );

  it('names the Authorization header in a 401', async () => {
    const body = (await (await fetch(`${gateway.url}/private/a`)).json()) as ReturnType<typeof jsonBody>;
    expect(body.error.errors).toEqual([
      { field: 'Authorization', header: 'Authorization', message: 'must be Bearer <a valid secret key>' },
    ]);
  });
});

describe('Function: matchRoute', () => {
  const routes = [
    compileRoute({ method: 'GET', path: '/v1/payments/{payment_id}', functionId: 'GetPayment', authorized: true }),
    compileRoute({
      method: 'GET',
      path: '/v1/payments/{payment_id}/ledger',
      functionId: 'GetPaymentLedger',
      authorized: true,
    }),
  ];

  it('decodes path parameters, leaving their checks to the handler', () => {
    expect(matchRoute(routes, 'GET', '/v1/payments/..%2F..%2Fetc%2Fpasswd')).toMatchObject({
      pathParameters: { payment_id: '../../etc/passwd' },
    });
    expect(matchRoute(routes, 'GET', '/v1/payments/pay_1/ledger')).toMatchObject({
      route: { functionId: 'GetPaymentLedger' },
      pathParameters: { payment_id: 'pay_1' },
    });
  });

  it('answers no route to another method or path', () => {
    expect(matchRoute(routes, 'POST', '/v1/payments/pay_1')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/v1/payments/a/b/c')).toBeUndefined();
  });

  it('gives a 400 naming the parameter for a bad percent-encoding', () => {
    const matched = matchRoute(routes, 'GET', '/v1/payments/%E0%A4%A');
    expect(matched && 'error' in matched && matched.error.details.errors).toEqual([
      { field: 'payment_id', message: 'must be valid percent-encoded UTF-8' },
    ]);
  });
});

describe('Function: splitTarget', () => {
  it('splits the path and the query of an origin-form target, keeping the path as sent', () => {
    expect(splitTarget('/v1/wallets/a%2Fb?x=1&y=%zz')).toEqual({
      pathname: '/v1/wallets/a%2Fb',
      query: { x: '1', y: '%zz' },
    });
    expect(splitTarget('/v1/payments/../wallets/x')).toEqual({ pathname: '/v1/payments/../wallets/x', query: {} });
  });

  it('refuses other forms of target', () => {
    expect(splitTarget('//evil.example/v1/payments')).toBeUndefined();
    expect(splitTarget('http://evil.example/v1/payments')).toBeUndefined();
    expect(splitTarget('*')).toBeUndefined();
  });
});
