// Which events each state change emits, between the services and the event store (server.ts wires it):
//
//   a PaymentIntent is created (also a Checkout Session's)  payment_intent.created
//   a charge succeeds / is declined                          charge.succeeded / charge.failed, then the intent's
//                                                            event (payment_intent.succeeded,
//                                                            .amount_capturable_updated or .payment_failed)
//   an authorization is captured                             charge.captured, then payment_intent.succeeded
//   an authorization is released by a cancel                 charge.refunded, then payment_intent.canceled
//   any other intent change (requires_action, processing...) the intent's event alone
//
// The charge ledger reports a change as it happens, before the intent has its new state (a decline's message
// is set on the intent after the charge is recorded); its event waits for the intent's report of the same
// change, so the charge is rendered complete and its event comes first, as Stripe sends them.
//
// `payment_intent.created` is reported by PaymentIntentService.create once the intent is stored, before a
// confirmation (so the event holds the intent as created); it is emitted once per intent.
//
// Refunds and disputes emit their own events (refund.*, charge.refunded of a refund, charge.dispute.*): refunds.ts,
// disputes.ts.

import type Stripe from 'stripe';
import type { ChargeChange, ChargeLedger, ChargeRecord } from './charges';
import type { EmittedEventType, EventOrigin, EventStore } from './events';
import type { IntentEventType } from './payment-intents';

export class LifecycleEvents {
  /** Intents whose payment_intent.created was emitted. */
  private readonly announced = new Set<string>();
  /** Charge changes waiting for their intent's report. */
  private readonly pending: { record: ChargeRecord; change: ChargeChange }[] = [];

  constructor(
    private readonly events: EventStore,
    private readonly charges: ChargeLedger,
    private readonly renderCharge: (record: ChargeRecord) => Stripe.Charge,
  ) {}

  /** The ledger's report of a change. */
  chargeChanged(record: ChargeRecord, change: ChargeChange): void {
    this.pending.push({ record, change });
  }

  /** The intent service's report of a change (IntentHooks.changed). */
  intentChanged(type: IntentEventType, intent: Stripe.PaymentIntent, origin: EventOrigin): void {
    if (type === 'payment_intent.created') {
      this.created(intent, origin);
      return;
    }
    this.flushCharges(intent, origin);
    this.events.emit(type, intent, origin);
  }

  /** Emits payment_intent.created once per intent. */
  private created(intent: Stripe.PaymentIntent, origin: EventOrigin): void {
    if (this.announced.has(intent.id)) return;
    this.announced.add(intent.id);
    this.events.emit('payment_intent.created', intent, origin);
  }

  private flushCharges(intent: Stripe.PaymentIntent, origin: EventOrigin): void {
    const ledger = this.charges;
    for (let i = 0; i < this.pending.length; ) {
      const entry = this.pending[i] as { record: ChargeRecord; change: ChargeChange };
      if (entry.record.payment_intent !== intent.id) {
        i += 1;
        continue;
      }
      this.pending.splice(i, 1);
      const error = intent.last_payment_error;
      if (entry.change === 'failed' && error?.charge === entry.record.id) {
        ledger.describeFailure(entry.record.id, {
          message: error.message ?? 'Your card was declined.',
          declineCode: error.decline_code ?? null,
        });
      }
      const current = ledger.get(entry.record.id) ?? entry.record;
      this.events.emit(`charge.${entry.change}` as EmittedEventType, this.renderCharge(current), origin);
    }
  }
}
