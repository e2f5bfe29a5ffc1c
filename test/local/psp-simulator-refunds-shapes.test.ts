// The refund and dispute objects of the PSP simulator against the INSTALLED stripe SDK's declarations: the raw JSON
// bodies of a flow through the real SDK (refunds succeeded, pending, failed, canceled; disputes opened, updated, won
// and lost; their balance transactions, the Charge, the events) are validated against JSON Schemas generated at test
// time from node_modules/stripe/cjs/resources/*.d.ts (Refund, Dispute, BalanceTransaction, Charge and the event
// interfaces), as test/contract does for the other objects. Required properties must be present (null allowed only
// where declared), types and enums must match; extra properties are allowed (Stripe adds fields before the SDK
// declares them). Open enums (`... | OtherString`) are closed: only values the SDK lists pass.

import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import type { Node as TsNode } from 'typescript';
import { type PspSimulator, startPspSimulator } from '../../local/psp-simulator/server';
import { type RecordedExchange, recordingClient } from '../contract/recorder';
import { caught } from '../support/stripe-calls';

jest.setTimeout(90_000);

const SECRET_KEY = 'sk_test_simulator_0123456789abcdefWXYZ';
const RESOURCES = path.join(path.dirname(require.resolve('stripe')), 'resources');

const EVENT_TYPES = [
  'refund.created',
  'refund.updated',
  'refund.failed',
  'charge.refunded',
  'charge.dispute.created',
  'charge.dispute.funds_withdrawn',
  'charge.dispute.updated',
  'charge.dispute.funds_reinstated',
  'charge.dispute.closed',
] as const;

/** `charge.dispute.funds_withdrawn` -> `ChargeDisputeFundsWithdrawnEvent` (the SDK's interface name). */
function eventInterface(type: string): string {
  const words = type.split(/[._]/).map((word) => word.charAt(0).toUpperCase() + word.slice(1));
  return `${words.join('')}Event`;
}

const ROOTS = ['Refund', 'Dispute', 'BalanceTransaction', 'Charge', ...EVENT_TYPES.map(eventInterface)];

type JsonSchema = Record<string, unknown>;

async function generateSchema(): Promise<{ definitions: Record<string, JsonSchema> }> {
  const ts = (await import('typescript')).default;
  const tsj = await import('ts-json-schema-generator');
  const files = ['Refunds', 'Disputes', 'BalanceTransactions', 'Charges', 'Events'].map((name) =>
    path.join(RESOURCES, `${name}.d.ts`),
  );
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    types: [],
  });
  const config = {
    ...tsj.DEFAULT_CONFIG,
    path: path.join(RESOURCES, '*.d.ts'),
    type: ROOTS,
    expose: 'export' as const,
    topRef: true,
    jsDoc: 'none' as const,
    additionalProperties: true,
    skipTypeCheck: true,
    encodeRefs: false,
  };
  // Sub-folder resources (Issuing.Card, Checkout.Session...) share names with top-level ones: qualify them, as
  // test/contract/stripe-schemas.ts does.
  const prototype = tsj.ExposeNodeParser.prototype as unknown as {
    getDefinitionName(node: TsNode, context: unknown): string;
  };
  const original = prototype.getDefinitionName;
  prototype.getDefinitionName = function (this: unknown, node: TsNode, context: unknown): string {
    const name = original.call(this, node, context);
    const file = node.getSourceFile().fileName.replace(/\\/g, '/');
    const folder = /\/node_modules\/stripe\/(?:cjs|esm|types)\/resources\/(.+)\/[^/]+\.d\.ts$/.exec(file)?.[1];
    return folder ? `${folder.replace(/\//g, '.')}.${name}` : name;
  };
  try {
    const generator = new tsj.SchemaGenerator(
      program,
      tsj.createParser(program, config),
      tsj.createFormatter(config),
      config,
    );
    const schema = generator.createSchema(ROOTS as unknown as string) as { definitions: Record<string, JsonSchema> };
    closeOpenEnums(schema.definitions);
    if (schema.definitions.Decimal) schema.definitions.Decimal = { type: 'string' };
    return schema;
  } finally {
    prototype.getDefinitionName = original;
  }
}

/** Drops the `OtherString` alternative of the SDK's open enums (see the header). */
function closeOpenEnums(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) closeOpenEnums(item);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const schema = node as JsonSchema;
  for (const value of Object.values(schema)) closeOpenEnums(value);
  const anyOf = schema.anyOf as JsonSchema[] | undefined;
  if (!Array.isArray(anyOf) || !anyOf.some((branch) => branch.$ref === '#/definitions/OtherString')) return;
  const closed = anyOf.filter((branch) => branch.$ref !== '#/definitions/OtherString');
  delete schema.anyOf;
  if (closed.length === 0) schema.type = 'string';
  else if (closed.every((branch) => branch.type === 'string' && typeof branch.const === 'string')) {
    Object.assign(schema, { type: 'string', enum: closed.map((branch) => branch.const) });
  } else if (closed.length === 1) Object.assign(schema, closed[0]);
  else schema.anyOf = closed;
}

describe('PSP simulator: refund and dispute objects match the stripe SDK declarations', () => {
  let sim: PspSimulator;
  let validators: (root: string) => ValidateFunction;

  beforeAll(async () => {
    const schema = await generateSchema();
    const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
    ajv.addSchema({ ...schema, $id: 'sdk' });
    const compiled = new Map<string, ValidateFunction>();
    validators = (root) => {
      let validate = compiled.get(root);
      if (!validate) {
        if (!schema.definitions[root]) throw new Error(`no schema for ${root}`);
        validate = ajv.compile({ $ref: `sdk#/definitions/${root}` });
        compiled.set(root, validate);
      }
      return validate;
    };
  });

  beforeEach(async () => {
    sim = await startPspSimulator({ secretKey: SECRET_KEY });
  });

  afterEach(async () => {
    await sim.close();
  });

  function violations(root: string, body: unknown, where: string): string[] {
    const validate = validators(root);
    if (validate(body)) return [];
    return (validate.errors ?? []).map((error) => `${where} ${root}${error.instancePath}: ${error.message}`);
  }

  /** What a 2xx body of each route must be. */
  function rootOf(exchange: RecordedExchange): { root: string; list: boolean } | undefined {
    const { method, path: url } = exchange;
    if (/^\/v1\/refunds$/.test(url)) return { root: 'Refund', list: method === 'GET' };
    if (/^\/v1\/refunds\/[^/]+(\/cancel)?$/.test(url)) return { root: 'Refund', list: false };
    if (/^\/v1\/charges\/[^/]+\/refunds$/.test(url)) return { root: 'Refund', list: true };
    if (/^\/v1\/disputes$/.test(url)) return { root: 'Dispute', list: true };
    if (/^\/v1\/disputes\/[^/]+(\/close)?$/.test(url)) return { root: 'Dispute', list: false };
    if (/^\/v1\/charges\/[^/]+$/.test(url)) return { root: 'Charge', list: false };
    if (/^\/v1\/balance_transactions\/[^/]+$/.test(url)) return { root: 'BalanceTransaction', list: false };
    if (/^\/v1\/balance_transactions$/.test(url)) return { root: 'BalanceTransaction', list: true };
    return undefined;
  }

  it('answers Refund, Dispute, Charge, BalanceTransaction and event bodies that match the declarations', async () => {
    const log: RecordedExchange[] = [];
    const stripe = recordingClient(sim, SECRET_KEY, log);
    const admin = async (route: string, body: unknown) => {
      const response = await fetch(`${sim.url}${route}`, { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(200);
      return (await response.json()) as { id: string };
    };
    const pay = (amount: number) =>
      stripe.paymentIntents.create({
        amount,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      });

    // Refunds in every status.
    const pi = await pay(5000);
    const chargeId = pi.latest_charge as string;
    const pending = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000, reason: 'duplicate' });
    expect(pending.status).toBe('pending');
    const canceled = await stripe.refunds.create({ payment_intent: pi.id, amount: 100 });
    await stripe.refunds.cancel(canceled.id);
    await admin('/__admin/balance/topup', { currency: 'eur', amount: 100_000 });
    const succeeded = await stripe.refunds.retrieve(pending.id, { expand: ['balance_transaction'] });
    expect(succeeded.status).toBe('succeeded');
    await admin('/__admin/refunds/failures', { refund_failure_reason: 'expired_or_canceled_card' });
    const failing = await stripe.refunds.create({ charge: chargeId, amount: 500, metadata: { k: 'v' } });
    const failed = await stripe.refunds.retrieve(failing.id, { expand: ['failure_balance_transaction', 'charge'] });
    expect(failed.status).toBe('failed');
    await stripe.refunds.update(succeeded.id, { metadata: { note: 'x' } });
    await stripe.refunds.list({ payment_intent: pi.id, expand: ['data.balance_transaction'] });
    await stripe.charges.retrieve(chargeId, { expand: ['refunds'] });
    await stripe.balanceTransactions.retrieve(failed.balance_transaction as string);
    expect((await caught(stripe.refunds.cancel(succeeded.id))).statusCode).toBe(400);

    // Disputes: won and lost, with evidence.
    const disputed = await pay(2599);
    const won = await admin('/__admin/disputes', { payment_intent: disputed.id, reason: 'fraudulent' });
    await stripe.disputes.update(won.id, {
      evidence: { customer_name: 'Ada', product_description: 'Widget' },
      metadata: { case: '1' },
    });
    await admin(`/__admin/disputes/${won.id}/close`, { status: 'won' });
    const lostPi = await pay(1000);
    const lost = await admin('/__admin/disputes', { payment_intent: lostPi.id, reason: 'product_not_received' });
    await stripe.disputes.close(lost.id);
    await stripe.disputes.list({ expand: ['data.charge'] });
    await stripe.disputes.retrieve(won.id, { expand: ['payment_intent'] });
    await stripe.charges.retrieve(disputed.latest_charge as string);
    await stripe.balanceTransactions.list({ type: 'adjustment' });
    await stripe.balanceTransactions.list({ type: 'topup' });

    const problems: string[] = [];
    const checked = new Map<string, number>();
    const count = (root: string) => checked.set(root, (checked.get(root) ?? 0) + 1);
    for (const exchange of log) {
      if (exchange.status >= 400) continue;
      const expected = rootOf(exchange);
      if (!expected) continue;
      const body = JSON.parse(exchange.body) as { data?: unknown[] };
      const where = `${exchange.method} ${exchange.path}`;
      if (expected.list) {
        expect(body).toMatchObject({ object: 'list', has_more: expect.any(Boolean), url: expect.any(String) });
        for (const [index, item] of (body.data ?? []).entries()) {
          problems.push(...violations(expected.root, item, `${where} data[${index}]`));
          count(expected.root);
        }
      } else {
        problems.push(...violations(expected.root, body, where));
        count(expected.root);
      }
    }
    const seen = new Set<string>();
    for (const event of sim.events()) {
      if (!(EVENT_TYPES as readonly string[]).includes(event.type)) continue;
      seen.add(event.type);
      problems.push(...violations(eventInterface(event.type), event, `event ${event.type}`));
    }
    expect(problems).toEqual([]);
    expect([...seen].sort()).toEqual([...EVENT_TYPES].sort());
    // Every object kind was checked, the lists' items included.
    expect(Object.fromEntries(checked)).toEqual({
      Refund: expect.any(Number),
      Dispute: expect.any(Number),
      Charge: expect.any(Number),
      BalanceTransaction: expect.any(Number),
    });
    expect(checked.get('Refund')).toBeGreaterThanOrEqual(10);
    expect(checked.get('Dispute')).toBeGreaterThanOrEqual(5);
  });

  it('catches drift: a refund without a status or with an unknown reason fails the schema', () => {
    const refund = {
      id: 're_1',
      object: 'refund',
      amount: 100,
      balance_transaction: null,
      charge: 'ch_1',
      created: 1,
      currency: 'eur',
      customer: null,
      customer_account: null,
      metadata: {},
      payment_intent: 'pi_1',
      payment_method: 'pm_1',
      reason: null,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'succeeded',
      transfer_reversal: null,
    };
    expect(violations('Refund', refund, 'sample')).toEqual([]);
    const { status: _status, ...withoutStatus } = refund;
    expect(violations('Refund', withoutStatus, 'sample')).not.toEqual([]);
    expect(violations('Refund', { ...refund, reason: 'because' }, 'sample')).not.toEqual([]);
    expect(violations('Refund', { ...refund, failure_balance_transaction: null }, 'sample')).not.toEqual([]);
  });
});
