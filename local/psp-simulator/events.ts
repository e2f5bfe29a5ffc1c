// Stripe's Event objects (`evt_...`): one per state change, holding a snapshot of the object at that
// moment, listed newest first at /v1/events and delivered to the webhook endpoint (webhooks.ts).
//
// The simulator emits (lifecycle-events.ts decides which, in Stripe's order for one change):
//   payment_intent.{created, requires_action, processing, amount_capturable_updated, succeeded, payment_failed,
//     canceled}
//   charge.{succeeded, failed, captured, refunded}   (refunded: an uncaptured charge released by a cancel, or a
//     refund that succeeded)
//   refund.{created, updated, failed}   (refunds.ts)
//   charge.dispute.{created, funds_withdrawn, updated, funds_reinstated, closed}   (disputes.ts)
//   checkout.session.{completed, expired, async_payment_succeeded, async_payment_failed} (the async ones once the
//     Checkout Session service reports them for a payment that was `processing`)
//   account.updated, balance.available, transfer.{created, updated, reversed},
//     payout.{created, updated, paid, failed, canceled}   (Connect: accounts.ts, transfers.ts, payouts.ts, connect.ts)
//
// Connect events: an event about a connected account's object (its account.updated, its payouts, its balance) carries
// `account: "acct_..."` at the top level, as Stripe's Connect events do; /v1/events lists the events of the account a
// request acts for (the platform's, or with `Stripe-Account` that account's). The one webhook endpoint receives both
// (on Stripe a Connect endpoint receives the connected accounts' events). `*.updated` events carry
// `data.previous_attributes` (the changed top-level fields as they were). `created` is the money clock
// (money-clock.ts), which equals the simulator's clock until someone advances it.
//
// API version: an event is rendered once, when it is created. Its `api_version` as /v1/events shows it is the
// account's default version; the body delivered to the webhook endpoint carries the ENDPOINT's version (its
// `apiVersion`, the account's default when it has none), never the version of the API request that caused it.
// Both are fixed at creation: a later change of the endpoint's version does not re-render old events.

import type Stripe from 'stripe';
import { ok, type Route } from './api';
import { invalidRequest } from './errors';
import { newId } from './ids';
import { inCreatedRange, paginate, readListParams } from './list';
import { readBoolean, readString, readStringList, rejectUnknownParams } from './params';
import { ACCOUNT_API_VERSION } from './versions';

/** The API request that caused an event; both null for changes made by the buyer or the PSP itself. */
export interface EventOrigin {
  id: string | null;
  idempotency_key: string | null;
}

export const AUTOMATIC: EventOrigin = Object.freeze({ id: null, idempotency_key: null });

export type EmittedEventType =
  | 'payment_intent.created'
  | 'payment_intent.succeeded'
  | 'payment_intent.payment_failed'
  | 'payment_intent.requires_action'
  | 'payment_intent.processing'
  | 'payment_intent.canceled'
  | 'payment_intent.amount_capturable_updated'
  | 'charge.succeeded'
  | 'charge.failed'
  | 'charge.captured'
  | 'charge.refunded'
  | 'refund.created'
  | 'refund.updated'
  | 'refund.failed'
  | 'charge.dispute.created'
  | 'charge.dispute.funds_withdrawn'
  | 'charge.dispute.updated'
  | 'charge.dispute.funds_reinstated'
  | 'charge.dispute.closed'
  | 'checkout.session.completed'
  | 'checkout.session.expired'
  | 'checkout.session.async_payment_succeeded'
  | 'checkout.session.async_payment_failed'
  | 'account.updated'
  | 'balance.available'
  | 'transfer.created'
  | 'transfer.updated'
  | 'transfer.reversed'
  | 'payout.created'
  | 'payout.updated'
  | 'payout.paid'
  | 'payout.failed'
  | 'payout.canceled';

export interface EmitOptions {
  /** The connected account the event is about (Connect events); absent for the platform's own. */
  account?: string;
  /** `data.previous_attributes` of an update. */
  previousAttributes?: Record<string, unknown>;
  /** The event's `created` (default: now); a due transition applied late is dated when it was due. */
  created?: number;
}

export interface StoredEvent {
  event: Stripe.Event;
  /**
   * The body delivered to the webhook endpoint, rendered in the endpoint's API version when the event was
   * created: every delivery of the event sends exactly these bytes.
   */
  payload: string;
}

export class EventStore {
  // Insertion order is creation order.
  private readonly events = new Map<string, StoredEvent>();

  constructor(
    private readonly nowSeconds: () => number,
    /** How many webhook endpoints will be sent a new event (0 or 1). */
    private readonly endpointCount: () => number,
    private readonly onEvent: (stored: StoredEvent) => void,
    /** The webhook endpoint's API version (undefined: none set, or no endpoint). */
    private readonly endpointApiVersion: () => string | undefined = () => undefined,
  ) {}

  emit(type: EmittedEventType, object: object, origin: EventOrigin, options: EmitOptions = {}): Stripe.Event {
    const event = {
      id: newId('evt'),
      object: 'event',
      ...(options.account !== undefined && { account: options.account }),
      api_version: ACCOUNT_API_VERSION,
      created: options.created ?? this.nowSeconds(),
      data: {
        object: structuredClone(object),
        ...(options.previousAttributes !== undefined && {
          previous_attributes: structuredClone(options.previousAttributes),
        }),
      },
      livemode: false,
      pending_webhooks: this.endpointCount(),
      request: { id: origin.id, idempotency_key: origin.idempotency_key },
      type,
    } as unknown as Stripe.Event;
    const delivered = { ...event, api_version: this.endpointApiVersion() ?? ACCOUNT_API_VERSION };
    const stored: StoredEvent = { event, payload: JSON.stringify(delivered, null, 2) };
    this.events.set(event.id, stored);
    this.onEvent(stored);
    return event;
  }

  find(id: string): StoredEvent | undefined {
    return this.events.get(id);
  }

  get(id: string): Stripe.Event {
    const stored = this.events.get(id);
    if (!stored) throw invalidRequest(`No such event: '${id}'`, { code: 'resource_missing', param: 'id', status: 404 });
    return stored.event;
  }

  /** A successful delivery: one endpoint fewer still waiting for it. */
  delivered(id: string): void {
    const stored = this.events.get(id);
    if (stored && stored.event.pending_webhooks > 0) stored.event.pending_webhooks -= 1;
  }

  newestFirst(): Stripe.Event[] {
    return [...this.events.values()].map((stored) => stored.event).reverse();
  }

  oldestFirst(): Stripe.Event[] {
    return [...this.events.values()].map((stored) => stored.event);
  }
}

const COLLECTION_URL = '/v1/events';

export function eventRoutes(events: EventStore): Route[] {
  return [
    {
      method: 'GET',
      path: COLLECTION_URL,
      stripeAccount: true,
      prepare: ({ params, account }) => {
        rejectUnknownParams(params, [
          'created',
          'delivery_success',
          'ending_before',
          'expand',
          'limit',
          'starting_after',
          'type',
          'types',
        ]);
        const listParams = readListParams(params);
        const type = readString(params, 'type') ?? undefined;
        const types = readStringList(params, 'types');
        if (type && types) {
          throw invalidRequest('You may only specify one of these parameters: type, types.', { param: 'types' });
        }
        const deliverySuccess = readBoolean(params, 'delivery_success');
        const patterns = types ?? (type ? [type] : undefined);
        return () => {
          const matches = (event: Stripe.Event) =>
            (event.account ?? undefined) === account &&
            inCreatedRange(event.created, listParams.created) &&
            (!patterns || patterns.some((pattern) => typeMatches(pattern, event.type))) &&
            (deliverySuccess === undefined || (event.pending_webhooks === 0) === deliverySuccess);
          const page = paginate(events.newestFirst(), matches, listParams, COLLECTION_URL, 'event');
          return ok({ ...page, data: page.data.map((event) => structuredClone(event)) });
        };
      },
    },
    {
      method: 'GET',
      path: `${COLLECTION_URL}/:id`,
      stripeAccount: true,
      prepare: ({ params, pathParams, account }) => {
        rejectUnknownParams(params, ['expand']);
        const id = pathParams.id ?? '';
        const event = events.get(id);
        // Another account's event does not exist for this one.
        if ((event.account ?? undefined) !== account) {
          throw invalidRequest(`No such event: '${id}'`, { code: 'resource_missing', param: 'id', status: 404 });
        }
        return () => ok(structuredClone(event));
      },
    },
  ];
}

/** `payment_intent.*` matches every payment_intent event, as Stripe's `type` filter does. */
function typeMatches(pattern: string, type: string): boolean {
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}
