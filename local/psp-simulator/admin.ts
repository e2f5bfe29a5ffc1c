// `/__admin/...` routes (no auth; loopback only): the ground truth, fault injection, and control of
// pending payments and webhooks.
//
//   GET    /__admin/charges[?payment_id=...][&include=failed]   successful (or all) charges
//   GET    /__admin/payment_intents           GET /__admin/checkout_sessions        GET /__admin/events
//   POST   /__admin/payment_intents/:id/authenticate  {"outcome": "approve" | "fail"}     (3-D Secure)
//   POST   /__admin/payment_intents/:id/settle        {"outcome": "succeeded" | "failed"} (processing)
//   GET    /__admin/faults          POST /__admin/faults (JSON FaultConfig)          DELETE /__admin/faults
//                                   (GET shows the pending targeted faults as `next` when there are any; DELETE
//                                   clears them too)
//   POST   /__admin/faults/next     {"path": "/v1/transfers", "method"?: "POST", "fault": "lost" | "timeout" |
//                                   "error500" | "charged500" | "ratelimit" | "edge502" | "edge503" | "latency",
//                                   "count"?: 1, "latency_ms"?: N}: the next `count` requests matching method and
//                                   path (`*` = any one segment) get that fault, as a token would give it
//   GET    /__admin/faults/next     the pending targeted faults          DELETE /__admin/faults/next (clears them)
//   GET    /__admin/faults/log      POST /__admin/reset (everything, webhooks and Connect included)
//   GET    /__admin/settings        POST {"store_500s": boolean,  (injected 500s stored under their key; default true)
//                                         "availability_delay_seconds": N, "payout_in_transit_seconds": N,
//                                         "payout_arrival_seconds": N,
//                                         "fee_schedule": {"eur": {"percent": 2.9, "fixed": 30}, "default": {...}},
//                                         "dispute_fee": {"eur": 1500, "default": 1500},   (minor units)
//                                         "report_pending_polls": N,  (retrieves of a report run still pending;
//                                                                     default 1)
//                                         "monthly_fee": {"eur": 2500}}  (minor units by currency; default none:
//                                                                     see "Reports" below)
//                                   (merged; answers store_500s and the Connect settings and dispute fees that differ
//                                   from the built-in defaults; GET /__admin/settings/connect shows the four Connect
//                                   settings)
//
// Connect and money (the ground truth for tests):
//   GET    /__admin/clock           {"now": <money clock, Unix s>, "offset_seconds": N}
//   POST   /__admin/clock/advance   {"seconds": N}: moves the money clock forward and applies every transition then
//                                   due (funds available, payouts in transit / paid / failed) in time order; answers
//                                   as GET /__admin/clock
//   GET    /__admin/accounts        every connected account, oldest first      GET /__admin/accounts/:id
//   POST   /__admin/accounts/:id    {"payouts_enabled"?: bool, "transfers_enabled"?: bool,
//                                    "payout_failure_code"?: "account_closed" | "no_account" | ... | null,
//                                    "disabled_reason"?: string | null}
//                                   payouts_enabled true onboards the account (details submitted, capabilities active,
//                                   a succeeding test bank account if it has none); false disables payouts (a document
//                                   due, disabled_reason requirements.past_due unless given); transfers_enabled forces
//                                   the transfers capability; payout_failure_code makes the account's next payouts
//                                   fail with it (null: the bank decides). account.updated when the account changed.
//   GET    /__admin/transfers       every transfer, oldest first
//   GET    /__admin/payouts[?account=acct_...]   every payout (with `account`), oldest first
//   POST   /__admin/payouts/:id/fail {"failure_code": "account_closed"}: fails it now, a `paid` one included
//                                   (payout_failure balance transaction, payout.failed, payout.updated)
//   GET    /__admin/balance_transactions[?account=platform|acct_...]   oldest first, each with `account` (null: the
//                                   platform); all of them without the parameter
//   GET    /__admin/balance[?account=acct_...]   the Balance of the platform or of a connected account
//   GET    /__admin/webhooks/endpoint            POST {"url": "...", "secret": "whsec_...", "api_version": "..."}
//                                                (url null: none; api_version null: the account's default)
//   GET    /__admin/webhooks/behaviour           POST (partial WebhookBehaviour, merged)   DELETE (defaults)
//   GET    /__admin/webhooks/deliveries[?event_id=...]
//   POST   /__admin/webhooks/resend/:event_id    one more delivery: same id and body, freshly signed
//   POST   /__admin/webhooks/send  {"event_id", "timestamp_offset_s"?, "secret"?, "tamper"?}  negative tests
//
// Refunds, disputes and platform funds (refunds.ts, disputes.ts):
//   POST   /__admin/balance/topup   {"currency": "eur", "amount": 100000, "description"?: "..."}: available funds on
//                                   the platform (a `topup` balance transaction, reporting_category topup); pending
//                                   refunds it covers succeed at once; answers the balance transaction
//   GET    /__admin/refunds[?payment_intent=pi_...][&charge=ch_...]   every refund, oldest first (ground truth)
//   GET    /__admin/refunds/:id
//   POST   /__admin/refunds/failures {"refund_failure_reason": "expired_or_canceled_card", "count"?: 1,
//                                   "delay_seconds"?: 0}: the next `count` refunds stay pending (booked, pending_reason
//                                   processing), then fail with that reason delay_seconds after their creation on the
//                                   money clock (0: at the next sweep, request or clock advance); answers the plans
//                                   not used up yet
//   GET    /__admin/refunds/failures   the plans not used up yet        DELETE /__admin/refunds/failures (clears them)
//   POST   /__admin/refunds/:id/fail {"failure_reason": "lost_or_stolen_card" | "expired_or_canceled_card" |
//                                   "insufficient_funds" | "declined" | "merchant_request" | "unknown" | ...}: fails a
//                                   pending or succeeded refund now (refund_failure transaction, refund.failed,
//                                   refund.updated)
//   GET    /__admin/disputes[?payment_intent=pi_...][&charge=ch_...]  every dispute, oldest first
//   GET    /__admin/disputes/:id
//   POST   /__admin/disputes        {"payment_intent": "pi_..." | "charge": "ch_...", "reason"?: "fraudulent" | ...,
//                                   "amount"?: N}: opens a dispute (needs_response; amount and dispute fee withdrawn;
//                                   charge.dispute.created, charge.dispute.funds_withdrawn)
//   POST   /__admin/disputes/:id/close {"status": "won" | "lost"}: won reinstates the amount and the fee
//                                   (charge.dispute.funds_reinstated), then charge.dispute.closed either way
//
// Reports and settlement faults (reporting.ts, settlement-faults.ts):
//   POST   /__admin/stripe_fees     {"currency": "eur", "amount": 2500, "description"?: "Monthly platform fee"}: a fee
//                                   Stripe charges on its own, now: a platform `stripe_fee` balance transaction of
//                                   -amount (minor units, positive), reporting_category fee, no source (a fee row of
//                                   the settlement file with empty source and metadata); answers it. With the setting
//                                   monthly_fee, the first report covering a month's first day at 00:00:00 UTC books
//                                   one dated then, once per month and currency.
//   POST   /__admin/settlement/faults {"seed"?: 0, "date"?: "YYYY-MM-DD" (default: the money clock's UTC day),
//                                   "duplicate_rows"?: n, "late_rows"?: n, "amount_deltas"?: n, "currency_flips"?: n,
//                                   "drop_rows"?: n, "unknown_rows"?: n}: the day's settlement file disagrees with the
//                                   balance transactions, every time it is generated (seeded; late rows are re-dated to
//                                   the next day at once, as the PSP's own records then date them); replaces the day's
//                                   earlier faults; 400 naming a bad field, 409 naming the kind and how many rows are
//                                   eligible; answers the day's manifest
//   GET    /__admin/settlement/faults   the faults in force      DELETE /__admin/settlement/faults (clears them all;
//                                   late rows go back to their dates)
//   GET    /__admin/settlement/manifest?date=YYYY-MM-DD   {"date", "injected": [{"balance_transaction_id",
//                                   "source_id", "payment_intent_id", "payment_id", "type", "expected_class"}]}:
//                                   duplicate_row / auto_fixed, timing / auto_fixed (late), amount_mismatch / manual,
//                                   currency_mismatch / manual, missing_in_settlement / manual (dropped),
//                                   unknown_row / unclassifiable
//   GET    /__admin/settlement/file?date=YYYY-MM-DD   the day's settlement file as a report run makes it now (text/csv)

import type Stripe from 'stripe';
import type { AccountAdminChanges } from './accounts';
import { type FeeSchedule, FeeScheduleError } from './balance';
import { isPayoutFailureCode, PAYOUT_FAILURE_CODES } from './bank-accounts';
import type { ChargeLedger } from './charges';
import type { CheckoutSessionService } from './checkout-sessions';
import type { Connect } from './connect';
import { DISPUTE_REASONS, type DisputeFeeSchedule, type DisputeReason, type DisputeService } from './disputes';
import { StripeApiError } from './errors';
import { AUTOMATIC, type EventStore } from './events';
import { FaultConfigError, type FaultInjector } from './faults';
import type { MoneyClock } from './money-clock';
import type { PaymentIntentService } from './payment-intents';
import { isRefundFailureReason, parseRefundFailurePlan, REFUND_FAILURE_REASONS, type RefundService } from './refunds';
import { MonthlyFeeError, type MonthlyFeeSchedule, type ReportingService } from './reporting';
import {
  type SettlementFaultConfig,
  SettlementFaultError,
  type SettlementFaults,
  type SettlementManifest,
  utcDate,
  utcDayStart,
} from './settlement-faults';
import { WebhookConfigError, type WebhookDispatcher } from './webhooks';

/** Simulator settings that are neither faults nor webhooks. */
export interface SimulatorSettings {
  /** Whether an injected 500 is stored under its idempotency key and replayed to a retry (Stripe: yes). */
  store_500s: boolean;
  /** Connect (see PspSimulatorOptions): shown when they differ from the built-in defaults. */
  availability_delay_seconds?: number;
  payout_in_transit_seconds?: number;
  payout_arrival_seconds?: number;
  fee_schedule?: FeeSchedule;
  /** Dispute fees by currency (minor units), shown when they differ from the default (1500 for every currency). */
  dispute_fee?: DisputeFeeSchedule;
  /** Retrieves of a report run that still answer `pending` (shown when not the default, 1). */
  report_pending_polls?: number;
  /** Monthly fees by currency (minor units), shown when any is set. */
  monthly_fee?: MonthlyFeeSchedule;
}

const SETTING_NAMES = [
  'store_500s',
  'availability_delay_seconds',
  'payout_in_transit_seconds',
  'payout_arrival_seconds',
  'fee_schedule',
  'dispute_fee',
  'report_pending_polls',
  'monthly_fee',
] as const;

const ACCOUNT_CHANGES = ['payouts_enabled', 'transfers_enabled', 'payout_failure_code', 'disabled_reason'];

export interface AdminTarget {
  intents: PaymentIntentService;
  charges: ChargeLedger;
  sessions: CheckoutSessionService;
  events: EventStore;
  faults: FaultInjector;
  webhooks: WebhookDispatcher;
  connect: Connect;
  clock: MoneyClock;
  refunds: RefundService;
  disputes: DisputeService;
  reporting: ReportingService;
  settlement: SettlementFaults;
  settings(): SimulatorSettings;
  /** Every Connect setting (GET /__admin/settings/connect). */
  connectSettings(): Required<
    Omit<SimulatorSettings, 'store_500s' | 'dispute_fee' | 'report_pending_polls' | 'monthly_fee'>
  >;
  /** Adds available funds to the platform (validated: RangeError, or a StripeApiError for the currency). */
  topUp(currency: string, amount: number): Stripe.BalanceTransaction;
  /** Opens a dispute (StripeApiError when it cannot be). */
  openDispute(opening: {
    payment_intent?: string;
    charge?: string;
    reason?: DisputeReason;
    amount?: number;
  }): Stripe.Dispute;
  /** The bank's decision on a dispute; what a won one gives back is applied at once. */
  closeDispute(id: string, status: 'won' | 'lost'): Stripe.Dispute;
  /** A platform `stripe_fee` balance transaction now (validated: RangeError, or a StripeApiError for the currency). */
  addStripeFee(currency: string, amount: number, description: string | null): Stripe.BalanceTransaction;
  /** Validates and sets one day's settlement faults (SettlementFaultError); answers the day's manifest. */
  setSettlementFaults(input: unknown): SettlementManifest;
  /** Merges the given settings (all validated before any applies). */
  configure(settings: Partial<SimulatorSettings>): SimulatorSettings;
  /** Forgets everything (see PspSimulator.reset). */
  reset(): void;
}

export interface AdminRequest {
  method: string;
  url: URL;
  /** The JSON body ({} when empty); throws SyntaxError when it is not JSON. */
  json(): Promise<unknown>;
}

export interface AdminResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

type Handler = (sim: AdminTarget, request: AdminRequest, params: Record<string, string>) => Promise<unknown> | unknown;

class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const ROUTES: { path: string; methods: Record<string, Handler> }[] = [
  {
    path: '/__admin/charges',
    methods: {
      GET: (sim, { url }) => {
        const charges = url.searchParams.get('include') === 'failed' ? sim.charges.all() : sim.charges.succeeded();
        const paymentId = url.searchParams.get('payment_id');
        return paymentId === null ? charges : charges.filter((c) => c.metadata.payment_id === paymentId);
      },
    },
  },
  { path: '/__admin/payment_intents', methods: { GET: (sim) => sim.intents.newestFirst().reverse() } },
  {
    path: '/__admin/payment_intents/:id/authenticate',
    methods: {
      POST: async (sim, request, { id }) => {
        const outcome = field(await request.json(), 'outcome', ['approve', 'fail'] as const);
        return sim.intents.authenticate(intentId(sim, id), outcome, AUTOMATIC);
      },
    },
  },
  {
    path: '/__admin/payment_intents/:id/settle',
    methods: {
      POST: async (sim, request, { id }) => {
        const outcome = field(await request.json(), 'outcome', ['succeeded', 'failed'] as const);
        return sim.intents.settleProcessing(intentId(sim, id), outcome, AUTOMATIC);
      },
    },
  },
  {
    path: '/__admin/checkout_sessions',
    methods: {
      GET: (sim) => {
        sim.sessions.expireDue();
        return sim.sessions.newestFirst().reverse();
      },
    },
  },
  { path: '/__admin/events', methods: { GET: (sim) => sim.events.oldestFirst() } },
  {
    path: '/__admin/faults',
    methods: {
      GET: (sim) => faultsView(sim),
      POST: async (sim, request) => {
        sim.faults.configure(await request.json());
        return faultsView(sim);
      },
      DELETE: (sim) => {
        sim.faults.clearTargeted();
        return sim.faults.configure({});
      },
    },
  },
  {
    path: '/__admin/faults/next',
    methods: {
      GET: (sim) => sim.faults.targetedFaults(),
      POST: async (sim, request) => sim.faults.target(await request.json()),
      DELETE: (sim) => {
        sim.faults.clearTargeted();
        return sim.faults.targetedFaults();
      },
    },
  },
  { path: '/__admin/faults/log', methods: { GET: (sim) => sim.faults.injected() } },
  {
    path: '/__admin/settings',
    methods: {
      GET: (sim) => sim.settings(),
      POST: async (sim, request) => {
        const body = object(await request.json());
        for (const name of Object.keys(body)) {
          if (!(SETTING_NAMES as readonly string[]).includes(name)) {
            throw new AdminError(400, `Unknown setting '${name}' (known: ${SETTING_NAMES.join(', ')}).`);
          }
        }
        if (body.store_500s !== undefined && typeof body.store_500s !== 'boolean') {
          throw new AdminError(400, 'store_500s must be a boolean.');
        }
        return sim.configure(body as Partial<SimulatorSettings>);
      },
    },
  },
  { path: '/__admin/settings/connect', methods: { GET: (sim) => sim.connectSettings() } },
  { path: '/__admin/clock', methods: { GET: (sim) => sim.clock.view() } },
  {
    path: '/__admin/clock/advance',
    methods: {
      POST: async (sim, request) => {
        const { seconds } = object(await request.json());
        if (typeof seconds !== 'number') throw new AdminError(400, 'seconds must be an integer.');
        return sim.connect.advance(seconds);
      },
    },
  },
  { path: '/__admin/accounts', methods: { GET: (sim) => sim.connect.accounts.newestFirst().reverse() } },
  {
    path: '/__admin/accounts/:id',
    methods: {
      GET: (sim, _request, { id }) => sim.connect.accounts.render(accountId(sim, id)),
      POST: async (sim, request, { id }) => {
        const account = accountId(sim, id);
        return sim.connect.accounts.adminUpdate(account, readAccountChanges(await request.json()));
      },
    },
  },
  { path: '/__admin/transfers', methods: { GET: (sim) => sim.connect.transfers.newestFirst().reverse() } },
  {
    path: '/__admin/payouts',
    methods: {
      GET: (sim, { url }) => {
        const account = url.searchParams.get('account');
        const payouts = sim.connect.payouts.views();
        return account === null ? payouts : payouts.filter((payout) => payout.account === account);
      },
    },
  },
  {
    path: '/__admin/payouts/:id/fail',
    methods: {
      POST: async (sim, request, { id }) => {
        const code = object(await request.json()).failure_code;
        if (!isPayoutFailureCode(code)) {
          throw new AdminError(400, `failure_code must be one of: ${PAYOUT_FAILURE_CODES.join(', ')}.`);
        }
        if (!id || !sim.connect.payouts.exists(id)) throw new AdminError(404, `No such payout: '${id ?? ''}'`);
        return sim.connect.payouts.fail(id, code, AUTOMATIC);
      },
    },
  },
  {
    path: '/__admin/balance_transactions',
    methods: {
      GET: (sim, { url }) => {
        const account = url.searchParams.get('account');
        if (account === null) return sim.connect.ledger.views();
        return sim.connect.ledger.views(account === 'platform' ? null : accountId(sim, account));
      },
    },
  },
  {
    path: '/__admin/balance',
    methods: {
      GET: (sim, { url }) => {
        const account = url.searchParams.get('account');
        return sim.connect.balance(account === null || account === 'platform' ? null : accountId(sim, account));
      },
    },
  },
  {
    path: '/__admin/balance/topup',
    methods: {
      POST: async (sim, request) => {
        const body = object(await request.json());
        known(body, ['currency', 'amount']);
        if (typeof body.currency !== 'string') throw new AdminError(400, 'currency is required (e.g. "eur").');
        if (typeof body.amount !== 'number') throw new AdminError(400, 'amount must be an integer (minor units).');
        return sim.topUp(body.currency, body.amount);
      },
    },
  },
  {
    path: '/__admin/refunds',
    methods: {
      GET: (sim, { url }) => {
        const paymentIntent = url.searchParams.get('payment_intent');
        const charge = url.searchParams.get('charge');
        return sim.refunds
          .oldestFirst()
          .filter(
            (refund) =>
              (paymentIntent === null || refund.payment_intent === paymentIntent) &&
              (charge === null || refund.charge === charge),
          );
      },
    },
  },
  {
    path: '/__admin/refunds/failures',
    methods: {
      GET: (sim) => sim.refunds.plannedFailures(),
      POST: async (sim, request) => sim.refunds.planFailures(parseRefundFailurePlan(await request.json())),
      DELETE: (sim) => {
        sim.refunds.clearPlannedFailures();
        return sim.refunds.plannedFailures();
      },
    },
  },
  {
    path: '/__admin/refunds/:id',
    methods: { GET: (sim, _request, { id }) => sim.refunds.get(refundId(sim, id)) },
  },
  {
    path: '/__admin/refunds/:id/fail',
    methods: {
      POST: async (sim, request, { id }) => {
        const body = object(await request.json());
        known(body, ['failure_reason']);
        if (!isRefundFailureReason(body.failure_reason)) {
          throw new AdminError(400, `failure_reason must be one of: ${REFUND_FAILURE_REASONS.join(', ')}.`);
        }
        const refund = sim.refunds.fail(refundId(sim, id), body.failure_reason, AUTOMATIC);
        // The money given back may cover refunds waiting for funds.
        sim.connect.applyDue();
        return refund;
      },
    },
  },
  {
    path: '/__admin/disputes',
    methods: {
      GET: (sim, { url }) => {
        const paymentIntent = url.searchParams.get('payment_intent');
        const charge = url.searchParams.get('charge');
        return sim.disputes
          .oldestFirst()
          .filter(
            (dispute) =>
              (paymentIntent === null || dispute.payment_intent === paymentIntent) &&
              (charge === null || dispute.charge === charge),
          );
      },
      POST: async (sim, request) => {
        const body = object(await request.json());
        known(body, ['payment_intent', 'charge', 'reason', 'amount']);
        for (const name of ['payment_intent', 'charge'] as const) {
          if (body[name] !== undefined && typeof body[name] !== 'string') {
            throw new AdminError(400, `${name} must be a string.`);
          }
        }
        if (body.payment_intent === undefined && body.charge === undefined) {
          throw new AdminError(400, 'payment_intent (or charge) is required.');
        }
        const reason = body.reason ?? 'fraudulent';
        if (typeof reason !== 'string' || !(DISPUTE_REASONS as readonly string[]).includes(reason)) {
          throw new AdminError(400, `reason must be one of: ${DISPUTE_REASONS.join(', ')}.`);
        }
        if (body.amount !== undefined && (typeof body.amount !== 'number' || !Number.isInteger(body.amount))) {
          throw new AdminError(400, 'amount must be an integer (minor units).');
        }
        return sim.openDispute({
          ...(body.payment_intent !== undefined && { payment_intent: body.payment_intent as string }),
          ...(body.charge !== undefined && { charge: body.charge as string }),
          reason: reason as DisputeReason,
          ...(body.amount !== undefined && { amount: body.amount as number }),
        });
      },
    },
  },
  {
    path: '/__admin/disputes/:id',
    methods: { GET: (sim, _request, { id }) => sim.disputes.get(disputeId(sim, id)) },
  },
  {
    path: '/__admin/disputes/:id/close',
    methods: {
      POST: async (sim, request, { id }) => {
        const status = field(await request.json(), 'status', ['won', 'lost'] as const);
        return sim.closeDispute(disputeId(sim, id), status);
      },
    },
  },
  {
    path: '/__admin/stripe_fees',
    methods: {
      POST: async (sim, request) => {
        const body = object(await request.json());
        known(body, ['currency', 'amount', 'description']);
        if (typeof body.currency !== 'string') throw new AdminError(400, 'currency is required (e.g. "eur").');
        if (typeof body.amount !== 'number') throw new AdminError(400, 'amount must be an integer (minor units).');
        if (body.description !== undefined && typeof body.description !== 'string') {
          throw new AdminError(400, 'description must be a string.');
        }
        return sim.addStripeFee(body.currency, body.amount, (body.description as string | undefined) ?? null);
      },
    },
  },
  {
    path: '/__admin/settlement/faults',
    methods: {
      GET: (sim): SettlementFaultConfig[] => sim.settlement.configs(),
      POST: async (sim, request) => sim.setSettlementFaults(await request.json()),
      DELETE: (sim) => {
        sim.settlement.clear();
        return sim.settlement.configs();
      },
    },
  },
  {
    path: '/__admin/settlement/manifest',
    methods: { GET: (sim, { url }) => sim.settlement.manifest(dateParam(sim, url)) },
  },
  {
    path: '/__admin/settlement/file',
    methods: {
      GET: (sim, { url }) => {
        const date = dateParam(sim, url);
        return new RawBody(sim.reporting.dayCsv(utcDayStart(date) as number), 'text/csv; charset=utf-8');
      },
    },
  },
  {
    path: '/__admin/reset',
    methods: {
      POST: (sim) => {
        sim.reset();
        return { reset: true };
      },
    },
  },
  {
    path: '/__admin/webhooks/endpoint',
    methods: {
      GET: (sim) => endpointView(sim),
      POST: async (sim, request) => {
        const body = object(await request.json());
        const url = body.url;
        if (url !== null && typeof url !== 'string') throw new AdminError(400, 'url must be a string or null.');
        if (body.secret !== undefined && typeof body.secret !== 'string') {
          throw new AdminError(400, 'secret must be a string.');
        }
        const apiVersion = body.api_version;
        if (apiVersion !== undefined && apiVersion !== null && typeof apiVersion !== 'string') {
          throw new AdminError(400, 'api_version must be a string or null.');
        }
        sim.webhooks.setEndpoint(url, body.secret as string | undefined, apiVersion as string | null | undefined);
        return endpointView(sim);
      },
    },
  },
  {
    path: '/__admin/webhooks/behaviour',
    methods: {
      GET: (sim) => sim.webhooks.currentBehaviour(),
      POST: async (sim, request) => sim.webhooks.configure(await request.json()),
      DELETE: (sim) => sim.webhooks.resetBehaviour(),
    },
  },
  {
    path: '/__admin/webhooks/deliveries',
    methods: {
      GET: (sim, { url }) => {
        const eventId = url.searchParams.get('event_id');
        const deliveries = sim.webhooks.deliveries();
        return eventId === null ? deliveries : deliveries.filter((delivery) => delivery.event_id === eventId);
      },
    },
  },
  {
    path: '/__admin/webhooks/resend/:event_id',
    methods: { POST: (sim, _request, { event_id }) => sim.webhooks.resend(eventId(sim, event_id)) },
  },
  {
    path: '/__admin/webhooks/send',
    methods: {
      POST: async (sim, request) => {
        const body = object(await request.json());
        const known = ['event_id', 'timestamp_offset_s', 'secret', 'tamper'];
        for (const name of Object.keys(body)) {
          if (!known.includes(name)) throw new AdminError(400, `Unknown field '${name}' (known: ${known.join(', ')}).`);
        }
        if (typeof body.event_id !== 'string') throw new AdminError(400, 'event_id is required.');
        const offset = body.timestamp_offset_s ?? 0;
        if (typeof offset !== 'number' || !Number.isInteger(offset)) {
          throw new AdminError(400, 'timestamp_offset_s must be an integer.');
        }
        if (body.secret !== undefined && typeof body.secret !== 'string') {
          throw new AdminError(400, 'secret must be a string.');
        }
        if (body.tamper !== undefined && typeof body.tamper !== 'boolean') {
          throw new AdminError(400, 'tamper must be a boolean.');
        }
        return sim.webhooks.send(eventId(sim, body.event_id), {
          timestampOffsetS: offset,
          ...(body.secret !== undefined && { secret: body.secret as string }),
          ...(body.tamper !== undefined && { tamper: body.tamper as boolean }),
        });
      },
    },
  },
];

export async function adminResponse(sim: AdminTarget, request: AdminRequest): Promise<AdminResponse> {
  const path = request.url.pathname;
  const method = request.method;
  let matched: { methods: Record<string, Handler>; params: Record<string, string> } | undefined;
  for (const route of ROUTES) {
    const params = matchPath(route.path, path);
    if (params) {
      matched = { methods: route.methods, params };
      break;
    }
  }
  if (!matched) return failure(404, `Unknown admin route ${path}`);
  const handler = matched.methods[method];
  if (!handler) {
    const response = failure(405, `${method} not allowed on ${path}`);
    response.headers.Allow = Object.keys(matched.methods).join(', ');
    return response;
  }
  try {
    const result = await handler(sim, request, matched.params);
    if (result instanceof RawBody) return { status: 200, body: result.body, headers: { 'Content-Type': result.type } };
    return json(200, result);
  } catch (error) {
    if (error instanceof SyntaxError) return failure(400, `Invalid JSON: ${error.message}`);
    if (error instanceof AdminError) return failure(error.status, error.message);
    if (error instanceof SettlementFaultError) {
      return json(error.status, {
        error: {
          message: error.message,
          param: error.param,
          ...(error.eligible !== undefined && { eligible: error.eligible }),
        },
      });
    }
    if (
      error instanceof FaultConfigError ||
      error instanceof WebhookConfigError ||
      error instanceof FeeScheduleError ||
      error instanceof MonthlyFeeError ||
      error instanceof RangeError
    ) {
      return failure(400, error.message);
    }
    if (error instanceof StripeApiError) {
      return json(error.status, { error: { ...error.body, message: error.body.message } });
    }
    throw error;
  }
}

export function json(status: number, body: unknown): AdminResponse {
  return { status, body: JSON.stringify(body, null, 2), headers: {} };
}

export function failure(status: number, message: string): AdminResponse {
  return json(status, { error: { message } });
}

/** The endpoint; `api_version` only when one is set (none: the account's default, as on Stripe). */
function endpointView(sim: AdminTarget): { url: string | null; secret: string | null; api_version?: string } {
  const endpoint = sim.webhooks.currentEndpoint();
  return {
    url: endpoint?.url ?? null,
    secret: endpoint?.secret ?? null,
    ...(endpoint?.apiVersion !== undefined && { api_version: endpoint.apiVersion }),
  };
}

/** The rate config, with the pending targeted faults as `next` when there are any. */
function faultsView(sim: AdminTarget): unknown {
  const next = sim.faults.targetedFaults();
  return next.length === 0 ? sim.faults.current() : { ...sim.faults.current(), next };
}

function accountId(sim: AdminTarget, id: string | undefined): string {
  if (!id || !sim.connect.accounts.has(id)) throw new AdminError(404, `No such account: '${id ?? ''}'`);
  return id;
}

function readAccountChanges(input: unknown): AccountAdminChanges {
  const body = object(input);
  for (const name of Object.keys(body)) {
    if (!ACCOUNT_CHANGES.includes(name)) {
      throw new AdminError(400, `Unknown field '${name}' (known: ${ACCOUNT_CHANGES.join(', ')}).`);
    }
  }
  const changes: AccountAdminChanges = {};
  for (const name of ['payouts_enabled', 'transfers_enabled'] as const) {
    const value = body[name];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw new AdminError(400, `${name} must be a boolean.`);
    changes[name] = value;
  }
  const code = body.payout_failure_code;
  if (code !== undefined) {
    if (code !== null && !isPayoutFailureCode(code)) {
      throw new AdminError(400, `payout_failure_code must be null or one of: ${PAYOUT_FAILURE_CODES.join(', ')}.`);
    }
    changes.payout_failure_code = code;
  }
  const reason = body.disabled_reason;
  if (reason !== undefined) {
    if (reason !== null && (typeof reason !== 'string' || reason === '')) {
      throw new AdminError(400, 'disabled_reason must be a non-empty string or null.');
    }
    changes.disabled_reason = reason;
  }
  return changes;
}

/** An answer that is not JSON (a CSV). */
class RawBody {
  constructor(
    readonly body: string,
    readonly type: string,
  ) {}
}

/** `?date=YYYY-MM-DD`, default the money clock's UTC day. */
function dateParam(sim: AdminTarget, url: URL): string {
  const date = url.searchParams.get('date') ?? utcDate(sim.clock.now());
  if (utcDayStart(date) === undefined) throw new AdminError(400, 'date must be a valid day as YYYY-MM-DD (UTC).');
  return date;
}

function refundId(sim: AdminTarget, id: string | undefined): string {
  if (!id || !sim.refunds.has(id)) throw new AdminError(404, `No such refund: '${id ?? ''}'`);
  return id;
}

function disputeId(sim: AdminTarget, id: string | undefined): string {
  if (!id || !sim.disputes.has(id)) throw new AdminError(404, `No such dispute: '${id ?? ''}'`);
  return id;
}

/** Refuses fields other than `names`. */
function known(body: Record<string, unknown>, names: string[]): void {
  for (const name of Object.keys(body)) {
    if (!names.includes(name)) throw new AdminError(400, `Unknown field '${name}' (known: ${names.join(', ')}).`);
  }
}

function intentId(sim: AdminTarget, id: string | undefined): string {
  if (!id || !sim.intents.has(id)) throw new AdminError(404, `No such payment_intent: '${id ?? ''}'`);
  return id;
}

function eventId(sim: AdminTarget, id: string | undefined): string {
  if (!id || !sim.events.find(id)) throw new AdminError(404, `No such event: '${id ?? ''}'`);
  return id;
}

function object(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AdminError(400, 'The body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

function field<T extends string>(body: unknown, name: string, values: readonly T[]): T {
  const value = object(body)[name];
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new AdminError(400, `${name} must be one of: ${values.join(', ')}.`);
  }
  return value as T;
}

function matchPath(template: string, path: string): Record<string, string> | undefined {
  const expected = template.split('/');
  const actual = path.split('/');
  if (expected.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < expected.length; i++) {
    const segment = expected[i] ?? '';
    const value = actual[i] ?? '';
    if (segment.startsWith(':')) {
      if (value === '') return undefined;
      try {
        params[segment.slice(1)] = decodeURIComponent(value);
      } catch {
        return undefined;
      }
    } else if (segment !== value) {
      return undefined;
    }
  }
  return params;
}
