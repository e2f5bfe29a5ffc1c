/**
 * A payment's timeline through the local stack: a charge whose every answer is lost (the payment goes UNKNOWN), the
 * janitor settling it from the PSP's record, and the PSP's webhook delivered late and then once more. The timeline
 * (GET /v1/payments/{id}/timeline, and `npm run ops`) tells each of those, in order, with their sources and ids.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Stripe from 'stripe';
import type { TimelineEvent } from '../../src/core/timeline';
import { call, checkout, stackInfo, unique, waitForStatus } from '../support/api-client';
import { checkInvariants } from '../support/invariants';
import { ARTIFACTS } from '../support/local-stack-process';

jest.setTimeout(180_000);

type Timeline = { payment_id: string; status: string; events: TimelineEvent[] };

async function admin(route: string, body?: unknown) {
  const response = await fetch(`${stackInfo().urls.psp}/__admin/${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status).toBeLessThan(300);
  return response.json() as Promise<unknown>;
}

async function pspEvents(paymentId: string): Promise<{ id: string; type: string }[]> {
  const { urls, pspSecretKey } = stackInfo();
  const url = new URL(urls.psp);
  const stripe = new Stripe(pspSecretKey, { host: url.hostname, port: Number(url.port), protocol: 'http' });
  const all = await stripe.events.list({ limit: 100 });
  return all.data.filter(
    (e) => (e.data.object as { metadata?: Record<string, string> }).metadata?.payment_id === paymentId,
  );
}

async function timeline(paymentId: string): Promise<Timeline> {
  const response = await call<Timeline>('GET', `/v1/payments/${paymentId}/timeline`);
  expect(response.status).toBe(200);
  return response.body;
}

/** Polls the timeline until `done` holds (bounded). */
async function timelineUntil(paymentId: string, done: (t: Timeline) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last = await timeline(paymentId);
  while (!done(last) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    last = await timeline(paymentId);
  }
  return last;
}

describe('Timeline: a payment whose story is told in one place', () => {
  it('shows a lost PSP response, the janitor settling it and a duplicated webhook, in order, with sources and ids', async () => {
    const seller = unique('seller');
    // The webhook is held back: the janitor, not the webhook, settles the unknown outcome.
    await admin('webhooks/behaviour', { paused: true });
    let paymentId = '';
    let eventId = '';
    try {
      const response = await call<{ payment_id: string }>('POST', '/v1/payments', {
        body: checkout({ sellers: [{ seller, amount: '33.00' }], paymentMethod: 'pm_card_visa_lostalways' }),
      });
      expect(response.status).toBe(202);
      paymentId = response.body.payment_id;
      expect((await waitForStatus(paymentId, ['SUCCESS', 'FAILED'], 90_000)).status).toBe('SUCCESS');
      const succeeded = (await pspEvents(paymentId)).find((e) => e.type === 'payment_intent.succeeded');
      expect(succeeded).toBeDefined();
      eventId = succeeded?.id ?? '';
    } finally {
      await admin('webhooks/behaviour', { paused: false });
    }
    // The held delivery arrives now (stale: the payment is settled); then the same event once more.
    const skipped = (t: Timeline) =>
      t.events.filter((e) => e.type === 'webhook.skipped' && e.ids.webhook_event_id === eventId);
    await timelineUntil(paymentId, (t) => skipped(t).length >= 1);
    await admin(`webhooks/resend/${eventId}`, {});
    const story = await timelineUntil(paymentId, (t) => skipped(t).length >= 2);
    expect(story.status).toBe('SUCCESS');
    const { events } = story;

    // Time order, every event with a source of the list, and the payment's id.
    expect(events.map((e) => e.at)).toEqual([...events.map((e) => e.at)].sort());
    for (const e of events) {
      expect(e.ids.payment_id).toBe(paymentId);
      expect(e.summary.length).toBeGreaterThan(0);
    }
    const index = (predicate: (e: TimelineEvent) => boolean, what: string) => {
      const i = events.findIndex(predicate);
      if (i < 0)
        throw new Error(
          `no ${what} in the timeline:\n${events.map((e) => `${e.source} ${e.type} ${e.summary}`).join('\n')}`,
        );
      return i;
    };

    const accepted = index((e) => e.type === 'payment.accepted' && e.source === 'api', 'acceptance');
    const started = index(
      (e) =>
        e.type === 'execution.started' && e.source === 'api' && e.ids.execution_arn?.endsWith(`:${paymentId}`) === true,
      'first execution',
    );
    const charge = index((e) => e.type === 'state.entered' && e.summary.includes('entered Charge'), 'Charge state');
    const lost = index(
      (e) =>
        e.type === 'psp.charge' &&
        e.source === 'psp' &&
        e.ids.idempotency_key === `${paymentId}:charge` &&
        e.summary.includes('no answer'),
      'lost PSP answer',
    );
    const unknown = index((e) => e.type === 'payment.unknown' && e.source === 'workflow', 'UNKNOWN status');
    const found = index((e) => e.type === 'psp.find_charges' && e.source === 'psp', "janitor's PSP query");
    const charged = index((e) => e.type === 'payment.success' && e.source === 'janitor', 'janitor settlement');
    const decision = index(
      (e) => e.type === 'janitor.decision' && e.source === 'janitor' && e.summary.includes('re-drove'),
      'janitor decision',
    );
    const redrive = index(
      (e) =>
        e.type === 'execution.started' && e.source === 'janitor' && e.ids.execution_arn?.includes('-janitor-') === true,
      're-drive',
    );
    const booked = index((e) => e.type === 'ledger.posted' && e.source === 'ledger', 'ledger posting');
    const credited = index(
      (e) => e.type === 'wallet.credited' && e.source === 'wallet' && e.ids.seller_account === seller,
      'wallet credit',
    );
    const final = index((e) => e.type === 'payment.success' && e.source === 'workflow', 'finalize');
    const [late, duplicate] = skipped(story).map((e) => events.indexOf(e));

    expect(accepted).toBeLessThan(started);
    expect(started).toBeLessThan(charge);
    expect(charge).toBeLessThan(lost);
    expect(lost).toBeLessThan(unknown);
    expect(unknown).toBeLessThan(found);
    expect(found).toBeLessThan(charged);
    expect(charged).toBeLessThan(redrive);
    expect(redrive).toBeLessThan(decision);
    expect(decision).toBeLessThan(booked);
    expect(booked).toBeLessThanOrEqual(credited + 1);
    expect(credited).toBeLessThan(final);
    expect(final).toBeLessThan(late as number);
    expect(late as number).toBeLessThan(duplicate as number);
    // The lost calls were retried by the workflow with the same key before it gave up: every one is on the timeline.
    expect(
      events.filter((e) => e.type === 'psp.charge' && e.ids.idempotency_key === `${paymentId}:charge`).length,
    ).toBeGreaterThan(1);
    expect(events.some((e) => e.type === 'state.retried' || e.type === 'state.failed')).toBe(true);
    expect(events[late as number]?.summary).toContain('stale');
    expect(events[duplicate as number]?.summary).toContain('duplicate');
    expect(events.filter((e) => e.type === 'ledger.posted')).toHaveLength(1);
    expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);

    // The same story in the terminal.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/ops.ts', paymentId, '--api', stackInfo().urls.api, '--key', stackInfo().devApiKey],
      { cwd: path.resolve(__dirname, '../..') },
    );
    expect(stdout).toContain(`payment ${paymentId}: SUCCESS`);
    fs.writeFileSync(path.join(ARTIFACTS, 'timeline-lost-janitor-webhook.txt'), stdout);
    expect(stdout).toContain('janitor.decision');
    expect(stdout).toContain('webhook.skipped');
  });

  it('answers 404 naming the payment for an unknown id, and 401 without a key', async () => {
    const missing = await call<{ error: { code: string; message: string } }>('GET', '/v1/payments/pay_nope/timeline');
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toContain('pay_nope');
    const anonymous = await fetch(`${stackInfo().urls.api}/v1/payments/pay_nope/timeline`);
    expect(anonymous.status).toBe(401);
  });
});
