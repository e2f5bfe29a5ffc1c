/**
 * The request guards of every API route (src/api/request-guards.ts) and the JSON body parser (src/api/http.ts):
 * content type, size, depth and path parameters, each refusal a 4xx naming the header, `(body)` or the parameter.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { validateCheckout } from '../../src/api/checkout';
import { HttpError, jsonTooDeep, MAX_BODY_BYTES, parseJsonBody } from '../../src/api/http';
import { httpErrors } from '../../src/api/middleware';
import { checkRequest, pathParam, quote, strictRequest } from '../../src/api/request-guards';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

/** The 20 KB body of the issue: 10,000 arrays deep. */
const DEEP_BODY = `{"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
const nested = (depth: number) => `${'['.repeat(depth - 1)}{}${']'.repeat(depth - 1)}`;

function event(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    resource: '/v1/wallets/{seller_account}',
    path: '/v1/wallets/seller_a',
    httpMethod: 'POST',
    headers: { 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { seller_account: 'seller_a' },
    stageVariables: null,
    body: '{"checkout_id":"co_1"}',
    isBase64Encoded: false,
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  };
}

const context = { functionName: 'unit-test', getRemainingTimeInMillis: () => 1000 } as unknown as Context;

/** A handler as apiHandler builds it, with strictRequest added: it parses the body and validates a checkout. */
function handlerWith(options: Parameters<typeof strictRequest>[0] = {}) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>(async (request: APIGatewayProxyEvent) => {
    const body = parseJsonBody(request.body, request.isBase64Encoded);
    validateCheckout(body, 0, { paymentId: 'pay_1', now: 'now' });
    return { statusCode: 202, body: '{}' };
  })
    .use(httpErrors())
    .use(strictRequest(options));
}

async function answer(overrides: Partial<APIGatewayProxyEvent>, options?: Parameters<typeof strictRequest>[0]) {
  const response = await handlerWith(options)(event(overrides), context);
  return { status: response.statusCode, body: JSON.parse(response.body) };
}

function refusal(act: () => unknown): HttpError {
  try {
    act();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected an HttpError');
}

const checkout = JSON.stringify({
  checkout_id: 'co_1',
  buyer: { id: 'b1', country: 'FR' },
  currency: 'USD',
  payment_method: 'pm_card_visa',
  payment_orders: [{ payment_order_id: 'o1', seller_account: 's1', amount: '10.00' }],
});

describe('Module: request-guards', () => {
  describe('Middleware: strictRequest', () => {
    it.each([
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/json;charset=UTF-8',
      'application/json; charset="utf-8"',
    ])('accepts a JSON body sent as %p', async (type) => {
      const { status } = await answer({ headers: { 'content-type': type }, body: checkout });
      expect(status).toBe(202);
    });

    it.each([
      ['image/png', { 'Content-Type': 'image/png' }],
      ['text/plain', { 'content-type': 'text/plain' }],
      ['application/jsonp', { 'content-type': 'application/jsonp' }],
      ['application/x-www-form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['another charset', { 'content-type': 'application/json; charset=iso-8859-1' }],
      ['another parameter', { 'content-type': 'application/json; boundary=x' }],
      ['a trailing semicolon', { 'content-type': 'application/json;' }],
      ['no Content-Type', {}],
      ['an empty Content-Type', { 'content-type': '' }],
    ])('answers 415 naming the header to a body sent as %s', async (_label, headers) => {
      // Act
      const { status, body } = await answer({ headers, body: checkout });

      // Assess
      expect(status).toBe(415);
      expect(body.error.code).toBe('unsupported_media_type');
      expect(body.error.errors).toEqual([
        { field: 'Content-Type', header: 'Content-Type', message: expect.stringMatching(/application\/json/) },
      ]);
    });

    it('answers 415 to two Content-Type headers', async () => {
      const { status } = await answer({
        headers: { 'content-type': 'application/json' },
        multiValueHeaders: { 'Content-Type': ['application/json', 'text/plain'] },
        body: checkout,
      });
      expect(status).toBe(415);
    });

    it('asks no Content-Type of a request without a body', async () => {
      const check = () => checkRequest(event({ httpMethod: 'GET', headers: {}, body: null }));
      expect(check).not.toThrow();
      expect(() => checkRequest(event({ headers: {}, body: '' }))).not.toThrow();
    });

    it('quotes a bad Content-Type short and escaped', async () => {
      const { body } = await answer({ headers: { 'content-type': `text/${'x'.repeat(100)}\r\nInjected: 1` } });
      const [problem] = body.error.errors;
      expect(problem.message).not.toMatch(/[\r\n]/);
      expect(problem.message).toContain(`"text/${'x'.repeat(27)}…"`);
    });

    it(`answers 413 naming (body) to a body over ${MAX_BODY_BYTES} bytes, and over a route's own limit`, async () => {
      // Prepare
      const big = `{"pad":"${'x'.repeat(MAX_BODY_BYTES)}"}`;
      const medium = `{"pad":"${'x'.repeat(64 * 1024)}"}`;

      // Act
      const general = await answer({ body: big });
      const route = await answer({ body: medium }, { maxBodyBytes: 64 * 1024 });
      const underGeneral = await answer({ body: medium });

      // Assess
      expect(general.status).toBe(413);
      expect(general.body.error).toEqual({
        code: 'body_too_large',
        message: `the request body must be at most ${MAX_BODY_BYTES} bytes`,
        errors: [{ field: '(body)', message: `must be at most ${MAX_BODY_BYTES} bytes` }],
      });
      expect(route.status).toBe(413);
      expect(route.body.error.message).toBe('the request body must be at most 65536 bytes');
      expect(underGeneral.status).toBe(400); // through to the handler: an unknown field
    });

    it('counts a base64-encoded body by its decoded size', async () => {
      const body = Buffer.from(`{"pad":"${'x'.repeat(60 * 1024)}"}`).toString('base64'); // 80 KB encoded
      expect(() => checkRequest(event({ body, isBase64Encoded: true }), { maxBodyBytes: 64 * 1024 })).not.toThrow();
      expect(() => checkRequest(event({ body, isBase64Encoded: true }), { maxBodyBytes: 32 * 1024 })).toThrow(
        HttpError,
      );
    });

    it('answers 400 naming (body) to the 20 KB body nested 10,000 deep (it was a 500: a stack overflow)', async () => {
      // Act
      const { status, body } = await answer({ body: DEEP_BODY });

      // Assess
      expect(status).toBe(400);
      expect(body.error.errors).toEqual([
        { field: '(body)', message: 'must not nest objects and arrays deeper than 32 levels' },
      ]);
    });

    it('allows 32 levels of nesting and refuses 33', () => {
      expect(() => checkRequest(event({ body: nested(32) }))).not.toThrow();
      expect(refusal(() => checkRequest(event({ body: nested(33) }))).statusCode).toBe(400);
    });

    it.each([
      ['../../etc/passwd', '../../etc/passwd'],
      ['a CR/LF', 'seller\r\nSet-Cookie: x=1'],
      ['a NUL', 'seller\u0000a'],
      ['a space', 'seller a'],
      ['a slash', 'seller/a'],
      ['a leading dot', '.seller'],
      ['a #', 'seller#1'],
      ['a non-ASCII letter', 'sellér'],
      ['256 characters', 's'.repeat(256)],
      ['an empty value', ''],
    ])('answers 400 naming the path parameter to %s', async (_label, value) => {
      // Act
      const { status, body } = await answer({
        httpMethod: 'GET',
        pathParameters: { seller_account: value },
        body: null,
      });

      // Assess
      expect(status).toBe(400);
      expect(body.error.message).toBe('the path parameter seller_account is not valid');
      expect(body.error.errors).toEqual([{ field: 'seller_account', message: expect.any(String) }]);
      const [{ message }] = body.error.errors;
      expect([...message].filter((character) => character.charCodeAt(0) < 0x20)).toEqual([]);
      expect(message.length).toBeLessThan(200);
    });
  });

  describe('Function: pathParam', () => {
    it.each(['seller_a', 'pay_4087a25724e9dafcd71ad707e0a38b7f', 'a:b.c-d_e', '1', 'x'.repeat(255)])(
      'returns the identifier %p',
      (value) => {
        expect(pathParam({ pathParameters: { payment_id: value } }, 'payment_id')).toBe(value);
      },
    );

    it('answers 400 naming the parameter when it is missing or not an identifier', () => {
      const missing = refusal(() => pathParam({ pathParameters: null }, 'payment_id'));
      const bad = refusal(() => pathParam({ pathParameters: { payment_id: '../x' } }, 'payment_id'));
      expect(missing.statusCode).toBe(400);
      expect(missing.details.errors).toEqual([
        { field: 'payment_id', message: 'the path parameter payment_id is required' },
      ]);
      expect(bad.details.errors?.[0]?.field).toBe('payment_id');
      expect(bad.details.errors?.[0]?.message).toContain('(got "../x")');
    });
  });

  describe('Function: quote', () => {
    it('quotes at most 32 characters', () => {
      expect(quote('abc')).toBe('"abc"');
      expect(quote('x'.repeat(33))).toBe(`"${'x'.repeat(32)}…"`);
      expect(quote('x'.repeat(10_000)).length).toBeLessThanOrEqual(35);
    });

    it('escapes control, invisible and quoting characters', () => {
      expect(quote('a\r\nb\u0000c\u202ed"e\\')).toBe('"a\\u000d\\u000ab\\u0000c\\u202ed\\"e\\\\"');
    });

    it('does not show a card number', () => {
      expect(quote('4242 4242 4242 4242')).not.toContain('4242');
    });
  });
});

describe('Module: http', () => {
  describe('Function: parseJsonBody', () => {
    it('returns a JSON object', () => {
      expect(parseJsonBody('{"a":[1,{"b":2}]}')).toEqual({ a: [1, { b: 2 }] });
      expect(parseJsonBody(Buffer.from('{"a":1}').toString('base64'), true)).toEqual({ a: 1 });
    });

    it.each([
      ['invalid JSON', '{"a": ', 'is not valid JSON'],
      ['an array', '[1]', 'must be a JSON object'],
      ['null', 'null', 'must be a JSON object'],
      ['no body', '', 'is required'],
    ])('answers 400 naming (body) to %s', (_label, body, message) => {
      const error = refusal(() => parseJsonBody(body));
      expect(error.statusCode).toBe(400);
      expect(error.message).toBe('the request body must be a JSON object');
      expect(error.details.errors).toEqual([{ field: '(body)', message }]);
    });

    it('answers 400 to the 20 KB body nested 10,000 deep, before parsing it', () => {
      const error = refusal(() => parseJsonBody(DEEP_BODY));
      expect(error.statusCode).toBe(400);
      expect(error.details.errors?.[0]?.field).toBe('(body)');
    });

    it('answers 413 over 1 MB, or over the limit given', () => {
      expect(refusal(() => parseJsonBody(`{"a":"${'x'.repeat(MAX_BODY_BYTES)}"}`)).statusCode).toBe(413);
      expect(refusal(() => parseJsonBody('{"a":"xxxxxxxxxx"}', false, { maxBytes: 10 })).statusCode).toBe(413);
    });
  });

  describe('Function: jsonTooDeep', () => {
    it('counts brackets outside strings only', () => {
      expect(jsonTooDeep('{"a":"[[[[[[[[[[[[[["}', 2)).toBe(false);
      expect(jsonTooDeep('{"a":"\\"[[[[[[[[[["}', 2)).toBe(false);
      expect(jsonTooDeep('{"a":[[1]]}', 2)).toBe(true);
      expect(jsonTooDeep('[{},{},{},[]]', 2)).toBe(false);
    });

    it('handles millions of levels without recursion', () => {
      const text = `${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}`;
      expect(jsonTooDeep(text, 32)).toBe(true);
      expect(jsonTooDeep(text, 2_000_000)).toBe(false);
    });
  });
});
