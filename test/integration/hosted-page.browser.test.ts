/**
 * The hosted payment page in a real browser (Debian's Chromium driven by playwright-core): checkout -> the PSP's
 * page -> a test card -> the redirect back -> the payment settles by the verified webhook. Card data is typed into
 * the PSP's page only; it never reaches our API. Screenshots are kept in test-artifacts/.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { call, checkout, type PaymentView, stackInfo, unique, waitForStatus } from '../support/api-client';
import { launchChromium } from '../support/browser';
import { checkInvariants } from '../support/invariants';
import { ARTIFACTS } from '../support/local-stack-process';

jest.setTimeout(180_000);

const SHOTS = path.join(ARTIFACTS, 'screenshots');
let RETURN_URL = '';
let browser: Browser;
/** The marketplace's own "thank you" page, where the PSP sends the buyer back. */
let shop: http.Server;

beforeAll(async () => {
  shop = http.createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body><h1>Thank you</h1><p>Your order is being confirmed.</p></body></html>');
  });
  await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
  RETURN_URL = `http://127.0.0.1:${(shop.address() as AddressInfo).port}/checkout/return`;
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => shop?.close(resolve));
});

/**
 * A screenshot for test-artifacts/: evidence for a reader, not an assertion. Taken once the page has loaded; a page
 * that navigates meanwhile (the PSP closes a declined page) may refuse it, which must not fail the payment test.
 */
async function shot(page: Page, file: string): Promise<void> {
  await page.waitForLoadState('load').catch(() => undefined);
  await page
    .screenshot({ path: path.join(SHOTS, file) })
    .catch((error: Error) => process.stderr.write(`screenshot ${file} not taken: ${error.message}\n`));
}

async function startCheckout(name: string): Promise<{ paymentId: string; page: Page; redirect: string }> {
  const body = { ...checkout({ sellers: [{ seller: unique('seller'), amount: '25.00' }] }), return_url: RETURN_URL };
  delete (body as { payment_method?: string }).payment_method;
  const accepted = await call<{ payment_id: string }>('POST', '/v1/payments', { body });
  expect(accepted.status).toBe(202);
  const paymentId = accepted.body.payment_id;
  const pending = (await waitForStatus(paymentId, ['PENDING', 'FAILED'])) as PaymentView & {
    next_action: { redirect_url: string } | null;
  };
  expect(pending.status).toBe('PENDING');
  const redirect = pending.next_action?.redirect_url ?? '';
  expect(redirect.startsWith(stackInfo().urls.psp)).toBe(true);
  const page = await browser.newPage();
  await page.goto(redirect);
  await shot(page, `${name}-1-hosted-page.png`);
  return { paymentId, page, redirect };
}

async function payWithCard(page: Page, name: string, card: string): Promise<void> {
  await page.fill('input[name="cardnumber"]', card);
  await page.fill('input[name="exp"]', '12/34');
  await page.fill('input[name="cvc"]', '123');
  await shot(page, `${name}-2-card-typed.png`);
  await Promise.all([page.waitForLoadState('domcontentloaded'), page.click('#pay')]);
}

/** Waits until the browser is back on the marketplace's return page. */
async function returnedTo(page: Page, name: string): Promise<URL> {
  await page.waitForURL((url) => url.href.startsWith(RETURN_URL), { timeout: 15_000 });
  await shot(page, `${name}-9-returned.png`);
  return new URL(page.url());
}

describe('Hosted payment page in a browser', () => {
  it('pays with 4242 4242 4242 4242: redirected back, the webhook settles the payment SUCCESS', async () => {
    const { paymentId, page } = await startCheckout('success');
    await payWithCard(page, 'success', '4242 4242 4242 4242');
    const back = await returnedTo(page, 'success');
    expect(back.searchParams.get('payment_id')).toBe(paymentId);
    const done = await waitForStatus(paymentId, ['SUCCESS', 'FAILED']);
    expect(done.status).toBe('SUCCESS');
    expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);
    await page.close();
  });

  it('passes the 3-D Secure challenge with 4000 0027 6000 3184', async () => {
    const { paymentId, page } = await startCheckout('3ds');
    await payWithCard(page, '3ds', '4000 0027 6000 3184');
    await page.waitForSelector('#approve');
    await shot(page, '3ds-3-challenge.png');
    await page.click('#approve');
    await returnedTo(page, '3ds');
    expect((await waitForStatus(paymentId, ['SUCCESS', 'FAILED'])).status).toBe('SUCCESS');
    expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);
    await page.close();
  });

  it('ends FAILED with the decline card 4000 0000 0000 0002, nothing booked', async () => {
    const { paymentId, page } = await startCheckout('decline');
    await payWithCard(page, 'decline', '4000 0000 0000 0002');
    await shot(page, 'decline-3-declined.png');
    expect(await page.content()).toContain('declined');
    const done = await waitForStatus(paymentId, ['SUCCESS', 'FAILED']);
    expect([done.status, done.status_reason]).toEqual(['FAILED', 'declined:card_declined:generic_decline']);
    expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);
    await page.close();
  });
});
