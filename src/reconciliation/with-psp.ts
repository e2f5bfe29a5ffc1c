/**
 * Imported by the functions that read the PSP's reports and records (the catalog lets them read the PSP key):
 * provides the Stripe reporting adapter. Other functions leave stripe out of their bundles.
 */
import { pspSecret, stripe } from '../psp/client';
import { StripeReporting } from '../psp/stripe-reporting';
import { reconciliationPsp } from './deps';

reconciliationPsp.provide(() => new StripeReporting(stripe, pspSecret));
