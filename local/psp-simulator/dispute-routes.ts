// The /v1/disputes endpoints (disputes.ts), as stripe.disputes.* calls them. Disputes are opened by the admin
// (POST /__admin/disputes), as a cardholder's bank opens them.
//
//   GET  /v1/disputes                  newest first; charge, payment_intent, created, limit, cursors;
//                                      expand: data.charge, data.payment_intent
//   GET  /v1/disputes/:id              expand: charge, payment_intent
//   POST /v1/disputes/:id              evidence[...] (text, or File ids for the documents; '' unsets), metadata,
//                                      submit (default true: staged evidence is submitted, `under_review`),
//                                      intended_submission_method
//   POST /v1/disputes/:id/close        accepts the dispute: `lost`
//
// A dispute's state decides whether it can change (closed, already submitted): decided when executing, so stored
// under the idempotency key. Enhanced evidence and appeals are not modelled: refused.

import type Stripe from 'stripe';
import { readMetadataUpdate } from './account-routes';
import { ok, type Route } from './api';
import { rejectExpand } from './connect-routes';
import { type DisputeService, type DisputeUpdateInput, EVIDENCE_FIELDS, INTENDED_SUBMISSION_METHODS } from './disputes';
import { invalidRequest } from './errors';
import type { FormObject } from './form';
import { inCreatedRange, paginate, readListParams } from './list';
import { prefixed, readBoolean, readEnum, readObject, readString, rejectUnknownParams } from './params';
import { originOf } from './payment-intent-routes';

const COLLECTION_URL = '/v1/disputes';
const EXPANDABLE = ['charge', 'payment_intent'];

export interface DisputeRouteSources {
  disputes: DisputeService;
  /** The Charge object as GET /v1/charges/:id renders it. */
  renderCharge(id: string): Stripe.Charge | undefined;
  paymentIntent(id: string): Stripe.PaymentIntent | undefined;
}

export function disputeRoutes(sources: DisputeRouteSources): Route[] {
  const { disputes } = sources;
  const render = (dispute: Stripe.Dispute, expand: string[]): Stripe.Dispute => {
    if (expand.includes('charge') && typeof dispute.charge === 'string') {
      dispute.charge = sources.renderCharge(dispute.charge) ?? dispute.charge;
    }
    if (expand.includes('payment_intent') && typeof dispute.payment_intent === 'string') {
      dispute.payment_intent = sources.paymentIntent(dispute.payment_intent) ?? dispute.payment_intent;
    }
    return dispute;
  };

  return [
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
        const listParams = readListParams(params);
        const charge = readString(params, 'charge') ?? undefined;
        const paymentIntent = readString(params, 'payment_intent') ?? undefined;
        const expand = rejectExpand(params, EXPANDABLE, 'data.');
        return () => {
          const page = paginate(
            disputes.newestFirst(),
            (dispute) =>
              inCreatedRange(dispute.created, listParams.created) &&
              (charge === undefined || dispute.charge === charge) &&
              (paymentIntent === undefined || dispute.payment_intent === paymentIntent),
            listParams,
            COLLECTION_URL,
            'dispute',
          );
          return ok({ ...page, data: page.data.map((dispute) => render(dispute, expand)) });
        };
      },
    },
    {
      method: 'GET',
      path: `${COLLECTION_URL}/:id`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['expand']);
        const expand = rejectExpand(params, EXPANDABLE);
        const dispute = disputes.get(pathParams.id ?? '');
        return () => ok(render(dispute, expand));
      },
    },
    {
      method: 'POST',
      path: `${COLLECTION_URL}/:id`,
      prepare: (request) => {
        const { params } = request;
        rejectUnknownParams(params, ['evidence', 'expand', 'intended_submission_method', 'metadata', 'submit']);
        const expand = rejectExpand(params, EXPANDABLE);
        const id = request.pathParams.id ?? '';
        disputes.get(id);
        const input: DisputeUpdateInput = {};
        const evidence = readEvidence(params);
        if (evidence) input.evidence = evidence;
        const metadata = readMetadataUpdate(params);
        if (metadata) input.metadata = metadata;
        const submit = readBoolean(params, 'submit');
        if (submit !== undefined) input.submit = submit;
        const method = readEnum(params, 'intended_submission_method', INTENDED_SUBMISSION_METHODS);
        if (method) input.intendedSubmissionMethod = method;
        return () => ok(render(disputes.update(id, input, originOf(request)), expand));
      },
    },
    {
      method: 'POST',
      path: `${COLLECTION_URL}/:id/close`,
      prepare: (request) => {
        rejectUnknownParams(request.params, ['expand']);
        const expand = rejectExpand(request.params, EXPANDABLE);
        const id = request.pathParams.id ?? '';
        disputes.get(id);
        return () => ok(render(disputes.accept(id, originOf(request)), expand));
      },
    },
  ];
}

function readEvidence(params: FormObject): DisputeUpdateInput['evidence'] {
  const evidence = readObject(params, 'evidence');
  if (!evidence) return undefined;
  return prefixed('evidence', () => {
    rejectUnknownParams(evidence, [...EVIDENCE_FIELDS, 'appeal', 'enhanced_evidence']);
    for (const name of ['appeal', 'enhanced_evidence']) {
      if (evidence[name] !== undefined) {
        throw invalidRequest(`The PSP simulator does not model ${name} evidence.`, { param: name });
      }
    }
    const fields: NonNullable<DisputeUpdateInput['evidence']> = {};
    for (const name of EVIDENCE_FIELDS) {
      const value = readString(evidence, name);
      if (value !== undefined) fields[name] = value;
    }
    return fields;
  });
}
