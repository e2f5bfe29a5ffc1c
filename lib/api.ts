import { Duration } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  IdentitySource,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RequestAuthorizer,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type FunctionId, type FunctionSpec, functions as functionSpecs, type RouteSpec } from '../lambdas/catalog';
import { acknowledge } from './nag';
import { ApiFirewall, DEFAULT_WAF_RATE_LIMIT } from './waf';

export interface PaymentsApiProps {
  routes: RouteSpec[];
  functions: Record<FunctionId, IFunction>;
  /** The REQUEST authorizer function, put on every route with `authorized: true`. */
  authorizer: IFunction;
  /** Steady-state requests per second for the whole stage, and the burst above it. */
  throttling?: { rateLimit: number; burstLimit: number };
  /** Requests per client IP per 5 minutes above which the WAF blocks the IP (`DEFAULT_WAF_RATE_LIMIT` by default). */
  wafRateLimit?: number;
}

/**
 * Why a public route (`authorized: false`) may be public: the only kind the catalog allows is the PSP's
 * webhook, whose function verifies the PSP's signature (it reads the webhook signing secret). Any other
 * public route fails the synth.
 */
export function publicRouteReason(
  route: RouteSpec,
  spec: FunctionSpec | undefined = functionSpecs[route.functionId],
): string {
  if (!spec?.webhookSecret) {
    throw new Error(
      `${route.method} ${route.path} has authorized: false but ${route.functionId} verifies no webhook signature ` +
        '(webhookSecret): a public route must authenticate its caller itself',
    );
  }
  return (
    'PSP webhook: authenticated by the Stripe-Signature HMAC verified in the function; API keys cannot be used by ' +
    `the PSP (${route.method} ${route.path}, authorized: false in lambdas/catalog.ts).`
  );
}

/** Why a route with `authorized: true` needs no Cognito authorizer (cdk-nag AwsSolutions-COG4 on its method). */
export const AUTHORIZED_ROUTE_REASON =
  "Callers are merchants' backends using Stripe-style secret API keys, not Cognito users: the Lambda REQUEST " +
  'authorizer of this method checks the bearer key against salted hashes in the ApiKeys table.';

/**
 * The HTTPS API: one method per route of `apiRoutes`, Lambda proxy integrations. No request templates,
 * models or validators and no binary media types: the handlers get the body exactly as sent (the webhook's
 * signature is computed over the raw body). Its stage is behind a WAF web ACL (`ApiFirewall`).
 */
/** API Gateway's own error answers, each with our error code. */
export const GATEWAY_ERRORS: [string, ResponseType, string][] = [
  ['Unauthorized', ResponseType.UNAUTHORIZED, 'unauthorized'],
  ['AccessDenied', ResponseType.ACCESS_DENIED, 'access_denied'],
  ['MissingAuthenticationToken', ResponseType.MISSING_AUTHENTICATION_TOKEN, 'missing_authentication_token'],
  ['Throttled', ResponseType.THROTTLED, 'rate_limited'],
  ['RequestTooLarge', ResponseType.REQUEST_TOO_LARGE, 'body_too_large'],
  ['WafBlocked', ResponseType.WAF_FILTERED, 'request_blocked'],
  ['Default4xx', ResponseType.DEFAULT_4XX, 'invalid_request'],
  ['Default5xx', ResponseType.DEFAULT_5XX, 'internal_error'],
];

export class PaymentsApi extends Construct {
  readonly api: RestApi;
  readonly firewall: ApiFirewall;

  constructor(scope: Construct, id: string, props: PaymentsApiProps) {
    super(scope, id);
    const throttling = props.throttling ?? { rateLimit: 100, burstLimit: 200 };

    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH });
    this.api = new RestApi(this, 'Api', {
      description: 'Marketplace payments API',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // Execution logging (ERROR, no request/response bodies) needs the account-level API Gateway
      // CloudWatch role: created here so a fresh account deploys without manual setup.
      cloudWatchRole: true,
      deployOptions: {
        throttlingRateLimit: throttling.rateLimit,
        throttlingBurstLimit: throttling.burstLimit,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
      },
    });

    // API Gateway's own answers (no or a refused key, no such route, throttled, too large) in the API's JSON error
    // shape, as the local gateway gives them: `{message, error: {code, message}}` (`message` kept for API Gateway's
    // usual clients).
    for (const [id, type, code] of GATEWAY_ERRORS) {
      this.api.addGatewayResponse(id, {
        type,
        templates: {
          'application/json': `{"message":$context.error.messageString,"error":{"code":"${code}","message":$context.error.messageString}}`,
        },
      });
    }

    // The stack outputs the URL itself (ApiUrl): drop the construct's own duplicate `Endpoint` output.
    this.api.node.tryRemoveChild('Endpoint');

    const authorizer = new RequestAuthorizer(this, 'Authorizer', {
      handler: props.authorizer,
      identitySources: [IdentitySource.header('Authorization')],
      resultsCacheTtl: Duration.minutes(5),
    });

    for (const route of props.routes) {
      // Checked before anything is added for the route.
      const publicReason = route.authorized ? undefined : publicRouteReason(route);
      const resource = this.api.root.resourceForPath(route.path);
      const integration = new LambdaIntegration(props.functions[route.functionId], { allowTestInvoke: false });
      const method = resource.addMethod(
        route.method,
        integration,
        route.authorized
          ? { authorizer, authorizationType: AuthorizationType.CUSTOM }
          : { authorizationType: AuthorizationType.NONE },
      );
      // Each method's authorization findings acknowledged on the method itself, with what is true of it: the
      // authorizer for the authorized routes; for the public (webhook) route, the signature its function verifies.
      if (publicReason) {
        acknowledge(
          method,
          { id: 'AwsSolutions-APIG4', reason: publicReason },
          { id: 'AwsSolutions-COG4', reason: publicReason },
        );
      } else {
        acknowledge(method, { id: 'AwsSolutions-COG4', reason: AUTHORIZED_ROUTE_REASON });
      }
    }

    this.firewall = new ApiFirewall(this, 'Firewall', {
      stage: this.api.deploymentStage,
      rateLimit: props.wafRateLimit ?? DEFAULT_WAF_RATE_LIMIT,
    });

    acknowledge(
      this.api,
      {
        id: 'AwsSolutions-APIG2',
        reason:
          'Request bodies are validated in the Lambda handlers with zod schemas (shared with the local stack), ' +
          'which return structured 400 errors: an API Gateway model would duplicate them. The GET routes take ' +
          "only path parameters; the PSP webhook's body must reach its function untouched (its Stripe signature " +
          'is computed over the raw body) and is verified there.',
      },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'AmazonAPIGatewayPushToCloudWatchLogs on the account-level API Gateway CloudWatch role is the AWS ' +
          'policy API Gateway documents for it: the service creates and writes its own execution log groups.',
      },
    );
  }
}
