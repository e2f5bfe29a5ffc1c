/**
 * The Lambda client, in a module of its own: only a function that invokes another one (the catalog's `invokes`)
 * imports it, so no other function loads @aws-sdk/client-lambda at init (about 10 ms). Locally the stack's invoke
 * endpoint; traced on AWS like the other clients (src/core/clients.ts).
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { runtimeConfig } from './clients';
import { traced } from './tracing';

let lambdaClient: LambdaClient | undefined;

/**
 * No request timeout of the SDK's own: the invoked function's timeout bounds the call, and the caller's is longer.
 * One attempt: a call that failed on the way may have run, and a second one would run beside it; the caller decides
 * (reconciliation records the fix as not settled, and its next run asks again).
 */
export function lambda(): LambdaClient {
  if (!lambdaClient) {
    const { region, endpoints } = runtimeConfig();
    lambdaClient = traced(new LambdaClient({ region, endpoint: endpoints.lambda, maxAttempts: 1 }), endpoints.lambda);
  }
  return lambdaClient;
}
