/** POST /v1/payments/{payment_id}/review: an operator's decision on a payment held for risk review. */
import { z } from 'zod';
import { badRequest, HttpError, json, parseJsonBody } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { paymentView } from '../../src/api/views';
import { dynamo, runtimeConfig, sfn } from '../../src/core/clients';
import { ConfigError, tableName } from '../../src/core/config';
import { logger } from '../../src/core/observability';
import { PaymentsTable } from '../../src/payin/payments-table';
import { decideReview } from '../../src/payin/steps';
import { redrive } from '../../src/payin/workflow';

const reviewSchema = z.strictObject({ decision: z.enum(['approve', 'reject']) });

export const handler = apiHandler(async (event) => {
  const paymentId = event.pathParameters?.payment_id ?? '';
  const parsed = reviewSchema.safeParse(parseJsonBody(event.body, event.isBase64Encoded));
  if (!parsed.success) {
    throw badRequest('the review decision is not valid', [
      { field: 'decision', message: 'must be "approve" or "reject"' },
    ]);
  }
  const config = runtimeConfig();
  if (!config.payInStateMachineArn) throw new ConfigError('PAYIN_STATE_MACHINE_ARN is not set');
  const payments = new PaymentsTable(dynamo(), tableName(config, 'payments'));
  if (!(await payments.get(paymentId))) throw new HttpError(404, 'payment_not_found', `no payment ${paymentId}`);
  const { changed, payment } = await decideReview({ payments }, paymentId, parsed.data.decision);
  if (!changed) {
    throw new HttpError(
      409,
      'payment_not_in_review',
      `payment ${paymentId} is ${payment.event.status}, not held for review`,
    );
  }
  if (parsed.data.decision === 'approve') {
    await redrive({ sfn: sfn(), stateMachineArn: config.payInStateMachineArn, payments }, payment.event, 'review');
  }
  logger.info('risk review decided', { payment_id: paymentId, decision: parsed.data.decision });
  return json(200, paymentView(payment));
});
