/**
 * In-memory fakes for unit tests (no network): the payments table, the PSP and the risk provider.
 * The payments fake honours the real write conditions: the transition table (allowedSources), the all-or-nothing
 * transaction over the event and/or its orders, `reason: null` removing the reason, the `by-status` index that holds
 * an open payment by its creation time and drops it when it becomes final (as in src/payin/payments-table.ts).
 */

import type { TransactGuard } from '../../src/ledger/wallets';
import { DuplicateCheckoutError } from '../../src/payin/errors';
import { allowedSources, type OrderStatus, type PaymentEvent, type PaymentOrder } from '../../src/payin/payment';
import type { Payment, PaymentsStore, WebhookLog } from '../../src/payin/ports';
import type { RiskAssessment, RiskProvider, RiskSubject } from '../../src/payin/risk';
import type {
  ChargeRequest,
  ChargeResult,
  HostedPayment,
  HostedPaymentRequest,
  Psp,
  PspChargeState,
} from '../../src/psp/types';

export const T0 = '2026-11-21T10:00:00.000Z';

type Changes = {
  reason?: string | null;
  pspReference?: string;
  set?: Record<string, unknown>;
  eventSet?: Record<string, unknown>;
  /** Only from these states (within the transition table). */
  from?: OrderStatus[];
  /** An extra condition on the event item. */
  eventIf?: { name: string; equals: string };
};

interface Stored {
  event: PaymentEvent;
  orders: PaymentOrder[];
  /** The `by-status` index entry of the event while it is open: its sort key (creation time, then id). */
  index?: string;
}

export class FakePaymentsTable implements PaymentsStore, WebhookLog {
  private readonly items = new Map<string, Stored>();
  /** The bound of every openIdsCreatedBefore call, in order. */
  readonly openQueries: string[] = [];
  /** PSP webhook events recorded as applied: id -> the details recorded with it. */
  readonly webhooks = new Map<string, Record<string, unknown>>();

  constructor(private readonly now: () => string = () => new Date().toISOString()) {}

  /** Stores a payment as is; an open one has its index entry (created_at#payment_id), as `create` writes it. */
  put(payment: Payment): void {
    const final = payment.event.status === 'SUCCESS' || payment.event.status === 'FAILED';
    this.items.set(payment.event.payment_id, {
      event: structuredClone(payment.event),
      orders: structuredClone(payment.orders),
      ...(!final && { index: `${payment.event.created_at}#${payment.event.payment_id}` }),
    });
  }

  /** The typed view the code under test expects. */
  asTable(): PaymentsStore & WebhookLog {
    return this;
  }

  async getEvent(paymentId: string): Promise<PaymentEvent | undefined> {
    const stored = this.items.get(paymentId);
    return stored ? structuredClone(stored.event) : undefined;
  }

  async get(paymentId: string): Promise<Payment | undefined> {
    const stored = this.items.get(paymentId);
    if (!stored) return undefined;
    const orders = new Map(stored.orders.map((o) => [o.payment_order_id, o]));
    return structuredClone({
      event: stored.event,
      orders: stored.event.order_ids.map((id) => orders.get(id)).filter((o) => o !== undefined),
    });
  }

  async transition(
    payment: Payment,
    to: OrderStatus,
    changes: Changes = {},
    scope: 'all' | 'event' | 'orders' = 'all',
  ): Promise<boolean> {
    const stored = this.items.get(payment.event.payment_id);
    const sources = allowedSources(to).filter((source) => !changes.from || changes.from.includes(source));
    const targets: (PaymentEvent | PaymentOrder)[] = [];
    if (scope !== 'orders') {
      if (!stored) return false; // the condition fails on a missing item
      const { eventIf } = changes;
      if (eventIf && (stored.event as unknown as Record<string, unknown>)[eventIf.name] !== eventIf.equals)
        return false;
      targets.push(stored.event);
    }
    if (scope !== 'event') {
      for (const order of payment.orders) {
        const current = stored?.orders.find((o) => o.payment_order_id === order.payment_order_id);
        if (!current) return false;
        targets.push(current);
      }
    }
    if (targets.length === 0) throw new Error('TransactWriteItems needs at least one item');
    if (!targets.every((item) => sources.includes(item.status))) return false;
    const now = this.now();
    for (const item of targets) {
      const record = item as unknown as Record<string, unknown>;
      record.status = to;
      record.updated_at = now;
      if (changes.reason === null) delete record.status_reason;
      else if (changes.reason !== undefined) record.status_reason = changes.reason;
      Object.assign(record, structuredClone(changes.set ?? {}));
      if (changes.pspReference !== undefined) record.psp_reference = changes.pspReference;
    }
    if (stored && changes.eventSet && Object.keys(changes.eventSet).length > 0) {
      Object.assign(stored.event, structuredClone(changes.eventSet));
      if (scope === 'orders') stored.event.updated_at = now;
    }
    if (scope !== 'orders' && stored && (to === 'SUCCESS' || to === 'FAILED')) delete stored.index;
    return true;
  }

  async setEventFields(
    paymentId: string,
    fields: Record<string, unknown>,
    ifStatusIn?: OrderStatus[],
    ifAbsent?: string,
  ) {
    const stored = this.items.get(paymentId);
    if (!stored) return false;
    if (ifStatusIn && !ifStatusIn.includes(stored.event.status)) return false;
    if (ifAbsent && (stored.event as unknown as Record<string, unknown>)[ifAbsent] !== undefined) return false;
    Object.assign(stored.event, structuredClone(fields), { updated_at: this.now() });
    return true;
  }

  async create(event: PaymentEvent, orders: PaymentOrder[]): Promise<void> {
    const existing = [...this.items.values()].find((stored) => stored.event.checkout_id === event.checkout_id);
    if (existing) throw new DuplicateCheckoutError(event.checkout_id, existing.event.payment_id);
    this.put({ event, orders });
  }

  /** A guard item in the shape the real table returns; the fake never executes transactions. */
  markBooked(order: PaymentOrder, flag: 'wallet_updated' | 'ledger_updated'): TransactGuard {
    return {
      Update: {
        TableName: 'fake-payments',
        Key: { pk: `PAY#${order.payment_id}`, sk: `ORDER#${order.payment_order_id}` },
        UpdateExpression: `SET ${flag} = :true`,
        ExpressionAttributeValues: { ':true': true },
      },
    };
  }

  async webhookSeen(eventId: string): Promise<boolean> {
    return this.webhooks.has(eventId);
  }

  /** Records an applied webhook event once: false when it was recorded before. */
  async recordWebhook(eventId: string, details: Record<string, unknown>): Promise<boolean> {
    if (this.webhooks.has(eventId)) return false;
    this.webhooks.set(eventId, structuredClone(details));
    return true;
  }

  /** The arguments of every requeueOpen call, in order. */
  readonly requeued: { paymentId: string; after: string }[] = [];

  async requeueOpen(paymentId: string, after: string): Promise<void> {
    this.requeued.push({ paymentId, after });
    const stored = this.items.get(paymentId);
    if (stored?.index !== undefined) stored.index = `${after}#${paymentId}`;
  }

  async *openIdsCreatedBefore(before: string): AsyncGenerator<string> {
    this.openQueries.push(before);
    const ids = [...this.items.values()]
      .flatMap((item) => (item.index !== undefined && item.index < before ? [{ key: item.index, item }] : []))
      .sort((a, b) => a.key.localeCompare(b.key))
      .map(({ item }) => item.event.payment_id);
    for (const id of ids) yield id;
  }
}

export class FakePsp implements Psp {
  /** Every call, by method name, in order. */
  readonly calls: string[] = [];
  readonly chargeRequests: ChargeRequest[] = [];
  readonly findRequests: string[] = [];
  /** What `charge` answers. */
  chargeResult: ChargeResult = { outcome: 'SUCCEEDED', pspReference: 'pi_fake' };
  /** What the PSP holds per payment id; a function is called instead (to throw, or to change things meanwhile). */
  readonly charges = new Map<string, PspChargeState[] | (() => Promise<PspChargeState[]>)>();

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    this.calls.push('charge');
    this.chargeRequests.push(request);
    return this.chargeResult;
  }

  async findCharges(paymentId: string): Promise<PspChargeState[]> {
    this.calls.push('findCharges');
    this.findRequests.push(paymentId);
    const held = this.charges.get(paymentId) ?? [];
    return typeof held === 'function' ? held() : structuredClone(held);
  }

  /** Arguments of every registerHostedPayment call. */
  readonly hostedRequests: HostedPaymentRequest[] = [];
  /** What `registerHostedPayment` answers; a function is called instead (to throw). Unset: the call throws. */
  hostedPayment?: HostedPayment | ((request: HostedPaymentRequest) => Promise<HostedPayment>);
  /** Arguments of every retrieve call. */
  readonly retrieveRequests: string[] = [];
  /** What `retrieve` answers per reference; a function is called instead. A reference not set: the call throws. */
  readonly states = new Map<string, PspChargeState | (() => Promise<PspChargeState>)>();
  /** Arguments of every stopPending call. */
  readonly stopRequests: { pspReference: string; sessionId: string | undefined; idempotencyKey: string }[] = [];
  /** What `stopPending` answers; a function is called instead (to look at the table then, or to throw). Unset: throws. */
  stopResult?: PspChargeState | (() => Promise<PspChargeState>);

  async registerHostedPayment(request: HostedPaymentRequest): Promise<HostedPayment> {
    if (this.hostedPayment === undefined) return this.unexpected('registerHostedPayment');
    this.calls.push('registerHostedPayment');
    this.hostedRequests.push(structuredClone(request));
    return typeof this.hostedPayment === 'function' ? this.hostedPayment(request) : { ...this.hostedPayment };
  }

  async retrieve(pspReference: string): Promise<PspChargeState> {
    const state = this.states.get(pspReference);
    if (state === undefined) return this.unexpected('retrieve');
    this.calls.push('retrieve');
    this.retrieveRequests.push(pspReference);
    return typeof state === 'function' ? state() : { ...state };
  }

  async stopPending(pspReference: string, sessionId: string | undefined, idempotencyKey: string) {
    if (this.stopResult === undefined) return this.unexpected('stopPending');
    this.calls.push('stopPending');
    this.stopRequests.push({ pspReference, sessionId, idempotencyKey });
    return typeof this.stopResult === 'function' ? this.stopResult() : { ...this.stopResult };
  }

  private unexpected(method: string): never {
    this.calls.push(method);
    throw new Error(`FakePsp.${method} is not faked`);
  }
}

export class FakeRisk implements RiskProvider {
  readonly subjects: RiskSubject[] = [];
  constructor(public assessment: RiskAssessment = { decision: 'APPROVE', reasons: [] }) {}

  async assess(payment: RiskSubject): Promise<RiskAssessment> {
    this.subjects.push(payment);
    return this.assessment;
  }
}

/** Resumes waiting workflows (a TaskResponder of src/payin/pending.ts): records the answers. */
export class FakeTasks {
  readonly succeeded: { token: string; output: unknown }[] = [];

  async succeed(token: string, output: unknown): Promise<boolean> {
    this.succeeded.push({ token, output });
    return true;
  }
}

/** A checkout of 30.00 EUR: two orders (10.00 and 20.00), everything in `status` unless said otherwise. */
export function makePayment(
  options: {
    id?: string;
    status?: OrderStatus;
    orderStatus?: OrderStatus;
    updatedAt?: string;
    event?: Partial<PaymentEvent>;
    order?: Partial<PaymentOrder>;
  } = {},
): Payment {
  const id = options.id ?? 'pay_1';
  const status = options.status ?? 'NOT_STARTED';
  const updatedAt = options.updatedAt ?? T0;
  const order = (n: number, amount: number, fee: number): PaymentOrder => ({
    payment_id: id,
    payment_order_id: `${id}_ord_${n}`,
    seller_account: `seller_${n}`,
    currency: 'EUR',
    amount_minor: amount,
    fee_minor: fee,
    status: options.orderStatus ?? status,
    wallet_updated: false,
    ledger_updated: false,
    created_at: T0,
    updated_at: updatedAt,
    ...options.order,
  });
  // A cast, not a typed literal: `mode` is new in PaymentEvent; the fixture compiles with or without it.
  const event = {
    payment_id: id,
    checkout_id: `chk_${id}`,
    buyer: { id: 'buyer_1', country: 'FR' },
    currency: 'EUR',
    total_minor: 3000,
    mode: 'token',
    payment_method: 'pm_card_visa',
    status,
    order_ids: [`${id}_ord_1`, `${id}_ord_2`],
    created_at: T0,
    updated_at: updatedAt,
    ...options.event,
  } as PaymentEvent;
  return { event, orders: [order(1, 1000, 25), order(2, 2000, 50)] };
}
