/**
 * POST /v1/payments/{payment_id}/review: an operator's decision on a payment held for risk review. Four eyes: the
 * key that created the payment cannot review it, whatever its scopes (`admin` included).
 */
import * as z from 'zod';
import { badRequest, HttpError, json, parseJsonBody } from '../../src/api/http';
import { apiHandler, callerKeyId } from '../../src/api/middleware';
import { pathParam, quote } from '../../src/api/request-guards';
import { paymentView } from '../../src/api/views';
import { dynamo, runtimeConfig, sfn } from '../../src/core/clients';
import { ConfigError, tableName } from '../../src/core/config';
import { logger } from '../../src/core/observability';
import type { PaymentEvent } from '../../src/payin/payment';
import { PaymentsTable } from '../../src/payin/payments-table';
import { decideReview } from '../../src/payin/steps';
import { redrive } from '../../src/payin/workflow';

const reviewSchema = z.strictObject({ decision: z.enum(['approve', 'reject']) });

/**
 * Refuses (403 `four_eyes_required`) a review by the key that created the payment. A payment accepted before the
 * creating key was recorded may be rejected (a refusal moves no money) but not approved: who created it is unknown.
 */
function assertFourEyes(payment: PaymentEvent, reviewerKeyId: string, decision: 'approve' | 'reject'): void {
  const creator = payment.created_by_key_id;
  if (creator === undefined) {
    if (decision === 'reject') return;
    throw new HttpError(
      403,
      'four_eyes_required',
      `payment ${payment.payment_id} does not record the key that created it, so it can be rejected but not approved`,
    );
  }
  if (creator === reviewerKeyId) {
    throw new HttpError(
      403,
      'four_eyes_required',
      `payment ${payment.payment_id} was created with this key: another key must review it (four eyes)`,
    );
  }
}

export const handler = apiHandler(
  async (event) => {
    const paymentId = pathParam(event, 'payment_id');
    const parsed = reviewSchema.safeParse(parseJsonBody(event.body, event.isBase64Encoded));
    if (!parsed.success) {
      throw badRequest('the review decision is not valid', [
        { field: 'decision', message: 'must be "approve" or "reject"' },
      ]);
    }
    const reviewerKeyId = callerKeyId(event);
    if (!reviewerKeyId) throw new ConfigError('the authorizer did not identify the API key');
    const config = runtimeConfig();
    if (!config.payInStateMachineArn) throw new ConfigError('PAYIN_STATE_MACHINE_ARN is not set');
    const payments = new PaymentsTable(dynamo(), tableName(config, 'payments'));
    const stored = await payments.get(paymentId);
    if (!stored) throw new HttpError(404, 'payment_not_found', `no payment ${quote(paymentId)}`);
    assertFourEyes(stored.event, reviewerKeyId, parsed.data.decision);
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
    logger.info('risk review decided', {
      payment_id: paymentId,
      decision: parsed.data.decision,
      reviewer_key_id: reviewerKeyId,
    });
    return json(200, paymentView(payment));
  },
  { scope: 'reviews:write' },
);
