/**
 * Imported by the functions that call the PSP for refunds and disputes (the catalog lets them read the PSP key):
 * provides the Stripe adapter. Other functions leave stripe out of their bundles.
 */
import { stripe } from '../psp/client';
import { StripeRefunds } from '../psp/stripe-refunds';
import { refundPsp } from './deps';

refundPsp.provide(() => new StripeRefunds(stripe));
