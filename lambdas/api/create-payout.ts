/**
 * POST /v1/payouts: pays a seller's available money out (all of it without `amount`): reserved with the payout in
 * one transaction, then the pay-out workflow started; exactly once per Idempotency-Key.
 */
import { json, parseJsonBody } from '../../src/api/http';
import { type IdempotentRequest, idempotencyKeyHeader, idempotent } from '../../src/api/idempotency';
import { apiHandler, callerKeyId, fromDomainError } from '../../src/api/middleware';
import { payoutView, validatePayoutRequest } from '../../src/api/payouts';
import { dynamoClient, runtimeConfig } from '../../src/core/clients';
import { ConfigError, tableName } from '../../src/core/config';
import { logger } from '../../src/core/observability';
import { payoutDeps } from '../../src/payout/deps';
import { requestPayoutId } from '../../src/payout/payout';
import { requestPayout } from '../../src/payout/request-payout';

type PayoutRequest = IdempotentRequest & {
  order: ReturnType<typeof validatePayoutRequest> & { payout_id: string; created_by_key_id: string };
};

let accept: ReturnType<typeof idempotent<PayoutRequest>> | undefined;

function acceptOnce() {
  accept ??= idempotent<PayoutRequest>(dynamoClient(), tableName(runtimeConfig(), 'idempotency'), async ({ order }) => {
    try {
      const { payout } = await requestPayout(payoutDeps(), { ...order, trigger: 'request' });
      return { statusCode: 202, body: { ...payoutView(payout), status_url: `/v1/payouts/${payout.payout_id}` } };
    } catch (error) {
      throw fromDomainError(error) ?? error;
    }
  });
  return accept;
}

export const handler = apiHandler(
  async (event, context) => {
    const key = idempotencyKeyHeader(event.headers);
    const body = parseJsonBody(event.body, event.isBase64Encoded);
    const apiKeyId = callerKeyId(event);
    if (!apiKeyId) throw new ConfigError('the authorizer did not identify the API key');
    const order = validatePayoutRequest(body);
    const payoutId = requestPayoutId(apiKeyId, key);
    logger.appendKeys({ payout_id: payoutId, seller_account: order.seller_account });
    const response = await acceptOnce()(
      {
        idempotency_key: `payout:${apiKeyId}:${key}`,
        body,
        order: { ...order, payout_id: payoutId, created_by_key_id: apiKeyId },
      },
      context,
    );
    logger.info(response.replayed ? 'replayed a stored response' : 'payout accepted', { status: response.statusCode });
    return json(response.statusCode, response.body, response.replayed ? { 'idempotent-replayed': 'true' } : {});
  },
  { scope: 'payouts:write', maxBodyBytes: 8 * 1024 },
);
