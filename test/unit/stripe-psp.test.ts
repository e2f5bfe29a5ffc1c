/**
 * The Stripe adapter's hosted-page paths with a stubbed SDK: Stripe creates a Checkout Session's PaymentIntent only
 * when the buyer pays, so the session must serve as the payment's reference until then.
 */
import type Stripe from 'stripe';
import { StripePsp } from '../../src/psp/stripe-psp';

type Session = Partial<Stripe.Checkout.Session>;

function stub(session: Session) {
  const calls: { method: string; args: unknown[] }[] = [];
  const sdk = {
    checkout: {
      sessions: {
        create: async (...args: unknown[]) => {
          calls.push({ method: 'sessions.create', args });
          return session;
        },
        retrieve: async (...args: unknown[]) => {
          calls.push({ method: 'sessions.retrieve', args });
          return session;
        },
        expire: async (...args: unknown[]) => {
          calls.push({ method: 'sessions.expire', args });
          return { ...session, status: 'expired' };
        },
      },
    },
  };
  return { psp: new StripePsp(async () => sdk as unknown as Stripe), calls };
}

const request = {
  amountMinor: 2500,
  currency: 'EUR',
  paymentId: 'pay_1',
  metadata: { payment_id: 'pay_1' },
  returnUrl: 'https://shop.example/return',
  idempotencyKey: 'pay_1:register',
  expiresAt: 1_900_000_000,
};

describe('Class: StripePsp', () => {
  describe('Method: registerHostedPayment', () => {
    it('uses the session as the reference while Stripe has no PaymentIntent yet', async () => {
      const { psp, calls } = stub({ id: 'cs_test_1', url: 'https://pay.example/cs_test_1', payment_intent: null });
      const hosted = await psp.registerHostedPayment(request);
      expect(hosted).toEqual({
        sessionId: 'cs_test_1',
        pspReference: 'cs_test_1',
        redirectUrl: 'https://pay.example/cs_test_1',
      });
      const [params, options] = calls[0]?.args ?? [];
      expect(options).toEqual({ idempotencyKey: 'pay_1:register' });
      expect(params).toMatchObject({
        mode: 'payment',
        allowed_payment_method_types: ['card'],
        client_reference_id: 'pay_1',
        expires_at: 1_900_000_000,
        payment_intent_data: { metadata: { payment_id: 'pay_1' } },
      });
    });

    it('uses the PaymentIntent when the session has one', async () => {
      const { psp } = stub({ id: 'cs_test_2', url: 'https://pay.example/cs_test_2', payment_intent: 'pi_2' });
      expect((await psp.registerHostedPayment(request)).pspReference).toBe('pi_2');
    });
  });

  describe('Method: retrieve (a session reference)', () => {
    it('is pending while the page is open and unpaid', async () => {
      const { psp } = stub({ id: 'cs_1', status: 'open', payment_intent: null, amount_total: 2500, currency: 'eur' });
      expect(await psp.retrieve('cs_1')).toEqual({
        pspReference: 'cs_1',
        state: 'pending',
        amountMinor: 2500,
        currency: 'EUR',
        reason: undefined,
      });
    });

    it('is failed once the page expired unpaid', async () => {
      const { psp } = stub({
        id: 'cs_1',
        status: 'expired',
        payment_intent: null,
        amount_total: 2500,
        currency: 'eur',
      });
      expect(await psp.retrieve('cs_1')).toMatchObject({ state: 'failed', reason: 'expired' });
    });

    it("takes the PaymentIntent's state once the buyer paid", async () => {
      const intent = { id: 'pi_9', status: 'succeeded', amount: 2500, currency: 'eur', last_payment_error: null };
      const { psp } = stub({ id: 'cs_1', status: 'complete', payment_intent: intent as Stripe.PaymentIntent });
      expect(await psp.retrieve('cs_1')).toEqual({
        pspReference: 'pi_9',
        state: 'succeeded',
        amountMinor: 2500,
        currency: 'EUR',
        reason: undefined,
      });
    });
  });

  describe('Method: stopPending', () => {
    it('expires the page (not the intent) and answers with the session state after that', async () => {
      const { psp, calls } = stub({
        id: 'cs_1',
        status: 'expired',
        payment_intent: null,
        amount_total: 2500,
        currency: 'eur',
      });
      const state = await psp.stopPending('cs_1', 'cs_1', 'pay_1:stop');
      expect(calls.map((c) => c.method)).toEqual(['sessions.expire', 'sessions.retrieve']);
      expect(calls[0]?.args).toEqual(['cs_1', {}, { idempotencyKey: 'pay_1:stop' }]);
      expect(state).toMatchObject({ state: 'failed', reason: 'expired' });
    });
  });
});

/** An error as the stripe SDK throws it (only the fields the adapter reads). */
function sdkError(type: string, statusCode: number, message = 'boom') {
  return Object.assign(new Error(message), { type, statusCode });
}

function intentsStub(create: () => Promise<unknown>) {
  const sdk = {
    paymentIntents: { create: async () => create() },
    checkout: { sessions: { create: async () => create() } },
  };
  return new StripePsp(async () => sdk as unknown as Stripe);
}

const chargeRequest = {
  amountMinor: 2500,
  currency: 'EUR',
  paymentMethod: 'pm_card_threeDSecure2Required',
  metadata: { payment_id: 'pay_1' },
  idempotencyKey: 'pay_1:charge',
};

describe('Class: StripePsp (outcomes a retry cannot learn, and actions without a URL)', () => {
  describe('Method: charge', () => {
    it('turns a 500 into PspOutcomeUnknownError: Stripe stores it under the key, so a retry cannot tell', async () => {
      // Prepare
      const psp = intentsStub(async () => {
        throw sdkError('StripeAPIError', 500);
      });

      // Act
      const act = psp.charge(chargeRequest);

      // Assess
      await expect(act).rejects.toMatchObject({ name: 'PspOutcomeUnknownError' });
    });

    it.each([502, 503, 504])(
      'keeps a %s (in front of the PSP, not stored) a retryable PspTransientError',
      async (status) => {
        // Prepare
        const psp = intentsStub(async () => {
          throw sdkError('StripeAPIError', status);
        });

        // Act & Assess
        await expect(psp.charge(chargeRequest)).rejects.toMatchObject({ name: 'PspTransientError' });
      },
    );

    it('passes on use_stripe_sdk with the client secret when the PSP gives the buyer no URL', async () => {
      // Prepare
      const psp = intentsStub(async () => ({
        id: 'pi_3ds',
        status: 'requires_action',
        client_secret: 'pi_3ds_secret_abc',
        next_action: { type: 'use_stripe_sdk', use_stripe_sdk: {} },
      }));

      // Act
      const result = await psp.charge(chargeRequest);

      // Assess
      expect(result).toEqual({
        outcome: 'PENDING',
        pspReference: 'pi_3ds',
        status: 'requires_action',
        nextAction: { type: 'use_stripe_sdk', client_secret: 'pi_3ds_secret_abc' },
      });
    });
  });

  describe('Method: registerHostedPayment', () => {
    it('turns a 500 into PspOutcomeUnknownError and a 503 into PspTransientError', async () => {
      // Prepare
      const failing = (status: number) =>
        intentsStub(async () => {
          throw sdkError('StripeAPIError', status);
        });

      // Act & Assess
      await expect(failing(500).registerHostedPayment(request)).rejects.toMatchObject({
        name: 'PspOutcomeUnknownError',
      });
      await expect(failing(503).registerHostedPayment(request)).rejects.toMatchObject({ name: 'PspTransientError' });
    });
  });
});

describe('Class: StripePsp (what the PSP holds for a payment)', () => {
  describe('Method: findCharges', () => {
    const intent = (id: string, paymentId: string) => ({
      id,
      status: 'succeeded',
      amount: 2500,
      currency: 'eur',
      last_payment_error: null,
      metadata: { payment_id: paymentId },
    });
    function listing(searched: unknown[], listed: unknown[]) {
      const calls: { method: string; args: unknown[] }[] = [];
      const sdk = {
        paymentIntents: {
          search: (...args: unknown[]) => {
            calls.push({ method: 'search', args });
            return (async function* () {
              yield* searched;
            })();
          },
          list: (...args: unknown[]) => {
            calls.push({ method: 'list', args });
            return (async function* () {
              yield* listed;
            })();
          },
        },
      };
      return { psp: new StripePsp(async () => sdk as unknown as Stripe), calls };
    }

    it('confirms an empty search by listing the intents created since the window (the search lags writes)', async () => {
      // Prepare
      const { psp, calls } = listing([], [intent('pi_other', 'pay_2'), intent('pi_mine', 'pay_1')]);

      // Act
      const found = await psp.findCharges('pay_1', { createdFrom: 1_900_000_000 });

      // Assess
      expect(found.map((c) => c.pspReference)).toEqual(['pi_mine']);
      expect(calls.map((c) => c.method)).toEqual(['search', 'list']);
      expect(calls[1]?.args[0]).toEqual({ created: { gte: 1_900_000_000 }, limit: 100 });
    });

    it('does not list when the search found the payment, nor without a window', async () => {
      // Prepare
      const found = listing([intent('pi_mine', 'pay_1')], [intent('pi_x', 'pay_1')]);
      const noWindow = listing([], [intent('pi_x', 'pay_1')]);

      // Act
      const bySearch = await found.psp.findCharges('pay_1', { createdFrom: 1 });
      const searchOnly = await noWindow.psp.findCharges('pay_1');

      // Assess
      expect(bySearch.map((c) => c.pspReference)).toEqual(['pi_mine']);
      expect(found.calls.map((c) => c.method)).toEqual(['search']);
      expect(searchOnly).toEqual([]);
      expect(noWindow.calls.map((c) => c.method)).toEqual(['search']);
    });
  });

  describe('Method: charge (parameters)', () => {
    it('allows cards only and sends the return URL only when there is one', async () => {
      // Prepare
      const sent: unknown[] = [];
      const sdk = {
        paymentIntents: {
          create: async (params: unknown) => {
            sent.push(params);
            return { id: 'pi_1', status: 'succeeded' };
          },
        },
      };
      const psp = new StripePsp(async () => sdk as unknown as Stripe);

      // Act
      await psp.charge({ ...chargeRequest, returnUrl: 'https://shop.example/return' });
      await psp.charge(chargeRequest);

      // Assess
      expect(sent[0]).toMatchObject({
        allowed_payment_method_types: ['card'],
        return_url: 'https://shop.example/return',
        confirm: true,
      });
      expect(sent[1]).toMatchObject({ allowed_payment_method_types: ['card'], confirm: true });
      expect(sent[1]).not.toHaveProperty('return_url');
      expect(sent[0]).not.toHaveProperty('payment_method_types');
    });
  });
});
