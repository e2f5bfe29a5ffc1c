/**
 * Imported by the functions that call the PSP for the pay-in (the catalog lets them read the PSP key): provides the
 * Stripe adapter, each call recorded on the payment's timeline. Other functions leave stripe out of their bundles.
 */
import { stripe } from '../psp/client';
import { StripePsp } from '../psp/stripe-psp';
import { payInPsp } from './deps';
import { recordingPsp } from './psp-timeline';

payInPsp.provide(() => recordingPsp(new StripePsp(stripe)));
