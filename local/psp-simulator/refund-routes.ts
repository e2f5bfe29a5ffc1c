// The /v1/refunds endpoints (refunds.ts), as stripe.refunds.* calls them:
//
//   POST /v1/refunds                   payment_intent and/or charge, amount (default: what remains), reason
//                                      (duplicate, fraudulent, requested_by_customer), metadata; expand:
//                                      balance_transaction, charge, failure_balance_transaction, payment_intent
//   GET  /v1/refunds                   newest first; charge, payment_intent, created, limit, cursors; expand data.*
//   GET  /v1/refunds/:id               POST /v1/refunds/:id (metadata)
//   POST /v1/refunds/:id/cancel        only while pending or requires_action
//   GET  /v1/charges/:id/refunds       the charge's refunds, newest first (the `url` of an expanded Charge.refunds)
//
// Parameter errors (unknown ids, amounts, enums) are raised before executing and not stored under the idempotency
// key; Stripe's refusals of the refund itself (charge_already_refunded, the amount beyond what remains,
// charge_disputed, no successful charge) are decided when executing, so stored and replayed. Customer-balance
// refunds and the Connect options (refund_application_fee, reverse_transfer) are not modelled: refused.

import type Stripe from 'stripe';
import { readMetadataUpdate } from './account-routes';
import { ok, type Route } from './api';
import { rejectExpand } from './connect-routes';
import { invalidRequest } from './errors';
import type { FormObject } from './form';
import { inCreatedRange, paginate, readListParams } from './list';
import { readBoolean, readEnum, readInteger, readMetadata, readString, rejectUnknownParams } from './params';
import { originOf } from './payment-intent-routes';
import { REFUND_REASONS, type RefundService } from './refunds';

const COLLECTION_URL = '/v1/refunds';
const EXPANDABLE = ['balance_transaction', 'charge', 'failure_balance_transaction', 'payment_intent'];
/** Stripe's ceiling on an amount (99,999,999 minor units). */
const MAX_AMOUNT = 99_999_999;

export interface RefundRouteSources {
  refunds: RefundService;
  /** The Charge object as GET /v1/charges/:id renders it. */
  renderCharge(id: string): Stripe.Charge | undefined;
  paymentIntent(id: string): Stripe.PaymentIntent | undefined;
  balanceTransaction(id: string): Stripe.BalanceTransaction | undefined;
  hasCharge(id: string): boolean;
}

export function refundRoutes(sources: RefundRouteSources): Route[] {
  const { refunds } = sources;
  const render = (refund: Stripe.Refund, expand: string[]): Stripe.Refund => {
    if (expand.includes('balance_transaction') && typeof refund.balance_transaction === 'string') {
      refund.balance_transaction = sources.balanceTransaction(refund.balance_transaction) ?? refund.balance_transaction;
    }
    if (expand.includes('failure_balance_transaction') && typeof refund.failure_balance_transaction === 'string') {
      refund.failure_balance_transaction =
        sources.balanceTransaction(refund.failure_balance_transaction) ?? refund.failure_balance_transaction;
    }
    if (expand.includes('charge') && typeof refund.charge === 'string') {
      refund.charge = sources.renderCharge(refund.charge) ?? refund.charge;
    }
    if (expand.includes('payment_intent') && typeof refund.payment_intent === 'string') {
      refund.payment_intent = sources.paymentIntent(refund.payment_intent) ?? refund.payment_intent;
    }
    return refund;
  };
  const list = (params: FormObject, url: string, chargeId?: string) => {
    const listParams = readListParams(params);
    const charge = chargeId ?? readString(params, 'charge') ?? undefined;
    const paymentIntent = readString(params, 'payment_intent') ?? undefined;
    const expand = rejectExpand(params, EXPANDABLE, 'data.');
    return () => {
      const page = paginate(
        refunds.newestFirst(),
        (refund) =>
          inCreatedRange(refund.created, listParams.created) &&
          (charge === undefined || refund.charge === charge) &&
          (paymentIntent === undefined || refund.payment_intent === paymentIntent),
        listParams,
        url,
        'refund',
      );
      return ok({ ...page, data: page.data.map((refund) => render(refund, expand)) });
    };
  };

  return [
    {
      method: 'POST',
      path: COLLECTION_URL,
      prepare: (request) => {
        const { params } = request;
        rejectUnknownParams(params, [
          'amount',
          'charge',
          'currency',
          'customer',
          'expand',
          'instructions_email',
          'metadata',
          'origin',
          'payment_intent',
          'reason',
          'refund_application_fee',
          'reverse_transfer',
        ]);
        for (const name of ['currency', 'customer', 'instructions_email', 'origin']) {
          if (params[name] !== undefined) {
            throw invalidRequest(
              `The PSP simulator does not model customer balance refunds: refund a charge or a PaymentIntent without ${name}.`,
              { param: name },
            );
          }
        }
        for (const name of ['refund_application_fee', 'reverse_transfer']) {
          if (readBoolean(params, name)) {
            throw invalidRequest(
              `The PSP simulator does not model destination charges or application fees (${name}=true): reverse transfers with POST /v1/transfers/:id/reversals.`,
              { param: name },
            );
          }
        }
        const expand = rejectExpand(params, EXPANDABLE);
        const amount = readInteger(params, 'amount', { min: 1, max: MAX_AMOUNT });
        const reason = readEnum(params, 'reason', REFUND_REASONS) ?? null;
        const metadata = readMetadata(params) ?? {};
        const charge = readString(params, 'charge') ?? undefined;
        const paymentIntent = readString(params, 'payment_intent') ?? undefined;
        const target = {
          ...(charge !== undefined && { charge }),
          ...(paymentIntent !== undefined && { paymentIntent }),
        };
        refunds.target(target);
        const input = { ...target, ...(amount !== undefined && { amount }), reason, metadata };
        return () => ok(render(refunds.create(input, originOf(request)), expand));
      },
    },
    {
      method: 'GET',
      path: COLLECTION_URL,
      prepare: ({ params }) => {
        rejectUnknownParams(params, [
          'charge',
          'created',
          'ending_before',
          'expand',
          'limit',
          'payment_intent',
          'starting_after',
        ]);
        return list(params, COLLECTION_URL);
      },
    },
    {
      method: 'GET',
      path: `${COLLECTION_URL}/:id`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['expand']);
        const expand = rejectExpand(params, EXPANDABLE);
        const refund = refunds.get(pathParams.id ?? '');
        return () => ok(render(refund, expand));
      },
    },
    {
      method: 'POST',
      path: `${COLLECTION_URL}/:id`,
      prepare: (request) => {
        const { params } = request;
        rejectUnknownParams(params, ['expand', 'metadata']);
        const expand = rejectExpand(params, EXPANDABLE);
        const id = request.pathParams.id ?? '';
        refunds.get(id);
        const metadata = readMetadataUpdate(params);
        return () => ok(render(metadata ? refunds.update(id, metadata, originOf(request)) : refunds.get(id), expand));
      },
    },
    {
      method: 'POST',
      path: `${COLLECTION_URL}/:id/cancel`,
      prepare: (request) => {
        const { params } = request;
        rejectUnknownParams(params, ['expand']);
        const expand = rejectExpand(params, EXPANDABLE);
        const id = request.pathParams.id ?? '';
        refunds.get(id);
        return () => ok(render(refunds.cancel(id, originOf(request)), expand));
      },
    },
    {
      method: 'GET',
      path: '/v1/charges/:id/refunds',
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['ending_before', 'expand', 'limit', 'starting_after']);
        const chargeId = pathParams.id ?? '';
        if (!sources.hasCharge(chargeId)) {
          throw invalidRequest(`No such charge: '${chargeId}'`, { code: 'resource_missing', param: 'id', status: 404 });
        }
        return list(params, `/v1/charges/${chargeId}/refunds`, chargeId);
      },
    },
  ];
}
