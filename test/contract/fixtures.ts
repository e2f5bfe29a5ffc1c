// A PaymentIntent typed as the installed SDK declares it, for the validator's negative controls: the
// compiler guarantees it has every required property with the declared types, so the generated schema
// must accept it. After a stripe upgrade that adds a required property, `npx tsc --noEmit` names it here.

import type Stripe from 'stripe';

export function paymentIntentFixture(): Stripe.PaymentIntent {
  return {
    id: 'pi_3ContractFixture0000000001',
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: 2599,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 2599,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic_async',
    client_secret: 'pi_3ContractFixture0000000001_secret_abc',
    confirmation_method: 'automatic',
    created: 1_767_225_600,
    currency: 'usd',
    customer: null,
    customer_account: null,
    description: null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: 'ch_3ContractFixture0000000001',
    livemode: false,
    managed_payments: null,
    metadata: { payment_id: 'pay_1' },
    next_action: null,
    on_behalf_of: null,
    payment_method: 'pm_1ContractFixture0000000001',
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: ['card'],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: 'succeeded',
    transfer_data: null,
    transfer_group: null,
  };
}
