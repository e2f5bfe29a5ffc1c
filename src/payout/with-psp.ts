/**
 * Imported by the functions that call the PSP for the pay-out (the catalog lets them read the Connect key): provides
 * the Stripe Connect adapter. Other functions leave stripe out of their bundles.
 */
import { stripeConnect } from '../psp/client';
import { StripeConnect } from '../psp/stripe-connect';
import { payoutPsp } from './deps';

payoutPsp.provide(() => new StripeConnect(stripeConnect));
