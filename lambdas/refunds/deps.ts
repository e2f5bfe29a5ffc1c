/**
 * The refunds' dependencies for the handlers: the pay-in's orders are read here, where both capabilities may be
 * imported (a flow never imports another flow).
 */
import { dynamo, runtimeConfig } from '../../src/core/clients';
import { tableName } from '../../src/core/config';
import { readPayment } from '../../src/payin/payment-reads';
import { refundDeps } from '../../src/refunds/deps';
import type { PaymentOrders } from '../../src/refunds/ports';
import type { RefundableOrder } from '../../src/refunds/refund';

/** A payment's orders as refunds and disputes see them. */
export const paymentOrders: PaymentOrders = async (paymentId) => {
  // Read only: the payment module's reads, not the payments table's writes (and what they bundle).
  const payment = await readPayment(dynamo(), tableName(runtimeConfig(), 'payments'), paymentId);
  if (!payment) return undefined;
  return payment.orders.map(
    (order): RefundableOrder => ({
      payment_id: order.payment_id,
      payment_order_id: order.payment_order_id,
      seller_account: order.seller_account,
      currency: order.currency,
      amount_minor: order.amount_minor,
      fee_minor: order.fee_minor,
      status: order.status,
      ...((order.psp_reference ?? payment.event.psp_reference)
        ? { psp_reference: order.psp_reference ?? payment.event.psp_reference }
        : {}),
    }),
  );
};

export const deps = () => refundDeps(() => paymentOrders);
