/** POST /v1/payments: accepts a checkout (202) and starts its pay-in workflow; exactly once per Idempotency-Key. */

import { validateCheckout } from '../../src/api/checkout';
import { json, parseJsonBody } from '../../src/api/http';
import { type IdempotentRequest, idempotencyKeyHeader, idempotent } from '../../src/api/idempotency';
import { apiHandler, callerKeyId, fromDomainError } from '../../src/api/middleware';
import { paymentView } from '../../src/api/views';
import { dynamo, dynamoClient, runtimeConfig, sfn } from '../../src/core/clients';
import { ConfigError, tableName } from '../../src/core/config';
import { logger } from '../../src/core/observability';
import { acceptPayment, paymentIdFor } from '../../src/payin/create-payment';
import { PaymentsTable } from '../../src/payin/payments-table';

const MAX_BODY_BYTES = 64 * 1024;

type AcceptRequest = IdempotentRequest & { payment: ReturnType<typeof validateCheckout> };

let accept: ReturnType<typeof idempotent<AcceptRequest>> | undefined;

function acceptOnce() {
  if (accept) return accept;
  const config = runtimeConfig();
  const stateMachineArn = config.payInStateMachineArn;
  if (!stateMachineArn) throw new ConfigError('PAYIN_STATE_MACHINE_ARN is not set');
  const deps = {
    payments: new PaymentsTable(dynamo(), tableName(config, 'payments')),
    sfn: sfn(),
    stateMachineArn,
  };
  accept = idempotent<AcceptRequest>(dynamoClient(), tableName(config, 'idempotency'), async ({ payment }) => {
    try {
      const accepted = await acceptPayment(deps, payment);
      const { payment_id } = accepted.event;
      return { statusCode: 202, body: { ...paymentView(accepted), status_url: `/v1/payments/${payment_id}` } };
    } catch (error) {
      // A refused checkout (409, 422): the domain error as the edge maps it.
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
    const paymentId = paymentIdFor(apiKeyId, key);
    logger.appendKeys({ payment_id: paymentId });
    // Validation first: a bad request stores nothing, not even an idempotency record.
    const payment = validateCheckout(body, runtimeConfig().platformFeeBps, {
      paymentId,
      now: new Date().toISOString(),
    });
    // Kept with the payment: its risk review needs another key (four eyes, lambdas/api/review-payment.ts).
    payment.event.created_by_key_id = apiKeyId;
    const response = await acceptOnce()({ idempotency_key: `${apiKeyId}:${key}`, body, payment }, context);
    logger.info(response.replayed ? 'replayed a stored response' : 'payment accepted', { status: response.statusCode });
    return json(response.statusCode, response.body, response.replayed ? { 'idempotent-replayed': 'true' } : {});
  },
  { scope: 'payments:write', maxBodyBytes: MAX_BODY_BYTES },
);
