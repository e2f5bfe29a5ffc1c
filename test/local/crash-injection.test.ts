/** The local runtime's crash injection (local/faults.ts), with a fake order lookup: no stack needed. */
import type { Context } from 'aws-lambda';
import { type CrashInjectionOptions, faultInjectionEnabled, withCrashInjection } from '../../local/faults';

const context = {} as Context;

function setup(sellers: Record<string, string>, enabled = true) {
  const calls: string[] = [];
  const lookups: string[] = [];
  const options: CrashInjectionOptions = {
    enabled: () => enabled,
    sellerOf: async (paymentId, orderId) => {
      lookups.push(`${paymentId}/${orderId}`);
      return sellers[orderId];
    },
    crashed: new Set(),
  };
  const handler = async (event: unknown) => {
    calls.push((event as { payment_order_id: string }).payment_order_id);
    return { credited: true };
  };
  return { calls, lookups, options, handler };
}

const event = (orderId: string) => ({ payment_id: 'pay_1', payment_order_id: orderId });

describe('local crash injection', () => {
  it('crashes CreditWallet once per crashing order, after the handler ran', async () => {
    const { calls, options, handler } = setup({ po_1: 'fault_crash_after-wallet-write_x', po_2: 'seller_b' });
    const wrapped = withCrashInjection('CreditWallet', handler, options);
    const first = wrapped(event('po_1'), context);
    await expect(first).rejects.toMatchObject({ name: 'TransientError', message: expect.stringContaining('po_1') });
    expect(calls).toEqual(['po_1']);
    await expect(wrapped(event('po_1'), context)).resolves.toEqual({ credited: true });
    await expect(wrapped(event('po_2'), context)).resolves.toEqual({ credited: true });
    expect(calls).toEqual(['po_1', 'po_1', 'po_2']);
  });

  it('crashes AppendLedger only for its own point', async () => {
    const { options, handler } = setup({
      po_w: 'fault_crash_after-wallet-write_x',
      po_l: 'fault_crash_after-ledger-write_y',
    });
    const wrapped = withCrashInjection('AppendLedger', handler, options);
    await expect(wrapped(event('po_w'), context)).resolves.toEqual({ credited: true });
    await expect(wrapped(event('po_l'), context)).rejects.toMatchObject({ name: 'TransientError' });
    await expect(wrapped(event('po_l'), context)).resolves.toEqual({ credited: true });
  });

  it('neither crashes nor reads the order when injection is off', async () => {
    const { lookups, options, handler } = setup({ po_1: 'fault_crash_after-wallet-write_x' }, false);
    await expect(withCrashInjection('CreditWallet', handler, options)(event('po_1'), context)).resolves.toEqual({
      credited: true,
    });
    expect(lookups).toEqual([]);
  });

  it('leaves other functions and failing handlers alone', async () => {
    const { options, handler } = setup({ po_1: 'fault_crash_after-wallet-write_x' });
    expect(withCrashInjection('Finalize', handler, options)).toBe(handler);
    const failing = async () => {
      throw new Error('boom');
    };
    await expect(withCrashInjection('CreditWallet', failing, options)(event('po_1'), context)).rejects.toThrow('boom');
    // The crash is still owed: the handler never completed.
    await expect(withCrashInjection('CreditWallet', handler, options)(event('po_1'), context)).rejects.toMatchObject({
      name: 'TransientError',
    });
  });

  it('reads LOCAL_FAULT_INJECTION as the configuration reads flags', () => {
    expect(faultInjectionEnabled({})).toBe(false);
    expect(faultInjectionEnabled({ LOCAL_FAULT_INJECTION: 'false' })).toBe(false);
    expect(faultInjectionEnabled({ LOCAL_FAULT_INJECTION: 'true' })).toBe(true);
    expect(faultInjectionEnabled({ LOCAL_FAULT_INJECTION: '1' })).toBe(true);
    expect(() => faultInjectionEnabled({ LOCAL_FAULT_INJECTION: 'yes' })).toThrow(
      "LOCAL_FAULT_INJECTION must be true or false, got 'yes'",
    );
  });
});

describe('local crash injection of the pay-out', () => {
  const payoutEvent = (payoutId: string) => ({ payout_id: payoutId });
  function payoutSetup(sellers: Record<string, string>) {
    const calls: string[] = [];
    const options: CrashInjectionOptions = {
      enabled: () => true,
      sellerOfPayout: async (payoutId) => sellers[payoutId],
      crashed: new Set(),
    };
    const handler = async (event: unknown) => {
      calls.push((event as { payout_id: string }).payout_id);
      return { status: 'TRANSFERRED' };
    };
    return { calls, options, handler };
  }

  it('crashes Transfer once after the handler ran for an after-transfer seller', async () => {
    const { calls, options, handler } = payoutSetup({ p1: 'fault_crash_after-transfer_x', p2: 'seller_b' });
    const wrapped = withCrashInjection('Transfer', handler, options);
    await expect(wrapped(payoutEvent('p1'), context)).rejects.toMatchObject({ name: 'TransientError' });
    await expect(wrapped(payoutEvent('p1'), context)).resolves.toEqual({ status: 'TRANSFERRED' });
    await expect(wrapped(payoutEvent('p2'), context)).resolves.toEqual({ status: 'TRANSFERRED' });
    expect(calls).toEqual(['p1', 'p1', 'p2']);
  });

  it('crashes Transfer before the handler, every time, for a before-transfer seller', async () => {
    const { calls, options, handler } = payoutSetup({ p1: 'fault_crash_before-transfer_x' });
    const wrapped = withCrashInjection('Transfer', handler, options);
    await expect(wrapped(payoutEvent('p1'), context)).rejects.toMatchObject({ name: 'TransientError' });
    await expect(wrapped(payoutEvent('p1'), context)).rejects.toMatchObject({ name: 'TransientError' });
    expect(calls).toEqual([]);
  });
});
