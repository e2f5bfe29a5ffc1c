/**
 * `npm start`: the whole system on this machine, on loopback. Configuration comes from environment variables
 * (see .env.example); `--in-memory` keeps nothing on disk. Ctrl-C stops every part.
 */
import { type WorkQueueName, workQueues } from '../lambdas/catalog';
import { loadLocalStackConfig } from '../src/core/config';
import { startLocalStack } from './stack';

async function main(): Promise<void> {
  process.setSourceMapsEnabled(true);
  const config = loadLocalStackConfig({
    ...process.env,
    ...(process.argv.includes('--in-memory') ? { LOCAL_IN_MEMORY: 'true' } : {}),
  });
  const stack = await startLocalStack(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the local stack...\n`);
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  const { urls } = stack;
  const example = JSON.stringify({
    checkout_id: 'chk_example_1',
    buyer: { id: 'buyer_1', country: 'FR' },
    currency: 'EUR',
    payment_method: 'pm_card_visa',
    payment_orders: [
      { payment_order_id: 'po_example_1', seller_account: 'seller_a', amount: '12.34' },
      { payment_order_id: 'po_example_2', seller_account: 'seller_b', amount: '5.00' },
    ],
  });
  process.stdout.write(
    [
      `Local payment system is up (${config.inMemory ? 'in memory' : `data in ${config.dataDir}/`}).`,
      `  API             ${urls.api}`,
      `  ops console     ${urls.api}/ops (sign in with an admin API key, e.g. the dev key)`,
      `  Step Functions  ${urls.sfn}`,
      `  DynamoDB Local  ${urls.dynamodb}`,
      `  SQS / S3        ${urls.sqs}`,
      `  PSP simulator   ${urls.psp}`,
      `  failed payments ${stack.failedPaymentsQueueUrl}`,
      ...Object.entries(workQueues).map(
        ([name, spec]) => `  work queue      ${stack.workQueueUrls[name as WorkQueueName]} (${spec.description})`,
      ),
      '',
      `Dev API key (also in ${stack.devApiKeyFile}):`,
      `  ${stack.devApiKey}`,
      '',
      'Try:',
      `  curl -s -X POST ${urls.api}/v1/payments -H 'Authorization: Bearer ${stack.devApiKey}' -H 'Idempotency-Key: chk_example_1-1' \\`,
      `    -H 'Content-Type: application/json' -d '${example}'`,
      `  curl -s ${urls.api}/v1/payments/<payment_id> -H 'Authorization: Bearer ${stack.devApiKey}'`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  // One machine-readable line for scripts and tests that start the stack.
  process.stdout.write(
    `LOCAL_STACK_READY ${JSON.stringify({ urls, devApiKey: stack.devApiKey, failedPaymentsQueueUrl: stack.failedPaymentsQueueUrl })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`local stack failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
