/** Small helpers shared by the tests that drive the PSP simulator with the real stripe SDK. */
import Stripe from 'stripe';

/** The StripeError a call fails with (fails the test when the call succeeds or throws something else). */
export async function caught(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Stripe.errors.StripeError) return error;
    throw error;
  }
  throw new Error('expected the Stripe call to fail');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
