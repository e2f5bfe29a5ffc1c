/**
 * PSP webhooks: the Stripe-Signature header checked strictly (a future timestamp and `t=123x` were accepted; a
 * header given twice was verified on the first one found), the shape of queued events checked, and the processor
 * logging why an event fails (two malformed events went to the dead-letter queue with no reason logged).
 */
import { createHmac } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';

const SECRET = 'whsec_unit_test_secret';
Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  PSP_SECRET_KEY: 'sk_test_unit_never_used',
  PSP_WEBHOOK_SECRET: SECRET,
  PAYMENTS_TABLE: 'payments-table',
  PSP_WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/psp-webhooks',
  REFUND_WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/refund-webhooks',
  CONNECT_WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/connect-webhooks',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});
// Required once their environment is set.
const { logger } = require('../../src/core/observability') as typeof import('../../src/core/observability');
const { checkSignatureHeader, InvalidWebhookSignatureError, verifyWebhook } =
  require('../../src/psp/webhooks') as typeof import('../../src/psp/webhooks');
const { parsePspEvent } = require('../../src/psp/events') as typeof import('../../src/psp/events');
const processor =
  require('../../lambdas/ops/psp-webhook-processor') as typeof import('../../lambdas/ops/psp-webhook-processor');
const receiver = require('../../lambdas/api/psp-webhook') as typeof import('../../lambdas/api/psp-webhook');

/** The payments table of the processor (one mock for the file: a second would replace the first). */
const ddb = mockClient(DynamoDBDocumentClient);
/** The webhook queue of the receiving Lambda. */
const sqsMock = mockClient(SQSClient);

const BODY = JSON.stringify({
  id: 'evt_1',
  object: 'event',
  type: 'payment_intent.succeeded',
  data: { object: { id: 'pi_1', object: 'payment_intent', metadata: { payment_id: 'pay_1' } } },
});
const nowSeconds = () => Math.floor(Date.now() / 1000);
const hmac = (signed: string, secret = SECRET) => createHmac('sha256', secret).update(signed, 'utf8').digest('hex');
/** A header signed as the PSP signs: `t=<t>,v1=HMAC(secret, "<t>.<body>")`. */
const sign = (t: number | string, body = BODY, secret = SECRET) => `t=${t},v1=${hmac(`${t}.${body}`, secret)}`;

describe('Module: psp/webhooks', () => {
  describe('Function: verifyWebhook', () => {
    it('accepts a call signed now, and one signed within the tolerance either way', async () => {
      await expect(verifyWebhook(BODY, sign(nowSeconds()))).resolves.toMatchObject({ id: 'evt_1' });
      await expect(verifyWebhook(BODY, sign(nowSeconds() - 290))).resolves.toMatchObject({ id: 'evt_1' });
      await expect(verifyWebhook(BODY, sign(nowSeconds() + 290))).resolves.toMatchObject({ id: 'evt_1' });
    });

    it('refuses a call signed with a timestamp a day in the future', async () => {
      const act = verifyWebhook(BODY, sign(nowSeconds() + 86_400));
      await expect(act).rejects.toThrow(InvalidWebhookSignatureError);
      await expect(act).rejects.toThrow(/future/);
    });

    it('refuses a call signed with a timestamp a day old', async () => {
      await expect(verifyWebhook(BODY, sign(nowSeconds() - 86_400))).rejects.toThrow(/too old/);
    });

    it('refuses t=<now>x even when the HMAC of "<now>.<body>" matches (the SDK parses it as <now>)', async () => {
      // Prepare
      const t = nowSeconds();
      const header = `t=${t}x,v1=${hmac(`${t}.${BODY}`)}`;

      // Act & Assess
      await expect(verifyWebhook(BODY, header)).rejects.toThrow(InvalidWebhookSignatureError);
    });

    it('refuses a wrong secret and an altered body', async () => {
      await expect(verifyWebhook(BODY, sign(nowSeconds(), BODY, 'whsec_other'))).rejects.toThrow(
        InvalidWebhookSignatureError,
      );
      await expect(verifyWebhook(`${BODY} `, sign(nowSeconds()))).rejects.toThrow(InvalidWebhookSignatureError);
    });

    it('accepts a second v1 signature (a secret being rolled) and a v0 one', async () => {
      const t = nowSeconds();
      const header = `t=${t},v1=${hmac(`${t}.${BODY}`, 'whsec_old')},v1=${hmac(`${t}.${BODY}`)},v0=${'0'.repeat(64)}`;
      await expect(verifyWebhook(BODY, header)).resolves.toMatchObject({ id: 'evt_1' });
    });
  });

  describe('Function: checkSignatureHeader', () => {
    const now = 1_800_000_000_000;
    const t = 1_800_000_000;
    const v1 = `v1=${'a'.repeat(64)}`;

    it('returns the timestamp of a well-formed header', () => {
      expect(checkSignatureHeader(`t=${t},${v1}`, now)).toBe(t);
      expect(checkSignatureHeader(`${v1},t=${t - 300}`, now)).toBe(t - 300);
      expect(checkSignatureHeader(`t=${t + 300},${v1}`, now)).toBe(t + 300);
    });

    it.each([
      ['no header', undefined],
      ['an empty header', ''],
      ['t=123x', `t=${t}x,${v1}`],
      ['a negative timestamp', `t=-${t},${v1}`],
      ['a decimal timestamp', `t=${t}.5,${v1}`],
      ['an exponent timestamp', `t=1.8e9,${v1}`],
      ['two timestamps', `t=${t},t=${t},${v1}`],
      ['no timestamp', v1],
      ['no v1 signature', `t=${t}`],
      ['only a v0 signature', `t=${t},v0=${'a'.repeat(64)}`],
      ['a short v1 signature', `t=${t},v1=abc`],
      ['an upper-case v1 signature', `t=${t},v1=${'A'.repeat(64)}`],
      ['spaces', `t=${t}, ${v1}`],
      ['an unknown element', `t=${t},${v1},x=1`],
      ['an empty element', `t=${t},,${v1}`],
      ['an element without a value', `t=,${v1}`],
      ['a value with =', `t=${t}=1,${v1}`],
      ['a header too long', `t=${t},${`${v1},`.repeat(40)}${v1}`],
      ['a timestamp 301 s in the future', `t=${t + 301},${v1}`],
      ['a timestamp 301 s old', `t=${t - 301},${v1}`],
    ])('refuses %s', (_label, header) => {
      expect(() => checkSignatureHeader(header, now)).toThrow(InvalidWebhookSignatureError);
    });
  });
});

describe('Module: psp/events', () => {
  describe('Function: parsePspEvent', () => {
    it('reads an event, keeping what it does not check', () => {
      const parsed = parsePspEvent(BODY);
      expect(parsed).toEqual({ ok: true, event: JSON.parse(BODY) });
    });

    it('reads an event about an object without an id (a balance)', () => {
      const body = JSON.stringify({ id: 'evt_2', type: 'balance.available', data: { object: { object: 'balance' } } });
      expect(parsePspEvent(body).ok).toBe(true);
    });

    it.each([
      ['not JSON', 'hello', /^the event is not JSON/],
      ['JSON null', 'null', /\(event\): /],
      ['no type', '{"id":"evt_1","data":{"object":{"id":"pi_1","object":"payment_intent"}}}', /^type: /],
      ['no data', '{"id":"evt_1","type":"payment_intent.succeeded"}', /^data: /],
      ['a numeric id', '{"id":1,"type":"x","data":{"object":{"object":"balance"}}}', /^id: /],
      [
        'a payment event without an object id',
        '{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"object":"payment_intent"}}}',
        /^data\.object\.id: a payment event names its object/,
      ],
      [
        'a payment id that is not a string',
        '{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","object":"payment_intent","metadata":{"payment_id":7}}}}',
        /^data\.object\.metadata\.payment_id: /,
      ],
    ])('gives the reason of an event with %s', (_label, body, reason) => {
      const parsed = parsePspEvent(body);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toMatch(reason);
    });

    it('names the event id and type of a malformed event when it can', () => {
      expect(parsePspEvent('{"id":"evt_9","type":"payment_intent.succeeded","data":{}}')).toMatchObject({
        ok: false,
        eventId: 'evt_9',
        type: 'payment_intent.succeeded',
      });
    });
  });
});

describe('Lambda: psp-webhook-processor', () => {
  const context = { functionName: 'unit-test', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
  const sqsRecord = (messageId: string, body: string): SQSRecord =>
    ({
      messageId,
      receiptHandle: 'r',
      body,
      attributes: { ApproximateReceiveCount: '2' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:psp-webhooks',
      awsRegion: 'us-east-1',
    }) as unknown as SQSRecord;

  afterEach(() => {
    jest.restoreAllMocks();
    ddb.reset();
  });

  it('fails a malformed event (kept for the dead-letter queue) and logs why, with its id', async () => {
    // Prepare: a duplicate (applied at once), two malformed events.
    ddb.on(GetCommand).resolves({ Item: { pk: 'WEBHOOK#evt_1', sk: 'EVENT' } });
    const errors = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
    const event: SQSEvent = {
      Records: [
        sqsRecord('m0', BODY),
        sqsRecord('m1', 'not json at all'),
        sqsRecord(
          'm2',
          '{"id":"evt_bad","type":"payment_intent.succeeded","data":{"object":{"object":"payment_intent"}}}',
        ),
      ],
    };

    // Act
    const response = await processor.handler(event, context);

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }]);
    const logged = errors.mock.calls.map(([message, extra]) => ({ message, extra }));
    expect(logged).toEqual([
      {
        message: 'malformed PSP event: not applied, kept for the dead-letter queue',
        extra: expect.objectContaining({
          message_id: 'm1',
          receive_count: 2,
          reason: expect.stringMatching(/^the event is not JSON/),
        }),
      },
      {
        message: 'malformed PSP event: not applied, kept for the dead-letter queue',
        extra: expect.objectContaining({
          message_id: 'm2',
          event_id: 'evt_bad',
          type: 'payment_intent.succeeded',
          reason: 'data.object.id: a payment event names its object',
        }),
      },
    ]);
  });
});

describe("Lambda: psp-webhook-processor, another flow's event", () => {
  const context = { functionName: 'unit-test', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
  afterEach(() => {
    jest.restoreAllMocks();
    ddb.reset();
  });

  it.each([
    ['charge.refunded', 'refunds'],
    ['charge.dispute.created', 'refunds'],
    ['payout.paid', 'payout'],
    ['account.updated', 'payout'],
  ])(
    "refuses %s (the %s flow's), reading nothing, and logs why: kept for the dead-letter queue",
    async (type, flow) => {
      const errors = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
      const body = JSON.stringify({
        id: 'evt_other',
        object: 'event',
        type,
        data: { object: { id: 'obj_1', object: 'x' } },
      });
      const record = { messageId: 'm1', body, attributes: { ApproximateReceiveCount: '1' } } as unknown as SQSRecord;

      const act = processor.handler({ Records: [record] }, context);

      await expect(act).rejects.toThrow(/All records failed/);
      expect(ddb.calls()).toHaveLength(0);
      expect(errors).toHaveBeenCalledWith(
        "PSP event of another flow's queue: not applied, kept for the dead-letter queue",
        expect.objectContaining({ message_id: 'm1', event_id: 'evt_other', type, flow, queue_flow: 'payin' }),
      );
    },
  );
});

describe('Lambda: psp-webhook-processor, failures while applying', () => {
  const context = { functionName: 'unit-test', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
  afterEach(() => {
    jest.restoreAllMocks();
    ddb.reset();
  });

  it('logs the reason of an event that fails to apply (to be retried)', async () => {
    // Prepare
    ddb.on(GetCommand).rejects(new Error('the table is unreachable'));
    const warnings = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const record = {
      messageId: 'm1',
      body: BODY,
      attributes: { ApproximateReceiveCount: '1' },
    } as unknown as SQSRecord;

    // Act
    const act = processor.handler({ Records: [record] }, context);

    // Assess: every record failed, so the whole batch fails (and is retried).
    await expect(act).rejects.toThrow(/All records failed/);
    expect(warnings).toHaveBeenCalledWith(
      'PSP event failed, to be retried',
      expect.objectContaining({ message_id: 'm1', event_id: 'evt_1', reason: expect.stringMatching(/unreachable/) }),
    );
  });
});

describe('Lambda: psp-webhook (POST /v1/webhooks/psp)', () => {
  const context = {
    functionName: 'unit-test',
    awsRequestId: 'req-0001',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:unit-test',
    getRemainingTimeInMillis: () => 10_000,
  } as unknown as Context;

  /** The PSP's call as API Gateway passes it on: each header in `headers` (its last value) and `multiValueHeaders`. */
  function call(
    headers: Record<string, string>,
    multiValueHeaders: Record<string, string[]> = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name, [value]]),
    ),
  ): APIGatewayProxyEvent {
    return {
      httpMethod: 'POST',
      path: '/v1/webhooks/psp',
      resource: '/v1/webhooks/psp',
      headers: { 'Content-Type': 'application/json', ...headers },
      multiValueHeaders: { 'Content-Type': ['application/json'], ...multiValueHeaders },
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: null,
      stageVariables: null,
      requestContext: { identity: { sourceIp: '203.0.113.9' } } as never,
      body: BODY,
      isBase64Encoded: false,
    };
  }

  const refusedTwice = {
    error: {
      code: 'invalid_signature',
      message: 'the webhook signature could not be verified',
      errors: [{ field: 'Stripe-Signature', header: 'Stripe-Signature', message: 'must be given once' }],
    },
  };

  beforeEach(() => {
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'msg-1' });
  });
  afterEach(() => jest.restoreAllMocks());

  it('queues each event on the queue of the flow that applies it (src/psp/event-flows.ts)', async () => {
    const cases = [
      ['payment_intent.succeeded', 'psp-webhooks'],
      ['payment_intent.payment_failed', 'psp-webhooks'],
      ['charge.succeeded', 'psp-webhooks'],
      ['charge.refunded', 'refund-webhooks'],
      ['charge.refund.updated', 'refund-webhooks'],
      ['refund.failed', 'refund-webhooks'],
      ['charge.dispute.closed', 'refund-webhooks'],
      ['account.updated', 'connect-webhooks'],
      ['balance.available', 'connect-webhooks'],
      ['transfer.reversed', 'connect-webhooks'],
      ['payout.failed', 'connect-webhooks'],
    ];
    for (const [type] of cases) {
      const body = JSON.stringify({ id: `evt_${type}`, object: 'event', type, data: { object: { id: 'obj_1' } } });
      const response = await receiver.handler(
        { ...call({ 'Stripe-Signature': sign(nowSeconds(), body) }), body },
        context,
      );
      expect([type, response.statusCode]).toEqual([type, 200]);
    }
    expect(
      sqsMock
        .commandCalls(SendMessageCommand)
        .map((each) => [
          JSON.parse(String(each.args[0].input.MessageBody)).type,
          String(each.args[0].input.QueueUrl).split('/').pop(),
        ]),
    ).toEqual(cases);
  });

  it('queues a call signed once (the header in any case)', async () => {
    for (const name of ['Stripe-Signature', 'stripe-signature']) {
      const response = await receiver.handler(call({ [name]: sign(nowSeconds()) }), context);
      expect(response.statusCode).toBe(200);
    }
    expect(sqsMock.commandCalls(SendMessageCommand).map((each) => each.args[0].input.MessageBody)).toEqual([
      BODY,
      BODY,
    ]);
  });

  it.each([
    [
      'two names differing in case (headers and multiValueHeaders)',
      call({ 'Stripe-Signature': sign(nowSeconds()), 'stripe-signature': sign(nowSeconds() - 1) }),
    ],
    [
      'two names differing in case (in headers only)',
      call({ 'Stripe-Signature': sign(nowSeconds()), 'stripe-signature': sign(nowSeconds() - 1) }, {}),
    ],
    [
      'one name given twice (its values in multiValueHeaders, the last one in headers)',
      call(
        { 'stripe-signature': sign(nowSeconds()) },
        { 'stripe-signature': [sign(nowSeconds() - 1), sign(nowSeconds())] },
      ),
    ],
  ])('refuses a Stripe-Signature header given twice, each signature valid: %s', async (_, event) => {
    // Prepare
    const warnings = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);

    // Act
    const response = await receiver.handler(event, context);

    // Assess: the same 400 as a bad signature, naming the header; nothing queued; a security event logged
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toEqual(refusedTwice);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(warnings).toHaveBeenCalledWith(
      'security: refused a PSP webhook with an invalid signature',
      expect.objectContaining({
        security_event: 'webhook_signature_invalid',
        reason: 'the Stripe-Signature header was given 2 times',
      }),
    );
  });

  it('refuses an unsigned call with the 400 naming the header', async () => {
    const response = await receiver.handler(call({}), context);
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error).toEqual({
      code: 'invalid_signature',
      message: 'the webhook signature could not be verified',
      errors: [
        {
          field: 'Stripe-Signature',
          header: 'Stripe-Signature',
          message: 'the webhook signature could not be verified',
        },
      ],
    });
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});
