/** POST /v1/payments: accepts a checkout (202) and starts its pay-in workflow. */
import { dynamo, runtimeConfig, sfn } from '../../src/adapters/clients';
import { logger } from '../../src/adapters/observability';
import { DuplicateCheckoutError, DuplicateOrderError, PaymentsTable } from '../../src/adapters/payments-table';
import { HttpError, json, parseJsonBody } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { paymentView } from '../../src/api/views';
import { ConfigError, tableName } from '../../src/config';
import { createPayment } from '../../src/payin/create-payment';

const MAX_BODY_BYTES = 64 * 1024;

export const handler = apiHandler(async (event) => {
  if (event.body && Buffer.byteLength(event.body) > MAX_BODY_BYTES) {
    throw new HttpError(413, 'body_too_large', `the request body must be at most ${MAX_BODY_BYTES} bytes`);
  }
  const body = parseJsonBody(event.body, event.isBase64Encoded);
  const config = runtimeConfig();
  if (!config.payInStateMachineArn) throw new ConfigError('PAYIN_STATE_MACHINE_ARN is not set');
  try {
    const payment = await createPayment(
      {
        payments: new PaymentsTable(dynamo(), tableName(config, 'payments')),
        sfn: sfn(),
        stateMachineArn: config.payInStateMachineArn,
        platformFeeBps: config.platformFeeBps,
      },
      body,
    );
    const { payment_id, checkout_id } = payment.event;
    logger.info('payment accepted', { payment_id, checkout_id });
    return json(202, { ...paymentView(payment), status_url: `/v1/payments/${payment_id}` });
  } catch (error) {
    if (error instanceof DuplicateCheckoutError) {
      throw new HttpError(409, 'checkout_already_accepted', error.message, { payment_id: error.existingPaymentId });
    }
    if (error instanceof DuplicateOrderError) {
      throw new HttpError(409, 'payment_order_already_exists', error.message, {
        payment_order_ids: error.paymentOrderIds,
      });
    }
    throw error;
  }
});
