/**
 * Replays dead-lettered payments safely (see src/payin/replay.ts).
 *
 *   npm run replay                       # every message of the failed-payments queue
 *   npm run replay -- pay_123 pay_456    # these payments
 *
 * Locally it uses the running stack's settings (`$LOCAL_DATA_DIR/function-env.json`, written by `npm start`).
 * On AWS, set AWS_REGION, PAYMENTS_TABLE, PAYIN_STATE_MACHINE_ARN, PSP_SECRET_ARN and FAILED_PAYMENTS_QUEUE_URL
 * (the stack outputs and table names). A message is deleted only once its payment was handled.
 */
import '../src/payin/with-psp';
import fs from 'node:fs';
import path from 'node:path';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { loadLocalStackConfig, loadRuntimeConfig } from '../src/core/config';

/** Like the local stack's launcher, sets the functions' environment (from the running stack's file) before loading. */
function loadLocalEnvironment(): void {
  const file = path.join(loadLocalStackConfig().dataDir, 'function-env.json');
  if (loadRuntimeConfig().tables.payments || !fs.existsSync(file)) return;
  for (const [name, value] of Object.entries(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>)) {
    process.env[name] ??= value;
  }
}

async function main(): Promise<void> {
  loadLocalEnvironment();
  // Imported after the environment is in place: the clients read it once.
  const { runtimeConfig } = await import('../src/core/clients');
  const { stepDeps } = await import('../src/payin/deps');
  const { paymentIdOfDeadLetter, replayPayment } = await import('../src/payin/replay');
  const config = runtimeConfig();
  const replayDeps = stepDeps();
  const ids = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const results: unknown[] = [];
  if (ids.length > 0) {
    for (const id of ids) results.push(await replayPayment(replayDeps, id));
  } else {
    const queueUrl = config.failedPaymentsQueueUrl;
    if (!queueUrl) throw new Error('FAILED_PAYMENTS_QUEUE_URL is not set');
    const sqs = new SQSClient({ region: config.region, endpoint: config.endpoints.sqs });
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 60,
        }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        const id = paymentIdOfDeadLetter(message.Body ?? '');
        if (!id) {
          results.push({ message_id: message.MessageId, action: 'unreadable_left_in_queue' });
          continue;
        }
        results.push(await replayPayment(replayDeps, id));
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
      }
    }
  }
  process.stdout.write(`${JSON.stringify({ replayed: results }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`replay failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
