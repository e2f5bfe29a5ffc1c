/**
 * A payment's whole story in the terminal: every event of its timeline, in time order.
 *
 *   npm run ops -- pay_0123...            # the running local stack (npm start), with the dev key
 *   npm run ops -- pay_0123... --json     # the API's answer as it is
 *
 * The same as GET /v1/payments/{payment_id}/timeline. It calls the running stack's API with the dev key kept under the
 * data folder (or DEV_API_KEY, or --key); --api sets another API base URL (a deployed stage, with its own key).
 */
import type { TimelineEvent } from '../src/core/timeline';
import { localApi } from './cli';

/** One event as one line: time, source, type, summary; then the ids it touches, indented. */
export function formatEvent(event: TimelineEvent): string {
  const ids = Object.entries(event.ids)
    .filter(([name]) => name !== 'payment_id')
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  const line = `${event.at.replace('T', ' ').replace('Z', '')}  ${event.source.padEnd(14)} ${event.type.padEnd(28)} ${event.summary}`;
  return ids ? `${line}\n${' '.repeat(24)}${ids}` : line;
}

async function main(): Promise<void> {
  // --api and --key take a value; --json does not.
  const paymentId = process.argv
    .slice(2)
    .find((arg, i, all) => !arg.startsWith('--') && all[i - 1] !== '--api' && all[i - 1] !== '--key');
  if (!paymentId) throw new Error('usage: npm run ops -- <payment_id> [--json] [--api URL] [--key KEY]');
  const { api, key } = localApi();
  const response = await fetch(`${api}/v1/payments/${encodeURIComponent(paymentId)}/timeline`, {
    headers: { authorization: `Bearer ${key}` },
  });
  const body = (await response.json()) as { status?: string; events?: TimelineEvent[]; error?: { message?: string } };
  if (response.status !== 200) {
    throw new Error(`GET timeline: ${response.status} ${body.error?.message ?? JSON.stringify(body)}`);
  }
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return;
  }
  const events = body.events ?? [];
  process.stdout.write(`payment ${paymentId}: ${body.status}, ${events.length} events\n\n`);
  for (const event of events) process.stdout.write(`${formatEvent(event)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
