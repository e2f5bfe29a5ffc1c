/**
 * The local stack's Lambda Invoke endpoint, through the AWS SDK's own Lambda client: a result, a handler's error as
 * Lambda reports it (FunctionError and the error document), an unknown function, another invocation type.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { type LocalLambdaServer, startLambdaServer } from '../../local/lambda-server';

let server: LocalLambdaServer;
let client: LambdaClient;
const invoked: Array<[string, unknown]> = [];

beforeAll(async () => {
  server = await startLambdaServer(async (functionId, event) => {
    invoked.push([functionId, event]);
    if ((event as { bigint?: boolean }).bigint) return { n: 1n };
    if ((event as { fail?: boolean }).fail) {
      const error = new Error('the PSP answered 503');
      error.name = 'TransientError';
      throw error;
    }
    return { result: `${functionId} saw ${JSON.stringify(event)}` };
  }, '127.0.0.1');
  client = new LambdaClient({
    region: 'us-east-1',
    endpoint: server.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
});

const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const read = (bytes: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(bytes));

test('a function of the catalog runs with the event and answers its result; by name or by ARN', async () => {
  const out = await client.send(
    new InvokeCommand({ FunctionName: 'Janitor', Payload: payload({ reconciliation_fix: { payment_id: 'p1' } }) }),
  );
  expect(out.StatusCode).toBe(200);
  expect(out.FunctionError).toBeUndefined();
  expect(read(out.Payload)).toEqual({ result: 'Janitor saw {"reconciliation_fix":{"payment_id":"p1"}}' });
  const byArn = await client.send(
    new InvokeCommand({
      FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:RefundJanitor',
      Payload: payload({ n: 1 }),
    }),
  );
  expect(read(byArn.Payload)).toEqual({ result: 'RefundJanitor saw {"n":1}' });
  // Qualified: the name with a version or alias, and a qualified ARN.
  for (const FunctionName of ['PayoutJanitor:$LATEST', 'arn:aws:lambda:us-east-1:000000000000:function:Janitor:live']) {
    const qualified = await client.send(new InvokeCommand({ FunctionName, Payload: payload({ q: 1 }) }));
    expect(read(qualified.Payload).result).toMatch(/^(PayoutJanitor|Janitor) saw/);
  }
  expect(invoked.slice(-4).map(([id]) => id)).toEqual(['Janitor', 'RefundJanitor', 'PayoutJanitor', 'Janitor']);
});

test("a handler's error is Lambda's: 200, FunctionError Unhandled, the error's type and message", async () => {
  const out = await client.send(new InvokeCommand({ FunctionName: 'PayoutJanitor', Payload: payload({ fail: true }) }));
  expect(out.StatusCode).toBe(200);
  expect(out.FunctionError).toBe('Unhandled');
  expect(read(out.Payload)).toEqual({ errorType: 'TransientError', errorMessage: 'the PSP answered 503' });
});

test("a result that is not JSON is Lambda's marshal error, answered once", async () => {
  const out = await client.send(new InvokeCommand({ FunctionName: 'Janitor', Payload: payload({ bigint: true }) }));
  expect(out.FunctionError).toBe('Unhandled');
  expect(read(out.Payload)).toMatchObject({ errorType: 'Runtime.MarshalError' });
});

test('an unknown function is ResourceNotFoundException, and nothing runs', async () => {
  const before = invoked.length;
  await expect(
    client.send(new InvokeCommand({ FunctionName: 'NoSuchFunction', Payload: payload({}) })),
  ).rejects.toMatchObject({
    name: 'ResourceNotFoundException',
  });
  expect(invoked.length).toBe(before);
});

test('only synchronous invocations are served (the one kind the project uses)', async () => {
  await expect(
    client.send(new InvokeCommand({ FunctionName: 'Janitor', InvocationType: 'Event', Payload: payload({}) })),
  ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
});
