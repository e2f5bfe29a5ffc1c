/**
 * Scoped API keys over HTTP: keys are created with the ApiKeys class in the stack's DynamoDB Local (as
 * `npm run keys -- create` does), then used through the local API Gateway and its authorizer.
 * A missing scope is a 403 naming it; a risk review needs `reviews:write` and a key other than the creating one.
 * The refunds and payouts routes (`refunds:write`, `payouts:write`) do not exist yet: only today's routes are tested.
 * The stack holds EUR checkouts above 5000.00 for review (RISK_REVIEW_ABOVE, test/integration/global-setup.ts).
 */
import { randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ApiKeys, type Scope } from '../../src/api/api-keys';
import { tableSchemas } from '../../src/core/table-schemas';
import { call, checkout, type PaymentView, stackInfo, unique, waitForStatus } from '../support/api-client';

jest.setTimeout(120_000);

type ErrorBody = { error: { code: string; message: string; scope?: string } };

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

const documentClient = () =>
  DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stackInfo().urls.dynamodb,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    }),
  );

let keys: ApiKeys;
const issue = async (label: string, scopes: Scope[]) => (await keys.issue(label, { scopes })).secretKey;

let readOnly: string;
let reviewer: string;
/** May create payments and review them: only those of other keys. */
let creatorReviewer: string;

beforeAll(async () => {
  keys = new ApiKeys(documentClient(), tableSchemas.apiKeys.id);
  readOnly = await issue('it: read only', ['payments:read']);
  reviewer = await issue('it: reviewer', ['reviews:write', 'payments:read']);
  creatorReviewer = await issue('it: creator and reviewer', ['payments:write', 'reviews:write', 'payments:read']);
});

async function pay(amount: string, key?: string): Promise<{ paymentId: string; seller: string }> {
  const seller = unique('seller');
  const response = await call<{ payment_id: string }>('POST', '/v1/payments', {
    body: checkout({ sellers: [{ seller, amount }] }),
    key,
  });
  expect(response.status).toBe(202);
  return { paymentId: response.body.payment_id, seller };
}

/** A 6000.00 EUR checkout, created with `key` (the dev key by default), once it is held for review. */
async function heldForReview(key?: string): Promise<string> {
  const { paymentId } = await pay('6000.00', key);
  const held = await waitForStatus(paymentId, ['PENDING', 'SUCCESS', 'FAILED']);
  expect([held.status, held.status_reason]).toEqual(['PENDING', 'risk_review:amount_review:EUR']);
  return paymentId;
}

const review = (paymentId: string, key: string, decision: 'approve' | 'reject') =>
  call<ErrorBody & PaymentView>('POST', `/v1/payments/${paymentId}/review`, { key, body: { decision } });

const insufficientScope = (scope: string) => ({
  error: { code: 'insufficient_scope', message: `this key lacks the scope ${scope}`, scope },
});

describe('Scoped keys', () => {
  it('a read-only key reads payments, ledgers and wallets, but cannot create or review a payment (403 naming the scope)', async () => {
    // Prepare
    const { paymentId, seller } = await pay('12.00');
    await waitForStatus(paymentId, ['SUCCESS']);
    const held = await heldForReview();

    // Act
    const reads = await Promise.all([
      call('GET', `/v1/payments/${paymentId}`, { key: readOnly }),
      call('GET', `/v1/payments/${paymentId}/ledger`, { key: readOnly }),
      call('GET', `/v1/wallets/${seller}`, { key: readOnly }),
    ]);
    const create = await call<ErrorBody>('POST', '/v1/payments', {
      key: readOnly,
      body: checkout({ sellers: [{ seller: unique('seller'), amount: '5.00' }] }),
    });
    const decide = await review(held, readOnly, 'approve');

    // Assess
    expect(reads.map((r) => r.status)).toEqual([200, 200, 200]);
    expect([create.status, create.body]).toEqual([403, insufficientScope('payments:write')]);
    expect([decide.status, decide.body]).toEqual([403, insufficientScope('reviews:write')]);
    expect((await waitForStatus(held, ['PENDING'])).status).toBe('PENDING');
  });

  it("a reviewer key approves another key's payment held for review, which then completes", async () => {
    // Prepare
    const held = await heldForReview();

    // Act
    const decided = await review(held, reviewer, 'approve');

    // Assess
    expect(decided.status).toBe(200);
    const done = await waitForStatus(held, ['SUCCESS', 'FAILED']);
    expect(done.status).toBe('SUCCESS');
  });

  it('a key cannot review a payment it created, whatever its scopes (four eyes); another key can', async () => {
    // Prepare
    const own = await heldForReview(creatorReviewer);
    const devKeys = await heldForReview();

    // Act
    const byCreator = await review(own, creatorReviewer, 'approve');
    const byAdminCreator = await review(devKeys, stackInfo().devApiKey, 'reject');
    const byOther = await review(own, reviewer, 'reject');

    // Assess
    for (const [response, paymentId] of [
      [byCreator, own],
      [byAdminCreator, devKeys],
    ] as const) {
      expect([response.status, response.body]).toEqual([
        403,
        {
          error: {
            code: 'four_eyes_required',
            message: `payment ${paymentId} was created with this key: another key must review it (four eyes)`,
          },
        },
      ]);
    }
    expect(byOther.status).toBe(200);
    expect((await waitForStatus(own, ['FAILED'])).status_reason).toBe('risk_rejected:operator');
    expect((await waitForStatus(devKeys, ['PENDING'])).status).toBe('PENDING');
  });

  it.each([
    ['without scopes: refused (401) before scrypt runs, never re-hashed', undefined],
    ['given scopes by an operator: allowed what its scopes allow, and re-hashed', ['payments:read']],
  ])('a key stored before scopes (salted scrypt) %s', async (_, scopes) => {
    // Prepare: the item as ApiKeys stored it before this change
    const keyId = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const salt = randomBytes(16);
    const client = documentClient();
    const Key = { pk: `KEY#${keyId}` };
    await client.send(
      new PutCommand({
        TableName: tableSchemas.apiKeys.id,
        Item: {
          ...Key,
          key_id: keyId,
          label: 'it: before scopes',
          salt: salt.toString('base64'),
          hash: (await scrypt(secret, salt, 32)).toString('base64'),
          algorithm: 'scrypt-N16384-r8-p1',
          created_at: new Date().toISOString(),
          revoked: false,
          ...(scopes ? { scopes } : {}),
        },
      }),
    );

    // Act
    const read = await call<ErrorBody>('GET', '/v1/wallets/seller_any', { key: `mpk_${keyId}_${secret}` });
    const write = await call<ErrorBody>('POST', '/v1/payments/pay_any/review', {
      key: `mpk_${keyId}_${secret}`,
      body: { decision: 'approve' },
    });

    // Assess
    const { Item } = await client.send(new GetCommand({ TableName: tableSchemas.apiKeys.id, Key }));
    if (scopes) {
      expect(read.status).toBe(200);
      expect([write.status, write.body]).toEqual([403, insufficientScope('reviews:write')]);
      expect(Item?.algorithm).toBe('sha256-salted');
    } else {
      expect([read.status, write.status]).toEqual([401, 401]);
      expect(Item?.algorithm).toBe('scrypt-N16384-r8-p1');
    }
  });

  it('a revoked key is refused (401)', async () => {
    // Prepare
    const { keyId, secretKey } = await keys.issue('it: revoked', { scopes: ['admin'] });

    // Act
    expect(await keys.revoke(keyId)).toBe(true);
    const response = await call('GET', '/v1/wallets/seller_any', { key: secretKey });

    // Assess
    expect(response.status).toBe(401);
  });
});
