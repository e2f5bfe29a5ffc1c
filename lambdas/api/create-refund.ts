/**
 * POST /v1/payments/{payment_id}/refunds: refunds part or all of one charged payment order. The amount is reserved
 * on the order's refundable amount with the refund, in one transaction, then the refund workflow starts; exactly
 * once per Idempotency-Key.
 */
import { HttpError, json, parseJsonBody } from '../../src/api/http';
import { type IdempotentRequest, idempotencyKeyHeader, idempotent } from '../../src/api/idempotency';
import { apiHandler, callerKeyId, fromDomainError } from '../../src/api/middleware';
import { refundAmountMinor, refundView, validateRefundRequest } from '../../src/api/refunds';
import { pathParam, quote } from '../../src/api/request-guards';
import { dynamoClient, runtimeConfig } from '../../src/core/clients';
import { ConfigError, tableName } from '../../src/core/config';
import { logger } from '../../src/core/observability';
import { type RefundableOrder, type RefundReason, refundIdFor } from '../../src/refunds/refund';
import { requestRefund } from '../../src/refunds/request-refund';
import { deps, paymentOrders } from '../refunds/deps';

type RefundRequest = IdempotentRequest & {
  order: RefundableOrder;
  refund: { refund_id: string; amount_minor: number; reason: RefundReason; created_by_key_id: string };
};

let accept: ReturnType<typeof idempotent<RefundRequest>> | undefined;

function acceptOnce() {
  accept ??= idempotent<RefundRequest>(
    dynamoClient(),
    tableName(runtimeConfig(), 'idempotency'),
    async ({ order, refund }) => {
      try {
        const made = await requestRefund(deps(), order, refund);
        return {
          statusCode: 202,
          body: { ...refundView(made.refund), status_url: `/v1/refunds/${made.refund.refund_id}` },
        };
      } catch (error) {
        throw fromDomainError(error) ?? error;
      }
    },
  );
  return accept;
}

export const handler = apiHandler(
  async (event, context) => {
    const paymentId = pathParam(event, 'payment_id');
    const key = idempotencyKeyHeader(event.headers);
    const body = parseJsonBody(event.body, event.isBase64Encoded);
    const apiKeyId = callerKeyId(event);
    if (!apiKeyId) throw new ConfigError('the authorizer did not identify the API key');
    const request = validateRefundRequest(body);
    const orders = await paymentOrders(paymentId);
    if (!orders) throw new HttpError(404, 'payment_not_found', `no payment ${quote(paymentId)}`);
    const order = orders.find((o) => o.payment_order_id === request.payment_order_id);
    if (!order) {
      throw new HttpError(
        404,
        'payment_order_not_found',
        `payment ${quote(paymentId)} has no order ${quote(request.payment_order_id)}`,
        {
          errors: [{ field: 'payment_order_id', message: 'no such order in this payment' }],
        },
      );
    }
    const refundId = refundIdFor(apiKeyId, key);
    logger.appendKeys({ payment_id: paymentId, refund_id: refundId });
    const response = await acceptOnce()(
      {
        idempotency_key: `refund:${apiKeyId}:${key}`,
        body: { payment_id: paymentId, ...(body as object) },
        order,
        refund: {
          refund_id: refundId,
          amount_minor: refundAmountMinor(request.amount, order.currency),
          reason: request.reason,
          created_by_key_id: apiKeyId,
        },
      },
      context,
    );
    logger.info(response.replayed ? 'replayed a stored response' : 'refund accepted', { status: response.statusCode });
    return json(response.statusCode, response.body, response.replayed ? { 'idempotent-replayed': 'true' } : {});
  },
  { scope: 'refunds:write', maxBodyBytes: 8 * 1024 },
);
