// A PSP simulator speaking the subset of Stripe's v1 REST wire format we use, so the real `stripe`
// SDK talks to it unchanged:
//   new Stripe(secretKey, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 })
// State is in memory.
//
//   /v1/payment_intents...          create, confirm, capture, cancel, retrieve, list, search
//   /v1/charges, /v1/charges/:id    list (?payment_intent=...) and retrieve the charge attempts (charge-routes.ts)
//   /v1/checkout/sessions...        create, retrieve, list, expire (checkout-session-routes.ts)
//   /v1/events, /v1/events/:id      the events of every state change (events.ts, lifecycle-events.ts)
//   /v1/accounts..., /v1/account, /v1/account_links    Connect accounts and onboarding links (account-routes.ts)
//   /v1/balance, /v1/balance_transactions..., /v1/transfers..., /v1/payouts...   money (connect-routes.ts)
//   /v1/refunds..., /v1/charges/:id/refunds   create, retrieve, list, update, cancel refunds (refund-routes.ts)
//   /v1/disputes...                 retrieve, list, update (evidence, metadata), close (dispute-routes.ts)
//   /v1/reporting/report_runs..., /v1/files/:id[/contents]   the settlement file: report runs of the itemized
//                                   balance report balance_change_from_activity.itemized.3 and their CSV
//                                   (reporting-routes.ts, reporting.ts)
//   /pay/:session_id[/3ds], /3ds/:payment_intent   the hosted payment page and 3-D Secure (hosted-page.ts)
//   /connect/onboarding/:token      the hosted Connect onboarding page of an Account Link (onboarding-page.ts)
//   /__admin/...                    ground truth, faults, settings, pending payments, webhooks, the money clock,
//                                   accounts and payouts, fee rows, settlement faults and their manifest (admin.ts)
//
// Connect (connect.ts): every captured charge books a platform balance transaction (Stripe's fee from
// `feeSchedule`, pending until `availabilityDelaySeconds` later); transfers move available funds to connected
// accounts; payouts of connected accounts go pending -> in_transit -> paid (or failed, decided by the bank's test
// number or the admin). Refunds (refunds.ts) draw on the platform's available balance, waiting `pending` while it is
// short, and may fail on request (admin); disputes (disputes.ts), opened by the admin, withdraw the disputed amount
// and a dispute fee (`disputeFees`) and reinstate both when won. The admin can top up the platform's balance.
// Money moves on the money clock (money-clock.ts): the simulator's clock plus an offset that POST
// /__admin/clock/advance moves forward, applying every due transition in time order; a sweep applies them as they
// fall due (every `moneySweepMs`), and so does every request before it runs. Webhook signatures, idempotency expiry,
// search lag and Checkout Session / Account Link expiry keep the simulator's clock.
//
// Reports (reporting.ts): a report run's CSV lists the platform's balance transactions created (money clock) in its
// interval, one row each, amounts in major units; it is produced when the run is created, and the run answers
// `pending` to the first `reportPendingPolls` retrieves (default 1), then `succeeded` with its File. Settlement faults
// (settlement-faults.ts; POST /__admin/settlement/faults) make one day's file disagree with the balance transactions
// (duplicate, late, dropped and unknown rows, other amounts and currencies), with a manifest of what was injected.
//
// `Stripe-Account: acct_...` makes a request act for that connected account (balance, balance transactions,
// payouts, events, the account itself); an unknown account is Stripe's 403 `account_invalid`; endpoints that do not
// model it (PaymentIntents, Checkout, charges, transfers...) refuse the header with a 400. Idempotency keys are
// scoped per account, as Stripe scopes them: a key sent with `Stripe-Account` is distinct from the same key on the
// platform.
//
// Events are POSTed, signed as Stripe signs them, to the webhook endpoint when one is configured
// (webhooks.ts), rendered in the endpoint's API version. close() stops the server and every pending timer and
// delivery.
//
// Wire behaviour, as Stripe's API:
// - Idempotency (idempotency.ts): the first result of a POST under a key is stored once the endpoint started
//   executing, 500s included, and replayed to a retry with `Idempotent-Replayed: true`.
// - Headers: every API answer has `Request-Id` and `Stripe-Version` (the request's version, else the account's
//   default, versions.ts). `Stripe-Should-Retry` (what stripe-node's retry logic reads first): `true` on the 409
//   of a key still in use by another request; `false` on replays, on a 500 stored under its key (a retry would
//   only replay it) and on other 4xx (retrying the same request changes nothing); absent on 429 rate limits
//   (Stripe does not advise retrying them), on successes and on a 500 that was not stored.
// - Errors: Stripe's envelope and its four types; a rate limit is a 429 `invalid_request_error` with code
//   `rate_limit`, a server failure a 500 `api_error`.
//
// Fault injection (faults.ts), by payment-method token suffix or by rate (POST /__admin/faults):
//   _latency<ms>                          delay before executing (holds the key: a concurrent retry gets a 409)
//   _error500x<N> | _error500always       500 api_error, nothing executed; STORED under the key, replayed on retry
//   _charged500x<N> | _charged500always   executes (creates/confirms, charges), then a 500 stored under the key
//   _edge502x<N> | _edge503x<N> (+always) a load balancer's 502/503 (HTML, no Stripe headers): nothing executes,
//                                         nothing is stored, a retry with the same key executes normally
//   _ratelimitx<N> | _ratelimitalways     429 before the idempotency layer, nothing stored
//   _lostx<N> | _timeoutx<N> (+always)    executes and stores, then the connection is dropped (at once / after
//                                         hangMs)
// Rates: error500_rate, charged500_rate, edge_rate, ratelimit_rate, lost_rate, timeout_rate, latency_ms, seed. They
// apply to every API request (Connect, refund and dispute endpoints included). Token faults read `payment_method`, so
// they do not apply to refunds: target them with POST /__admin/faults/next (e.g. {"path": "/v1/refunds"}).
// Targeted, for exactly the next N requests to one endpoint (POST /__admin/faults/next):
//   {"path": "/v1/transfers", "method": "POST", "fault": "lost" | "timeout" | "error500" | "charged500" | "ratelimit"
//    | "edge502" | "edge503" | "latency", "count": 1, "latency_ms"?: N, "params"?: {"destination": "acct_..."}}
//   (same semantics as the token faults; `params` narrows the rule to requests with those parameter values;
//   `*` matches one path segment; listed by GET /__admin/faults, cleared by DELETE /__admin/faults and reset)
// Whether an injected 500 is stored is the setting `store500s` (option, default true as on Stripe; admin
// POST /__admin/settings {"store_500s": false}): off, an error500 stores nothing and a charged500 releases its key,
// so a retry with the same key executes again.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { accountRoutes } from './account-routes';
import { accountInvalid } from './accounts';
import { type AdminTarget, adminResponse, type SimulatorSettings } from './admin';
import { type ApiRequest, type ApiResponse, type HttpMethod, matchRoute, type Route } from './api';
import { authenticate, maskKey } from './auth';
import { type BalanceTransactionView, type FeeSchedule, parseFeeSchedule } from './balance';
import type { PayoutFailureCode } from './bank-accounts';
import { type ChargeAftermath, chargeRoutes, renderCharge } from './charge-routes';
import { ChargeLedger, type ChargeRecord } from './charges';
import { checkoutSessionRoutes, DEFAULT_MIN_EXPIRY_S } from './checkout-session-routes';
import { CheckoutSessionService } from './checkout-sessions';
import { assertDelay, Connect, type ConnectSettings, defaultConnectSettings } from './connect';
import { connectRoutes } from './connect-routes';
import { normalizeCurrency } from './currencies';
import { disputeRoutes } from './dispute-routes';
import {
  DEFAULT_DISPUTE_FEES,
  type DisputeFeeSchedule,
  type DisputeReason,
  DisputeService,
  parseDisputeFees,
} from './disputes';
import {
  edgeErrorPage,
  errorEnvelope,
  internalError,
  invalidRequest,
  rateLimited,
  StripeApiError,
  unknownError,
  unrecognizedUrl,
} from './errors';
import { AUTOMATIC, EventStore, eventRoutes } from './events';
import {
  type FaultConfig,
  FaultInjector,
  type FaultPlan,
  type FaultToken,
  type InjectedFault,
  parseFaultToken,
  type TargetedFault,
} from './faults';
import { canonicalForm, FormError, type FormObject, parseForm } from './form';
import { hostedPage, isHostedPath } from './hosted-page';
import { IDEMPOTENCY_KEY_MAX_LENGTH, IdempotencyStore, type StoredResponse } from './idempotency';
import { newId } from './ids';
import { LifecycleEvents } from './lifecycle-events';
import { MoneyClock, type MoneyClockView } from './money-clock';
import { isOnboardingPath, onboardingPage } from './onboarding-page';
import { DEFAULT_SEARCH_LAG_MS, paymentIntentRoutes } from './payment-intent-routes';
import {
  type AuthenticationOutcome,
  type IntentHooks,
  PaymentIntentService,
  type SettlementOutcome,
} from './payment-intents';
import { isTestToken, PaymentMethodStore } from './payment-methods';
import type { PayoutView } from './payouts';
import { refundRoutes } from './refund-routes';
import { parseRefundFailurePlan, type RefundFailurePlan, type RefundFailureReason, RefundService } from './refunds';
import {
  assertPendingPolls,
  DEFAULT_REPORT_PENDING_POLLS,
  type MonthlyFeeSchedule,
  parseMonthlyFees,
  ReportingService,
} from './reporting';
import { reportingRoutes } from './reporting-routes';
import {
  parseSettlementFaults,
  type SettlementFaultConfig,
  SettlementFaults,
  type SettlementFaultsInput,
  type SettlementManifest,
  utcDate,
  utcDayStart,
} from './settlement-faults';
import { ACCOUNT_API_VERSION } from './versions';
import {
  assertApiVersion,
  assertHttpUrl,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_BASE_MS,
  defaultBehaviour,
  type ManualSend,
  newWebhookSecret,
  parseBehaviour,
  type WebhookBehaviour,
  type WebhookDelivery,
  WebhookDispatcher,
  type WebhookEndpoint,
} from './webhooks';

export interface PspSimulatorOptions {
  secretKey: string;
  /**
   * Awaited once the request is authenticated and its idempotency key claimed, before the endpoint
   * runs: holding it keeps the request "in progress" (latency, and later fault injection).
   */
  beforeExecute?: (request: ApiRequest) => Promise<void> | void;
  /** Clock in milliseconds (default Date.now), so tests can move time, e.g. past the 24 h key expiry. */
  now?: () => number;
  /** How long a `timeout` fault holds the connection open before destroying it (default 30 s). */
  hangMs?: number;
  /** Where events are POSTed (none by default; see also setWebhookEndpoint and the admin route). */
  webhookUrl?: string;
  /** The endpoint's signing secret (`whsec_...`; a random one when omitted). */
  webhookSecret?: string;
  /** The API version the endpoint's events are rendered in (default: the account's, the SDK's pinned version). */
  webhookApiVersion?: string;
  /** Backoff base between delivery attempts: base * 2^(attempt-1) (default 1000 ms). */
  webhookRetryBaseMs?: number;
  /** Automatic delivery attempts per event, the first included (default 8). */
  webhookMaxAttempts?: number;
  /** The initial delivery behaviour (duplicate, delay, reorder, pause...), also restored by reset(). */
  webhookBehaviour?: Partial<WebhookBehaviour>;
  /** Base URL of the hosted pages in `url` and `next_action` (default http://<host>:<port>). */
  publicUrl?: string;
  /** The minimum time from creation to a Checkout Session's `expires_at` (Stripe: 1800 s). */
  checkoutMinExpirySeconds?: number;
  /**
   * How far PaymentIntent search lags behind writes, as Stripe's search index does (default DEFAULT_SEARCH_LAG_MS,
   * 1000 ms; 0: no lag). A backend must not take "not found" for "no charge" within this window.
   */
  searchLagMs?: number;
  /** How often open Checkout Sessions are checked for expiry (default 1000 ms). */
  sessionSweepMs?: number;
  /**
   * Whether an injected 500 (error500, charged500) is stored under its idempotency key and replayed to a retry,
   * as Stripe does (default true). Also restored by reset().
   */
  store500s?: boolean;
  /**
   * Seconds from a charge's capture to its funds being available (`available_on`, money clock; default 86400, one
   * day). Also POST /__admin/settings {"availability_delay_seconds": N}; restored by reset().
   */
  availabilityDelaySeconds?: number;
  /** Seconds from a payout's creation to `in_transit` (default 60; admin: payout_in_transit_seconds). */
  payoutInTransitSeconds?: number;
  /** Seconds from a payout's creation to its `arrival_date`, when it is paid or fails (default 86400). */
  payoutArrivalSeconds?: number;
  /**
   * Stripe's processing fee on a charge, by lowercase currency with `default` for the others:
   * `{ eur: { percent: 1.5, fixed: 25 }, default: { percent: 2.9, fixed: 30 } }` (default 2.9% + 30 minor units for
   * every currency, the percent part rounded half up to the minor unit; admin: fee_schedule).
   */
  feeSchedule?: FeeSchedule;
  /** How often due money movements (funds becoming available, payouts progressing) are applied (default 1000 ms). */
  moneySweepMs?: number;
  /**
   * The dispute fee in minor units by lowercase currency, with `default` for the others (default `{ default: 1500 }`;
   * admin: POST /__admin/settings {"dispute_fee": {...}}); restored by reset().
   */
  disputeFees?: DisputeFeeSchedule;
  /**
   * How many retrieves of a report run still answer `pending` before it is `succeeded` (default 1; admin: POST
   * /__admin/settings {"report_pending_polls": N}); restored by reset().
   */
  reportPendingPolls?: number;
  /**
   * A monthly fee by lowercase currency, in minor units (default none): the first report covering 00:00:00 UTC of a
   * month's first day books it then as a `stripe_fee` balance transaction, once per month and currency (admin:
   * POST /__admin/settings {"monthly_fee": {"eur": 2500}}); restored by reset().
   */
  monthlyFees?: MonthlyFeeSchedule;
}

/** What POST /__admin/disputes takes: the disputed payment (an intent's latest charge, or a charge). */
export interface DisputeOpening {
  payment_intent?: string;
  charge?: string;
  /** Default fraudulent. */
  reason?: DisputeReason;
  /** Default: the captured amount. */
  amount?: number;
}

/** What tests may change on a connected account (as POST /__admin/accounts/:id). */
export interface AccountChanges {
  payouts_enabled?: boolean;
  transfers_enabled?: boolean;
  payout_failure_code?: PayoutFailureCode | null;
  disabled_reason?: string | null;
}

export interface PspSimulator {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
  /** Every stored PaymentIntent, oldest first (copies). */
  paymentIntents(): Stripe.PaymentIntent[];
  /** Successful charges (money the PSP took or authorized), oldest first. */
  charges(): ChargeRecord[];
  /** Every charge attempt, declined ones included. */
  chargeAttempts(): ChargeRecord[];
  chargeCount(): number;
  /** Replaces the rate-based fault config (omitted fields off); throws FaultConfigError when invalid. */
  setFaults(config: Partial<FaultConfig>): FaultConfig;
  /** The current rate-based fault config. */
  faults(): FaultConfig;
  /** Every fault injected so far (token and rate based), oldest first. */
  injectedFaults(): InjectedFault[];
  /** Whether injected 500s are stored under their idempotency key (see PspSimulatorOptions.store500s). */
  store500s(): boolean;
  setStore500s(store: boolean): void;
  /** Every Checkout Session, oldest first (copies). */
  checkoutSessions(): Stripe.Checkout.Session[];
  /** Every event, oldest first (copies). */
  events(): Stripe.Event[];
  /** Every webhook delivery attempt, in the order they finished. */
  webhookDeliveries(): WebhookDelivery[];
  webhookEndpoint(): WebhookEndpoint | undefined;
  /**
   * Sets the endpoint (secret kept, or random, when omitted; API version kept when omitted, the account's default
   * when null); null removes it.
   */
  setWebhookEndpoint(url: string | null, secret?: string, apiVersion?: string | null): WebhookEndpoint | undefined;
  webhookBehaviour(): WebhookBehaviour;
  /** Merges a partial behaviour; throws WebhookConfigError when invalid. */
  setWebhookBehaviour(behaviour: Partial<WebhookBehaviour>): WebhookBehaviour;
  /** Deliveries not finished yet (held, buffered, waiting for a retry, queued or in flight). */
  pendingWebhooks(): number;
  /** Delivers an event again: same id and body, freshly signed (one attempt). */
  resendWebhook(eventId: string): Promise<WebhookDelivery>;
  /** One delivery with an offset timestamp, another secret or a tampered body (negative tests). */
  sendWebhook(eventId: string, options?: ManualSend): Promise<WebhookDelivery>;
  /** What the 3-D Secure challenge buttons do. */
  authenticatePaymentIntent(id: string, outcome: AuthenticationOutcome): Stripe.PaymentIntent;
  /** Ends the `processing` state of an intent. */
  settlePaymentIntent(id: string, outcome: SettlementOutcome): Stripe.PaymentIntent;
  /** Adds a targeted fault (see faults.ts); returns every pending one. Throws FaultConfigError when invalid. */
  injectFault(fault: Partial<TargetedFault> & Pick<TargetedFault, 'path' | 'fault'>): TargetedFault[];
  /** The targeted faults not taken yet. */
  targetedFaults(): TargetedFault[];
  /** The money clock (Unix seconds) and its offset from the simulator's clock. */
  moneyClock(): MoneyClockView;
  /** Moves the money clock forward and applies every transition now due, in time order. */
  advanceClock(seconds: number): MoneyClockView;
  /** Applies the money movements due now (what the sweep does). */
  applyDueMoneyMovements(): void;
  /** Every connected account, oldest first (rendered as the API renders them). */
  accounts(): Stripe.Account[];
  /** Admin changes to an account (see AccountChanges); emits account.updated when it changes. */
  updateAccount(id: string, changes: AccountChanges): Stripe.Account;
  /** Every transfer, oldest first. */
  transfers(): Stripe.Transfer[];
  /** Every payout, oldest first, with its account. */
  payouts(): PayoutView[];
  /** Fails a payout now (a paid one included, as Stripe may days later). */
  failPayout(id: string, failureCode: PayoutFailureCode): PayoutView;
  /**
   * Balance transactions, oldest first, with their account: every one (no argument), the platform's (null) or one
   * connected account's.
   */
  balanceTransactions(account?: string | null): BalanceTransactionView[];
  /** The Balance of the platform (no argument or null) or of a connected account. */
  balance(account?: string | null): Stripe.Balance;
  /** The Connect timing and fee settings (see the options). */
  connectSettings(): ConnectSettings;
  /** Merges settings (validated; throws RangeError or FeeScheduleError); applies to what happens next. */
  setConnectSettings(settings: Partial<ConnectSettings>): ConnectSettings;
  /** Every refund, oldest first. */
  refunds(): Stripe.Refund[];
  /** Fails a refund now: a pending or a succeeded one (Stripe may fail one days later). */
  failRefund(id: string, reason: RefundFailureReason): Stripe.Refund;
  /** The next refunds fail (as POST /__admin/refunds/failures); returns the plans not used up yet. */
  planRefundFailures(
    plan: Pick<RefundFailurePlan, 'refund_failure_reason'> & Partial<RefundFailurePlan>,
  ): RefundFailurePlan[];
  /** Adds available funds to the platform's balance (a `topup` balance transaction). */
  topUp(currency: string, amount: number): Stripe.BalanceTransaction;
  /** Every dispute, oldest first. */
  disputes(): Stripe.Dispute[];
  /** Opens a dispute as the cardholder's bank would (as POST /__admin/disputes). */
  openDispute(opening: DisputeOpening): Stripe.Dispute;
  /** The bank's decision on a dispute (as POST /__admin/disputes/:id/close). */
  closeDispute(id: string, status: 'won' | 'lost'): Stripe.Dispute;
  /**
   * A fee Stripe charges on its own, now (as POST /__admin/stripe_fees): a platform `stripe_fee` balance transaction of
   * -amount (minor units, positive), reporting_category fee, no source.
   */
  addStripeFee(currency: string, amount: number, description?: string): Stripe.BalanceTransaction;
  /**
   * Sets one day's settlement faults (as POST /__admin/settlement/faults), replacing that day's earlier ones; answers
   * the day's manifest. Throws SettlementFaultError (400 a bad field, 409 too few eligible rows).
   */
  setSettlementFaults(faults: SettlementFaultsInput): SettlementManifest;
  /** Forgets every settlement fault (rows moved by late_rows go back to their dates). */
  clearSettlementFaults(): void;
  /** The settlement faults in force, oldest date first. */
  settlementFaults(): SettlementFaultConfig[];
  /** What was injected into a day's file (`YYYY-MM-DD`). */
  settlementManifest(date: string): SettlementManifest;
  /** The settlement file (CSV, every column) of a UTC day (`YYYY-MM-DD`), as a report run of that day makes it now. */
  settlementFile(date: string): string;
  /** Every report run, newest first, as they are. */
  reportRuns(): Stripe.Reporting.ReportRun[];
  /**
   * Forgets everything: intents, payment methods, charges, sessions, events, idempotency keys, fault
   * config, targeted faults, log and counters, pending webhook deliveries and their log, accounts, Account Links,
   * balances and balance transactions, transfers, payouts, refunds and their failure plans, disputes, report runs
   * and files, settlement faults, the money clock's offset (endpoint, behaviour, store500s, the Connect settings, the
   * dispute fees, report_pending_polls and the monthly fees back to the startup options).
   */
  reset(): void;
}

const MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_HANG_MS = 30_000;

/** The resettable state. */
interface State {
  routes: Route[];
  idempotency: IdempotencyStore;
  intents: PaymentIntentService;
  charges: ChargeLedger;
  methods: PaymentMethodStore;
  sessions: CheckoutSessionService;
  events: EventStore;
  clock: MoneyClock;
  connect: Connect;
  refunds: RefundService;
  disputes: DisputeService;
  reporting: ReportingService;
  settlement: SettlementFaults;
}

interface Simulator extends State {
  secretKey: string;
  /** See PspSimulatorOptions.store500s; `initialStore500s` is what reset() restores. */
  store500s: boolean;
  initialStore500s: boolean;
  beforeExecute: PspSimulatorOptions['beforeExecute'];
  now: () => number;
  hangMs: number;
  faults: FaultInjector;
  webhooks: WebhookDispatcher;
  /** Base URL of the hosted pages, known once listening. */
  publicUrl: string;
  minExpirySeconds: number;
  searchLagMs: number;
  /** Pending latency and hang timers, cleared on close. */
  timers: Set<NodeJS.Timeout>;
  /** Timing and fees of money movements; `initialConnectSettings` is what reset() restores. */
  connectSettings: ConnectSettings;
  initialConnectSettings: ConnectSettings;
  /** The dispute fees; `initialDisputeFees` is what reset() restores. */
  disputeFees: DisputeFeeSchedule;
  initialDisputeFees: DisputeFeeSchedule;
  /** See PspSimulatorOptions.reportPendingPolls; `initialReportPendingPolls` is what reset() restores. */
  reportPendingPolls: number;
  initialReportPendingPolls: number;
  /** See PspSimulatorOptions.monthlyFees; `initialMonthlyFees` is what reset() restores. */
  monthlyFees: MonthlyFeeSchedule;
  initialMonthlyFees: MonthlyFeeSchedule;
}

interface Outgoing {
  status: number;
  body: string;
  headers: Record<string, string>;
  /** Answered by a load balancer in front of the API: none of the API's headers. */
  edge?: boolean;
  /** A stored response replayed to a retry. */
  replayed?: boolean;
  /** Stored under the request's idempotency key. */
  stored?: boolean;
  /** An executed request whose result must not be stored (a charged500 with store500s off). */
  doNotStore?: boolean;
}

/** What one API request decided about faults, filled in by handleApi. */
interface Exchange {
  requestId: string;
  plan?: FaultPlan;
}

export async function startPspSimulator(
  opts: PspSimulatorOptions & { port?: number; host?: string },
): Promise<PspSimulator> {
  const sim = createSimulator(opts);
  const server = createServer((req, res) => {
    handle(sim, req, res).catch((error: unknown) => {
      console.error('psp-simulator: unhandled error', error);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await listen(server, opts.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;
  sim.publicUrl = (opts.publicUrl ?? url).replace(/\/+$/, '');
  const sweepMs = opts.sessionSweepMs ?? 1000;
  const sweep = setInterval(() => sim.sessions.expireDue(), sweepMs);
  sweep.unref();
  const moneySweep = setInterval(() => applyDue(sim), opts.moneySweepMs ?? 1000);
  moneySweep.unref();
  let closing: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    // Idempotent: a second call waits for the first.
    close: () => {
      if (!closing) {
        clearInterval(sweep);
        clearInterval(moneySweep);
        sim.webhooks.close();
        for (const timer of sim.timers) clearTimeout(timer);
        sim.timers.clear();
        closing = close(server);
      }
      return closing;
    },
    paymentIntents: () =>
      sim.intents
        .newestFirst()
        .reverse()
        .map((intent) => structuredClone(intent)),
    charges: () => sim.charges.succeeded(),
    chargeAttempts: () => sim.charges.all(),
    chargeCount: () => sim.charges.succeeded().length,
    setFaults: (config) => sim.faults.configure(config),
    faults: () => sim.faults.current(),
    injectedFaults: () => sim.faults.injected(),
    store500s: () => sim.store500s,
    setStore500s: (store) => {
      sim.store500s = store;
    },
    checkoutSessions: () =>
      sim.sessions
        .newestFirst()
        .reverse()
        .map((session) => structuredClone(session)),
    events: () => sim.events.oldestFirst().map((event) => structuredClone(event)),
    webhookDeliveries: () => sim.webhooks.deliveries(),
    webhookEndpoint: () => sim.webhooks.currentEndpoint(),
    setWebhookEndpoint: (endpointUrl, secret, apiVersion) => sim.webhooks.setEndpoint(endpointUrl, secret, apiVersion),
    webhookBehaviour: () => sim.webhooks.currentBehaviour(),
    setWebhookBehaviour: (behaviour) => sim.webhooks.configure(behaviour),
    pendingWebhooks: () => sim.webhooks.pending(),
    resendWebhook: (eventId) => sim.webhooks.resend(eventId),
    sendWebhook: (eventId, options = {}) => sim.webhooks.send(eventId, options),
    authenticatePaymentIntent: (id, outcome) => structuredClone(sim.intents.authenticate(id, outcome)),
    settlePaymentIntent: (id, outcome) => structuredClone(sim.intents.settleProcessing(id, outcome)),
    injectFault: (fault) => sim.faults.target(fault),
    targetedFaults: () => sim.faults.targetedFaults(),
    moneyClock: () => sim.clock.view(),
    advanceClock: (seconds) => sim.connect.advance(seconds),
    applyDueMoneyMovements: () => sim.connect.applyDue(),
    accounts: () => sim.connect.accounts.newestFirst().reverse(),
    updateAccount: (id, changes) => sim.connect.accounts.adminUpdate(id, changes),
    transfers: () => sim.connect.transfers.newestFirst().reverse(),
    payouts: () => sim.connect.payouts.views(),
    failPayout: (id, failureCode) => sim.connect.payouts.fail(id, failureCode, AUTOMATIC),
    balanceTransactions: (account) => sim.connect.ledger.views(account),
    balance: (account = null) => sim.connect.balance(account),
    connectSettings: () => structuredClone(sim.connectSettings),
    setConnectSettings: (settings) => {
      sim.connectSettings = validConnectSettings({ ...sim.connectSettings, ...settings });
      return structuredClone(sim.connectSettings);
    },
    refunds: () => sim.refunds.oldestFirst(),
    failRefund: (id, reason) => {
      const refund = sim.refunds.fail(id, reason, AUTOMATIC);
      sim.connect.applyDue();
      return refund;
    },
    planRefundFailures: (plan) => sim.refunds.planFailures(parseRefundFailurePlan(plan)),
    topUp: (currency, amount) => topUp(sim, currency, amount),
    disputes: () => sim.disputes.oldestFirst(),
    openDispute: (opening) => openDispute(sim, opening),
    closeDispute: (id, status) => closeDispute(sim, id, status),
    addStripeFee: (currency, amount, description) => addStripeFee(sim, currency, amount, description),
    setSettlementFaults: (faults) => setSettlementFaults(sim, faults),
    clearSettlementFaults: () => sim.settlement.clear(),
    settlementFaults: () => sim.settlement.configs(),
    settlementManifest: (date) => sim.settlement.manifest(date),
    settlementFile: (date) => settlementFile(sim, date),
    reportRuns: () => sim.reporting.newestFirst(),
    reset: () => reset(sim),
  };
}

function addStripeFee(sim: Simulator, currency: string, amount: number, description?: string | null) {
  if (!Number.isInteger(amount) || amount < 1 || amount > MAX_AMOUNT) {
    throw new RangeError(`amount must be an integer from 1 to ${MAX_AMOUNT} (minor units).`);
  }
  return sim.reporting.addStripeFee(normalizeCurrency(currency), amount, description ?? null);
}

function setSettlementFaults(sim: Simulator, input: unknown): SettlementManifest {
  return sim.settlement.set(parseSettlementFaults(input, utcDate(sim.clock.now())));
}

function settlementFile(sim: Simulator, date: string): string {
  const start = utcDayStart(date);
  if (start === undefined) throw new RangeError('date must be a valid day as YYYY-MM-DD (UTC).');
  return sim.reporting.dayCsv(start);
}

/** Stripe's ceiling on an amount (99,999,999 minor units). */
const MAX_AMOUNT = 99_999_999;

function topUp(sim: Simulator, currency: string, amount: number): Stripe.BalanceTransaction {
  if (!Number.isInteger(amount) || amount < 1 || amount > MAX_AMOUNT) {
    throw new RangeError(`amount must be an integer from 1 to ${MAX_AMOUNT} (minor units).`);
  }
  return sim.connect.topUp(normalizeCurrency(currency), amount);
}

function openDispute(sim: Simulator, opening: DisputeOpening): Stripe.Dispute {
  return sim.disputes.open(
    {
      ...(opening.charge !== undefined && { charge: opening.charge }),
      ...(opening.payment_intent !== undefined && { paymentIntent: opening.payment_intent }),
      reason: opening.reason ?? 'fraudulent',
      ...(opening.amount !== undefined && { amount: opening.amount }),
    },
    AUTOMATIC,
  );
}

/** A won dispute gives money back: what waits for funds (pending refunds) proceeds at once. */
function closeDispute(sim: Simulator, id: string, status: 'won' | 'lost'): Stripe.Dispute {
  const dispute = sim.disputes.close(id, status, AUTOMATIC);
  sim.connect.applyDue();
  return dispute;
}

/** Applies due money movements; never throws (a sweep or a request must not fail for it). */
function applyDue(sim: Simulator): void {
  try {
    sim.connect.applyDue();
  } catch (error) {
    console.error('psp-simulator: applying due money movements failed', error);
  }
}

function validConnectSettings(settings: ConnectSettings): ConnectSettings {
  assertDelay('availabilityDelaySeconds', settings.availabilityDelaySeconds);
  assertDelay('payoutInTransitSeconds', settings.payoutInTransitSeconds);
  assertDelay('payoutArrivalSeconds', settings.payoutArrivalSeconds);
  return { ...settings, feeSchedule: parseFeeSchedule(settings.feeSchedule) };
}

function createSimulator(opts: PspSimulatorOptions): Simulator {
  const now = opts.now ?? Date.now;
  const hangMs = opts.hangMs ?? DEFAULT_HANG_MS;
  if (!Number.isInteger(hangMs) || hangMs < 0) throw new Error(`hangMs must be a non-negative integer: ${hangMs}`);
  const minExpirySeconds = opts.checkoutMinExpirySeconds ?? DEFAULT_MIN_EXPIRY_S;
  if (!Number.isInteger(minExpirySeconds) || minExpirySeconds < 0) {
    throw new Error(`checkoutMinExpirySeconds must be a non-negative integer: ${minExpirySeconds}`);
  }
  if (opts.webhookUrl) assertHttpUrl(opts.webhookUrl);
  if (opts.webhookApiVersion !== undefined) assertApiVersion(opts.webhookApiVersion);
  const endpoint = opts.webhookUrl
    ? {
        url: opts.webhookUrl,
        secret: opts.webhookSecret ?? newWebhookSecret(),
        ...(opts.webhookApiVersion !== undefined && { apiVersion: opts.webhookApiVersion }),
      }
    : undefined;
  const behaviour = defaultBehaviour({
    retry_base_ms: opts.webhookRetryBaseMs ?? DEFAULT_RETRY_BASE_MS,
    max_attempts: opts.webhookMaxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    ...opts.webhookBehaviour,
  });
  parseBehaviour(behaviour);
  const defaults = defaultConnectSettings();
  const connectSettings = validConnectSettings({
    availabilityDelaySeconds: opts.availabilityDelaySeconds ?? defaults.availabilityDelaySeconds,
    payoutInTransitSeconds: opts.payoutInTransitSeconds ?? defaults.payoutInTransitSeconds,
    payoutArrivalSeconds: opts.payoutArrivalSeconds ?? defaults.payoutArrivalSeconds,
    feeSchedule: opts.feeSchedule ?? defaults.feeSchedule,
  });
  const disputeFees = parseDisputeFees(opts.disputeFees ?? DEFAULT_DISPUTE_FEES);
  const reportPendingPolls = opts.reportPendingPolls ?? DEFAULT_REPORT_PENDING_POLLS;
  assertPendingPolls(reportPendingPolls);
  const monthlyFees = parseMonthlyFees(opts.monthlyFees ?? {});
  const moneySweepMs = opts.moneySweepMs ?? 1000;
  if (!Number.isInteger(moneySweepMs) || moneySweepMs < 1) {
    throw new Error(`moneySweepMs must be a positive integer: ${moneySweepMs}`);
  }
  // The state is created below; the dispatcher reads the current event store through `sim`.
  const sim = {
    secretKey: opts.secretKey,
    store500s: opts.store500s ?? true,
    initialStore500s: opts.store500s ?? true,
    beforeExecute: opts.beforeExecute,
    now,
    hangMs,
    faults: new FaultInjector(now),
    publicUrl: opts.publicUrl ?? '',
    minExpirySeconds,
    searchLagMs: opts.searchLagMs ?? DEFAULT_SEARCH_LAG_MS,
    timers: new Set(),
    connectSettings,
    initialConnectSettings: structuredClone(connectSettings),
    disputeFees,
    initialDisputeFees: structuredClone(disputeFees),
    reportPendingPolls,
    initialReportPendingPolls: reportPendingPolls,
    monthlyFees,
    initialMonthlyFees: structuredClone(monthlyFees),
  } as Omit<Simulator, keyof State | 'webhooks'> as Simulator;
  sim.webhooks = new WebhookDispatcher(
    endpoint,
    behaviour,
    now,
    (id) => sim.events.find(id),
    (id) => sim.events.delivered(id),
  );
  return Object.assign(sim, createState(sim));
}

function createState(sim: Simulator): State {
  const nowSeconds = () => Math.floor(sim.now() / 1000);
  const clock = new MoneyClock(sim.now);
  const methods = new PaymentMethodStore(nowSeconds);
  // Hooks and listeners are called only after construction, once everything below exists.
  let sessions: CheckoutSessionService | undefined;
  let lifecycle: LifecycleEvents | undefined;
  let connect: Connect | undefined;
  // Books a capture's funds first, so the charge's events render its balance transaction.
  const charges = new ChargeLedger((record, change) => {
    connect?.chargeChanged(record, change);
    lifecycle?.chargeChanged(record, change);
  });
  const events = new EventStore(
    () => clock.now(),
    () => sim.webhooks.endpointCount(),
    (stored) => sim.webhooks.enqueue(stored),
    () => sim.webhooks.endpointApiVersion(),
  );
  const hooks: IntentHooks = {
    changed: (type, intent, origin) => {
      lifecycle?.intentChanged(type, intent, origin);
      sessions?.onIntentChanged(type, intent, origin);
    },
    challengeUrl: (intent) => {
      const sessionId = sessions?.sessionIdForIntent(intent.id);
      const path = sessionId ? `/pay/${encodeURIComponent(sessionId)}/3ds` : `/3ds/${encodeURIComponent(intent.id)}`;
      return `${sim.publicUrl}${path}`;
    },
  };
  // The search index lags on the simulator's clock, so tests moving time move it too.
  const intents = new PaymentIntentService(methods, charges, nowSeconds, hooks, sim.now);
  const describeCharge = (record: ChargeRecord) =>
    intents.has(record.payment_intent) ? (intents.get(record.payment_intent).description ?? null) : null;
  connect = new Connect({
    clock,
    events,
    charges,
    settings: () => sim.connectSettings,
    nowSeconds,
    publicUrl: () => sim.publicUrl,
    describeCharge,
  });
  const ledger = connect.ledger;
  const balanceTransaction = (id: string) => ledger.get(null, id);
  const latestCharge = (paymentIntent: string): string | null | undefined => {
    if (!intents.has(paymentIntent)) return undefined;
    const latest = intents.get(paymentIntent).latest_charge;
    return typeof latest === 'string' ? latest : (latest?.id ?? null);
  };
  const disputes = new DisputeService({
    ledger,
    clock,
    events,
    charges,
    fees: () => sim.disputeFees,
    latestCharge,
    cardBrand: (record) => methods.get(record.payment_method)?.object.card?.brand ?? null,
    // Constructed below; called only once a dispute opens.
    opened: (chargeId, origin) => refunds.disputeOpened(chargeId, origin),
  });
  const refunds = new RefundService({
    ledger,
    clock,
    events,
    charges,
    latestCharge,
    renderCharge: (id) => renderCharge(charges.get(id) as ChargeRecord, chargeSources),
    customerOf: (record) => {
      const customer = intents.has(record.payment_intent) ? intents.get(record.payment_intent).customer : null;
      return typeof customer === 'string' ? customer : (customer?.id ?? null);
    },
    describeCharge,
    blockedByDispute: (id) => disputes.blocksRefund(id),
  });
  connect.register(refunds);
  const aftermath: ChargeAftermath = {
    refundedAmount: (id) => refunds.refundedAmount(id),
    refundsOf: (id) => refunds.refundsOf(id),
    disputed: (id) => disputes.forCharge(id) !== undefined,
  };
  const chargeSources = { charges, intents, methods, balanceTransaction, aftermath };
  const chargeObject = (id: string) => {
    const record = charges.get(id);
    return record && renderCharge(record, chargeSources);
  };
  const intentObject = (id: string) => (intents.has(id) ? structuredClone(intents.get(id)) : undefined);
  lifecycle = new LifecycleEvents(events, charges, (record) => renderCharge(record, chargeSources));
  // Constructed below; the faults read the payments of rows through the reports.
  let reporting: ReportingService | undefined;
  const settlement = new SettlementFaults({
    ledger,
    charges,
    paymentOf: (txn) => reporting?.paymentOf(txn) ?? { paymentIntent: null, paymentId: null },
    feeSchedule: () => sim.connectSettings.feeSchedule,
    availabilityDelaySeconds: () => sim.connectSettings.availabilityDelaySeconds,
  });
  reporting = new ReportingService({
    ledger,
    clock,
    charges,
    transfers: connect.transfers,
    faults: settlement,
    charge: chargeObject,
    paymentIntent: intentObject,
    refund: (id) => (refunds.has(id) ? refunds.get(id) : undefined),
    dispute: (id) => (disputes.has(id) ? disputes.get(id) : undefined),
    publicUrl: () => sim.publicUrl,
    pendingPolls: () => sim.reportPendingPolls,
    monthlyFees: () => sim.monthlyFees,
  });
  sessions = new CheckoutSessionService(intents, nowSeconds, {
    changed: (type, session, origin) => events.emit(type, session, origin),
    pageUrl: (id) => `${sim.publicUrl}/pay/${encodeURIComponent(id)}`,
  });
  return {
    routes: [
      ...paymentIntentRoutes(intents, methods, { searchLagMs: sim.searchLagMs, balanceTransaction, aftermath }),
      ...chargeRoutes(chargeSources),
      ...refundRoutes({
        refunds,
        renderCharge: chargeObject,
        paymentIntent: intentObject,
        balanceTransaction,
        hasCharge: (id) => charges.get(id) !== undefined,
      }),
      ...disputeRoutes({ disputes, renderCharge: chargeObject, paymentIntent: intentObject }),
      ...checkoutSessionRoutes(sessions, intents, { nowSeconds, minExpirySeconds: sim.minExpirySeconds }),
      ...eventRoutes(events),
      ...accountRoutes(connect.accounts),
      ...connectRoutes(connect),
      ...reportingRoutes(reporting),
    ],
    idempotency: new IdempotencyStore(sim.now),
    intents,
    charges,
    methods,
    sessions,
    events,
    clock,
    connect,
    refunds,
    disputes,
    reporting,
    settlement,
  };
}

/** Requests still in flight finish against the state they started with. */
function reset(sim: Simulator): void {
  sim.webhooks.reset();
  Object.assign(sim, createState(sim));
  sim.faults.reset();
  sim.store500s = sim.initialStore500s;
  sim.connectSettings = structuredClone(sim.initialConnectSettings);
  sim.disputeFees = structuredClone(sim.initialDisputeFees);
  sim.reportPendingPolls = sim.initialReportPendingPolls;
  sim.monthlyFees = structuredClone(sim.initialMonthlyFees);
}

async function handle(sim: Simulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://simulator');
  // Whatever fell due since the last sweep is applied before anyone looks.
  applyDue(sim);
  if (url.pathname.startsWith('/__admin/')) {
    send(res, await admin(sim, req, url));
    return;
  }
  if (isHostedPath(url.pathname)) {
    const method = (req.method ?? 'GET').toUpperCase();
    let body = '';
    try {
      if (method === 'POST') body = await readBody(req);
    } catch {
      // Never logged: the body may hold card data.
      send(res, { status: 413, body: 'Request body too large.', headers: { 'Content-Type': 'text/plain' } });
      return;
    }
    send(res, hostedPage(sim, method, url.pathname, body));
    return;
  }
  if (isOnboardingPath(url.pathname)) {
    const method = (req.method ?? 'GET').toUpperCase();
    let body = '';
    try {
      if (method === 'POST') body = await readBody(req);
    } catch {
      // Never logged: the body holds bank details.
      send(res, { status: 413, body: 'Request body too large.', headers: { 'Content-Type': 'text/plain' } });
      return;
    }
    send(res, onboardingPage({ accounts: sim.connect.accounts }, method, url.pathname, body));
    return;
  }
  const exchange: Exchange = { requestId: newId('req', 14) };
  const outgoing = await handleApi(sim, req, url, exchange).catch((error: unknown) =>
    errorResponse(sim, asApiError(error), exchange.requestId),
  );
  if (!outgoing.edge) addApiHeaders(outgoing, exchange.requestId, headerValue(req, 'stripe-version'));
  const { plan } = exchange;
  if (plan?.drop) {
    sim.faults.record(plan, plan.drop);
    dropResponse(sim, req, plan.drop.fault);
    return;
  }
  send(res, outgoing);
}

async function handleApi(sim: Simulator, req: IncomingMessage, url: URL, exchange: Exchange): Promise<Outgoing> {
  const apiKey = authenticate(req.headers.authorization, sim.secretKey);
  const method = (req.method ?? 'GET').toUpperCase();
  const account = headerValue(req, 'stripe-account');
  if (account !== undefined && !sim.connect.accounts.has(account)) throw accountInvalid(account, maskKey(apiKey));
  const match = matchRoute(sim.routes, method, url.pathname);
  if (!match) throw unrecognizedUrl(method, url.pathname);
  if (account !== undefined && !match.route.stripeAccount) {
    throw invalidRequest(
      `The PSP simulator does not model the Stripe-Account header on ${method} ${url.pathname} (Connect endpoints only: accounts, balance, balance transactions, payouts, events).`,
      { param: 'Stripe-Account' },
    );
  }
  // Stripe scopes idempotency keys (and so fault attempts) per account acting.
  const scope = account === undefined ? apiKey : `${apiKey}\u0000${account}`;
  const body = await readBody(req);
  const params = parseForm(method === 'POST' ? body : url.search.slice(1));
  // Stripe ignores idempotency keys on GET and DELETE.
  const key = method === 'POST' ? headerValue(req, 'idempotency-key') : undefined;
  const token = method === 'POST' ? faultTokenOf(params) : undefined;
  const plan = sim.faults.plan({
    method,
    path: url.pathname,
    scope,
    mutating: method === 'POST',
    params,
    ...(key !== undefined && { idempotencyKey: key }),
    ...(token && { token }),
  });
  exchange.plan = plan;
  if (plan.edge) {
    // A load balancer answers before the API sees the request: nothing executes, nothing is stored.
    sim.faults.record(plan, plan.edge);
    const page = edgeErrorPage(plan.edge.fault === 'edge502' ? 502 : 503);
    return { status: page.status, body: page.body, headers: { 'Content-Type': page.contentType }, edge: true };
  }
  const request: ApiRequest = {
    method: method as HttpMethod,
    path: url.pathname,
    pathParams: match.pathParams,
    // The endpoint sees the base token only: the suffix must not change what gets charged or stored.
    params: token ? { ...params, payment_method: token.base } : params,
    requestId: exchange.requestId,
    ...(account !== undefined && { account }),
  };
  // Stripe's rate limiters run before its idempotency layer: a 429 is never stored.
  if (plan.reject) throw injectedRejection(sim, plan);
  // With store500s off, an error500 is answered before the idempotency layer too (nothing stored).
  if (plan.server?.fault === 'error500' && !sim.store500s) throw injectedServerError(sim, plan);
  if (key === undefined) return run(sim, match.route, request, plan);

  request.idempotencyKey = key;
  // The fingerprint is what the client sent, suffix included.
  // Only a digest of the parameters is kept: they may hold bank details (an external_account's number).
  const fingerprint = createHash('sha256').update(canonicalForm(params)).digest('base64url');
  const outgoing = await runIdempotently(sim, match.route, request, scope, key, fingerprint, plan).catch(
    (error: unknown) => errorResponse(sim, asApiError(error), exchange.requestId),
  );
  outgoing.headers['Idempotency-Key'] = key;
  return outgoing;
}

function faultTokenOf(params: FormObject): FaultToken | undefined {
  const paymentMethod = params.payment_method;
  return typeof paymentMethod === 'string' ? parseFaultToken(paymentMethod, isTestToken) : undefined;
}

/** An injected 429: answered before the idempotency layer, so nothing is stored under the key. */
function injectedRejection(sim: Simulator, plan: FaultPlan): StripeApiError {
  if (!plan.reject) throw new Error('no rejection planned');
  sim.faults.record(plan, plan.reject);
  return rateLimited();
}

/** An injected 500 (error500 / charged500), logged as it is applied. */
function injectedServerError(sim: Simulator, plan: FaultPlan): StripeApiError {
  if (!plan.server) throw new Error('no server error planned');
  sim.faults.record(plan, plan.server);
  return unknownError();
}

/** A lost response: the socket is destroyed at once, or (timeout) after hanging `hangMs` without answering. */
function dropResponse(sim: Simulator, req: IncomingMessage, fault: 'lost' | 'timeout'): void {
  const { socket } = req;
  if (fault === 'lost') {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => {
    sim.timers.delete(timer);
    socket.destroy();
  }, sim.hangMs);
  sim.timers.add(timer);
  socket.once('close', () => {
    clearTimeout(timer);
    sim.timers.delete(timer);
  });
}

async function runIdempotently(
  sim: Simulator,
  route: Route,
  request: ApiRequest,
  scope: string,
  key: string,
  params: string,
  plan: FaultPlan,
): Promise<Outgoing> {
  if (key.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    throw invalidRequest(
      `Keys for idempotent requests can be no longer than ${IDEMPOTENCY_KEY_MAX_LENGTH} characters.`,
      { param: 'Idempotency-Key' },
    );
  }
  const endpoint = `${request.method} ${request.path}`;
  const claim = sim.idempotency.begin(scope, key, { endpoint, params });
  switch (claim.outcome) {
    case 'replay':
      return replay(claim.response);
    case 'in_progress':
      throw idempotencyError(
        409,
        'There is currently another in-progress request using this Idempotent Key (probably a retry). Please try again later.',
        'idempotency_key_in_use',
      );
    case 'endpoint_mismatch':
      throw idempotencyError(
        400,
        `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${claim.firstEndpoint}' vs '${endpoint}'). Try using a key other than '${key}' if you meant to execute a different request.`,
      );
    case 'params_mismatch':
      throw idempotencyError(
        400,
        `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
      );
    case 'acquired': {
      const outgoing = await run(sim, route, request, plan, claim.release);
      if (outgoing.doNotStore) {
        claim.release();
      } else {
        claim.complete({ status: outgoing.status, body: outgoing.body, requestId: request.requestId });
        outgoing.stored = true;
      }
      outgoing.headers['Original-Request'] = request.requestId;
      return outgoing;
    }
  }
}

/**
 * Runs a route; `release` is called when it fails before executing (nothing to store). An injected error500
 * replaces the execution once the request passed validation (so it is stored under the key, as a 500 of
 * Stripe's is once the endpoint started); a charged500 replaces the answer of an execution.
 */
async function run(
  sim: Simulator,
  route: Route,
  request: ApiRequest,
  plan: FaultPlan,
  release?: () => void,
): Promise<Outgoing> {
  let execute: () => ApiResponse | Promise<ApiResponse>;
  try {
    // Injected latency holds the claimed key: a concurrent retry meanwhile gets a 409, as on Stripe.
    let latencyMs = 0;
    for (const latency of plan.latency) {
      sim.faults.record(plan, latency);
      latencyMs += latency.latencyMs ?? 0;
    }
    if (latencyMs > 0) await sleep(sim, latencyMs);
    await sim.beforeExecute?.(request);
    execute = route.prepare(request);
  } catch (error) {
    release?.();
    throw error;
  }
  if (plan.server?.fault === 'error500') {
    return errorResponse(sim, injectedServerError(sim, plan), request.requestId);
  }
  let outgoing: Outgoing;
  try {
    const response = await execute();
    outgoing =
      response.contentType === undefined
        ? { status: response.status, body: JSON.stringify(response.body, null, 2), headers: {} }
        : { status: response.status, body: String(response.body), headers: { 'Content-Type': response.contentType } };
  } catch (error) {
    outgoing = errorResponse(sim, asApiError(error), request.requestId);
  }
  if (plan.server?.fault === 'charged500') {
    // Executed (and charged): the client only learns of a 500.
    const failed = errorResponse(sim, injectedServerError(sim, plan), request.requestId);
    return sim.store500s ? failed : { ...failed, doNotStore: true };
  }
  return outgoing;
}

function replay(stored: StoredResponse): Outgoing {
  return {
    status: stored.status,
    body: stored.body,
    headers: { 'Idempotent-Replayed': 'true', 'Original-Request': stored.requestId },
    replayed: true,
  };
}

/**
 * The headers of every API answer: Request-Id, Stripe-Version (the request's, else the account's default) and
 * Stripe's retry advice (see the header comment) unless the answer set its own.
 */
function addApiHeaders(outgoing: Outgoing, requestId: string, requestedVersion: string | undefined): void {
  const { headers, status } = outgoing;
  headers['Request-Id'] ??= requestId;
  headers['Stripe-Version'] = requestedVersion ?? ACCOUNT_API_VERSION;
  if (headers['Stripe-Should-Retry'] !== undefined) return;
  const clientError = status >= 400 && status < 500 && status !== 429;
  if (outgoing.replayed || clientError || (status >= 500 && outgoing.stored)) headers['Stripe-Should-Retry'] = 'false';
}

function idempotencyError(status: number, message: string, code?: string): StripeApiError {
  return new StripeApiError(status, { type: 'idempotency_error', message, ...(code && { code }) });
}

function errorResponse(sim: Simulator, error: StripeApiError, requestId: string): Outgoing {
  const body = JSON.stringify(errorEnvelope(error, requestId, Math.floor(sim.now() / 1000)), null, 2);
  const headers: Record<string, string> = {};
  if (error.status === 401) headers['WWW-Authenticate'] = 'Basic realm="Stripe"';
  // The key is held by a request still executing: retrying later is the remedy.
  if (error.body.code === 'idempotency_key_in_use') headers['Stripe-Should-Retry'] = 'true';
  return { status: error.status, body, headers };
}

function asApiError(error: unknown): StripeApiError {
  if (error instanceof StripeApiError) return error;
  if (error instanceof FormError) return invalidRequest(error.message);
  console.error('psp-simulator: internal error', error);
  return internalError();
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const raw = req.headers[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === '' ? undefined : value;
}

function sleep(sim: Simulator, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sim.timers.delete(timer);
      resolve();
    }, ms);
    sim.timers.add(timer);
  });
}

function admin(sim: Simulator, req: IncomingMessage, url: URL) {
  const target: AdminTarget = {
    get intents() {
      return sim.intents;
    },
    get charges() {
      return sim.charges;
    },
    get sessions() {
      return sim.sessions;
    },
    get events() {
      return sim.events;
    },
    get connect() {
      return sim.connect;
    },
    get clock() {
      return sim.clock;
    },
    get refunds() {
      return sim.refunds;
    },
    get disputes() {
      return sim.disputes;
    },
    get reporting() {
      return sim.reporting;
    },
    get settlement() {
      return sim.settlement;
    },
    faults: sim.faults,
    webhooks: sim.webhooks,
    settings: () => settingsView(sim),
    connectSettings: () => connectSettingsView(sim.connectSettings),
    configure: (settings) => {
      // Everything is validated before anything applies.
      const fees = settings.dispute_fee === undefined ? sim.disputeFees : parseDisputeFees(settings.dispute_fee);
      const monthlyFees = settings.monthly_fee === undefined ? sim.monthlyFees : parseMonthlyFees(settings.monthly_fee);
      const pendingPolls = settings.report_pending_polls ?? sim.reportPendingPolls;
      assertPendingPolls(pendingPolls);
      const next = validConnectSettings({
        availabilityDelaySeconds: settings.availability_delay_seconds ?? sim.connectSettings.availabilityDelaySeconds,
        payoutInTransitSeconds: settings.payout_in_transit_seconds ?? sim.connectSettings.payoutInTransitSeconds,
        payoutArrivalSeconds: settings.payout_arrival_seconds ?? sim.connectSettings.payoutArrivalSeconds,
        feeSchedule: settings.fee_schedule ?? sim.connectSettings.feeSchedule,
      });
      sim.connectSettings = next;
      sim.disputeFees = fees;
      sim.monthlyFees = monthlyFees;
      sim.reportPendingPolls = pendingPolls;
      if (settings.store_500s !== undefined) sim.store500s = settings.store_500s;
      return settingsView(sim);
    },
    topUp: (currency, amount) => topUp(sim, currency, amount),
    openDispute: (opening) => openDispute(sim, opening),
    closeDispute: (id, status) => closeDispute(sim, id, status),
    addStripeFee: (currency, amount, description) => addStripeFee(sim, currency, amount, description),
    setSettlementFaults: (input) => setSettlementFaults(sim, input),
    reset: () => reset(sim),
  };
  const json = async (): Promise<unknown> => {
    const body = (await readBody(req)).trim();
    return body === '' ? {} : JSON.parse(body);
  };
  return adminResponse(target, { method: (req.method ?? 'GET').toUpperCase(), url, json });
}

function connectSettingsView(
  settings: ConnectSettings,
): Required<Omit<SimulatorSettings, 'store_500s' | 'dispute_fee' | 'report_pending_polls' | 'monthly_fee'>> {
  return {
    availability_delay_seconds: settings.availabilityDelaySeconds,
    payout_in_transit_seconds: settings.payoutInTransitSeconds,
    payout_arrival_seconds: settings.payoutArrivalSeconds,
    fee_schedule: structuredClone(settings.feeSchedule),
  };
}

/**
 * store_500s, and the Connect settings, dispute fees, report_pending_polls and monthly fees that differ from the
 * built-in defaults.
 */
function settingsView(sim: Simulator): SimulatorSettings {
  const current = connectSettingsView(sim.connectSettings);
  const defaults = connectSettingsView(defaultConnectSettings());
  const view: SimulatorSettings = { store_500s: sim.store500s };
  for (const name of Object.keys(current) as (keyof typeof current)[]) {
    if (JSON.stringify(current[name]) !== JSON.stringify(defaults[name]))
      Object.assign(view, { [name]: current[name] });
  }
  if (JSON.stringify(sim.disputeFees) !== JSON.stringify(DEFAULT_DISPUTE_FEES)) {
    view.dispute_fee = structuredClone(sim.disputeFees);
  }
  if (sim.reportPendingPolls !== DEFAULT_REPORT_PENDING_POLLS) view.report_pending_polls = sim.reportPendingPolls;
  if (Object.keys(sim.monthlyFees).length > 0) view.monthly_fee = structuredClone(sim.monthlyFees);
  return view;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(invalidRequest('Request body too large.', { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, outgoing: Outgoing): void {
  const base = outgoing.edge ? {} : { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, no-store' };
  res.writeHead(outgoing.status, { ...base, ...outgoing.headers });
  res.end(outgoing.body);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // The SDK keeps connections alive; without this close() would wait for them to time out.
    server.closeAllConnections();
  });
}
