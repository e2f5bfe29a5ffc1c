/**
 * API Gateway REQUEST authorizer: `Authorization: Bearer <secret key>` checked against salted hashes. A valid key is
 * allowed every route, with its scopes in the context; each handler checks the scope its route needs.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { ApiKeys, type ApiPrincipal, bearerToken, scopesToContext } from '../../src/api/api-keys';
import { dynamo, runtimeConfig } from '../../src/core/clients';
import { tableName } from '../../src/core/config';
import { logger } from '../../src/core/observability';

let keys: ApiKeys | undefined;

/**
 * Allows the whole API for a valid key, so API Gateway's authorizer cache serves every route. The scopes travel
 * in the context as one space-separated string (context values must be strings, numbers or booleans).
 */
function allowAll(methodArn: string, principal: ApiPrincipal): APIGatewayAuthorizerResult {
  const [arnPrefix = '', stage = '*'] = methodArn.split('/');
  return {
    principalId: principal.keyId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${arnPrefix}/${stage}/*/*` }],
    },
    context: { keyId: principal.keyId, scopes: scopesToContext(principal.scopes) },
  };
}

export const handler = async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  keys ??= new ApiKeys(dynamo(), tableName(runtimeConfig(), 'apiKeys'));
  const headers = event.headers ?? {};
  // Header names are case-insensitive.
  const header = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1] ?? undefined;
  const principal = await keys.verify(bearerToken(header));
  if (!principal) {
    logger.warn('refused API request: missing or invalid secret key', { path: event.path });
    // API Gateway answers 401 to exactly this error message.
    throw new Error('Unauthorized');
  }
  return allowAll(event.methodArn, principal);
};
