/**
 * The PSP's settlement file over the real stripe SDK (payments key): Reports API report runs of the itemized
 * balance-change report, the file's contents (streamed, authenticated with the secret key), and the balance
 * transactions that date a money movement.
 */
import { Readable } from 'node:stream';
import type Stripe from 'stripe';
import { PspTransientError } from '../core/errors';
import { ask } from './stripe-psp';

export const SETTLEMENT_REPORT_TYPE = 'balance_change_from_activity.itemized.3';

export interface PspReportRun {
  id: string;
  status: 'pending' | 'succeeded' | 'failed';
  file_url?: string;
  error?: string;
}

function reportRunState(run: Stripe.Reporting.ReportRun): PspReportRun {
  return {
    id: run.id,
    status: run.status === 'succeeded' ? 'succeeded' : run.status === 'failed' ? 'failed' : 'pending',
    ...(run.result?.url && { file_url: run.result.url }),
    ...(run.error && { error: run.error }),
  };
}

export class StripeReporting {
  constructor(
    private readonly stripe: () => Promise<Stripe>,
    private readonly secret: () => Promise<string>,
  ) {}

  async createReportRun(input: { interval_start: number; interval_end: number; idempotencyKey: string }) {
    const stripe = await this.stripe();
    const run = await ask(() =>
      stripe.reporting.reportRuns.create(
        {
          report_type: SETTLEMENT_REPORT_TYPE,
          parameters: { interval_start: input.interval_start, interval_end: input.interval_end, timezone: 'UTC' },
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    return reportRunState(run);
  }

  /** Up to when the report's data is prepared (unix seconds): an interval must not end after it. */
  async dataAvailableEnd(): Promise<number> {
    const stripe = await this.stripe();
    return (await ask(() => stripe.reporting.reportTypes.retrieve(SETTLEMENT_REPORT_TYPE))).data_available_end;
  }

  async retrieveReportRun(id: string) {
    const stripe = await this.stripe();
    return reportRunState(await ask(() => stripe.reporting.reportRuns.retrieve(id)));
  }

  async openFile(url: string): Promise<Readable> {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${await this.secret()}` } }).catch(
      (error: unknown) => {
        throw new PspTransientError(`PSP file unavailable: ${(error as Error).message}`, { cause: error });
      },
    );
    if (response.status >= 500 || response.status === 429) {
      throw new PspTransientError(`PSP file unavailable: HTTP ${response.status}`);
    }
    if (!response.ok || !response.body) throw new Error(`PSP file ${url}: HTTP ${response.status}`);
    return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  }

  async balanceTransactionsOf(sourceId: string) {
    const stripe = await this.stripe();
    const page = await ask(() => stripe.balanceTransactions.list({ source: sourceId, limit: 100 }));
    return page.data.map((t) => ({ id: t.id, created: t.created, reporting_category: t.reporting_category }));
  }

  async chargeOf(paymentIntentId: string): Promise<string | undefined> {
    const stripe = await this.stripe();
    const intent = await ask(() => stripe.paymentIntents.retrieve(paymentIntentId));
    const charge = intent.latest_charge;
    return typeof charge === 'string' ? charge : charge?.id;
  }
}
