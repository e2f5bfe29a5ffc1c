/**
 * POST /v1/payments: accepts a checkout (202) and starts its pay-in workflow; exactly once per Idempotency-Key.
 * The payment id is derived from the caller's key id and its Idempotency-Key, so the stored payment is the request's
 * idempotency record: a repeat with the same body gets the first answer again (`Idempotent-Replayed: true`), with
 * another body 422, while the first is being stored 409 with Retry-After (src/payin/create-payment.ts).
 */

import { validateCheckout } from '../../src/api/checkout';
import { json, parseJsonBody } from '../../src/api/http';
import { idempotencyKeyHeader } from '../../src/api/idempotency-key';
import { apiHandler, callerKeyId } from '../../src/api/middleware';
import { paymentView } from '../../src/api/views';
import { dynamo, runtimeConfig, sfn } from '../../src/core/clients';
import { ConfigError, tableName } from '../../src/core/config';
import { logger } from '../../src/core/observability';
import { acceptPayment, asAccepted, paymentIdFor, requestHash } from '../../src/payin/create-payment';
import { PaymentsTable } from '../../src/payin/payments-table';

const MAX_BODY_BYTES = 64 * 1024;

let deps: Parameters<typeof acceptPayment>[0] | undefined;

function acceptDeps() {
  if (deps) return deps;
  const config = runtimeConfig();
  const stateMachineArn = config.payInStateMachineArn;
  if (!stateMachineArn) throw new ConfigError('PAYIN_STATE_MACHINE_ARN is not set');
  deps = { payments: new PaymentsTable(dynamo(), tableName(config, 'payments')), sfn: sfn(), stateMachineArn };
  return deps;
}

export const handler = apiHandler(
  async (event) => {
    const key = idempotencyKeyHeader(event.headers);
    const body = parseJsonBody(event.body, event.isBase64Encoded);
    const apiKeyId = callerKeyId(event);
    if (!apiKeyId) throw new ConfigError('the authorizer did not identify the API key');
    const paymentId = paymentIdFor(apiKeyId, key);
    logger.appendKeys({ payment_id: paymentId });
    // Validation first: a bad request stores nothing.
    const payment = validateCheckout(body, runtimeConfig().platformFeeBps, {
      paymentId,
      now: new Date().toISOString(),
    });
    // Kept with the payment: its risk review needs another key (four eyes, lambdas/api/review-payment.ts).
    payment.event.created_by_key_id = apiKeyId;
    const accepted = await acceptPayment(acceptDeps(), payment, requestHash(body));
    logger.info(accepted.replayed ? 'replayed the answer of an accepted request' : 'payment accepted');
    // The answer tells the payment as accepted, the same on every repeat of the request.
    const view = { ...paymentView(asAccepted(accepted.payment)), status_url: `/v1/payments/${paymentId}` };
    return json(202, view, accepted.replayed ? { 'idempotent-replayed': 'true' } : {});
  },
  { scope: 'payments:write', maxBodyBytes: MAX_BODY_BYTES },
);
