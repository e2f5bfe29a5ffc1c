/**
 * X-Ray tracing of the AWS SDK clients (Powertools Tracer): on AWS each DynamoDB, Step Functions, SQS and S3 call
 * of a function is a subsegment of its Lambda trace (the functions run with tracing Active, lib/functions.ts).
 *
 * Only a client that talks to AWS itself is traced. A client with an endpoint override talks to an emulator (the
 * local stack sets one for every service: DynamoDB Local, fauxqs, the local Step Functions engine), where there is no
 * X-Ray daemon and nothing to trace: it is returned untouched, and the Tracer is not even loaded. That matters
 * beyond the tracing itself: loading the X-Ray SDK installs a process-wide async hook (cls-hooked), and the local
 * stack loads every handler bundle in one process. On AWS, Powertools decides as documented: tracing is on in a
 * Lambda execution environment (AWS_EXECUTION_ENV) unless POWERTOOLS_TRACE_ENABLED is `false`.
 */
import type { Tracer } from '@aws-lambda-powertools/tracer';

let shared: Tracer | undefined;

/** The one Tracer of the process, created on first use (see above: only for a client that talks to AWS). */
export function tracer(): Tracer {
  if (!shared) {
    // Loaded here rather than imported at the top: a process that never traces never loads the X-Ray SDK.
    const { Tracer: PowertoolsTracer } =
      require('@aws-lambda-powertools/tracer') as typeof import('@aws-lambda-powertools/tracer');
    // The service name is the project's own, as the logger's (src/core/observability.ts).
    shared = new PowertoolsTracer({ serviceName: 'payments' });
  }
  return shared;
}

/**
 * The client, traced when it talks to AWS (no `endpoint` override), else as it is. The document client of
 * @aws-sdk/lib-dynamodb shares its raw client's middleware stack: trace the raw client only, or calls are traced twice.
 */
export function traced<C extends { middlewareStack: unknown }>(client: C, endpoint: string | undefined): C {
  if (endpoint) return client;
  return tracer().captureAWSv3Client(client);
}
