/** GET /v1/payments/{payment_id}: the payment event, each order with its status and amounts, the PSP reference. */

import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { refundsByOrder } from '../../src/api/refunds';
import { pathParam, quote } from '../../src/api/request-guards';
import { paymentView } from '../../src/api/views';
import { dynamo, runtimeConfig } from '../../src/core/clients';
import { tableName } from '../../src/core/config';
import { fromMinorUnits } from '../../src/core/money';
import { PaymentsTable } from '../../src/payin/payments-table';
import { deps as refundDeps } from '../refunds/deps';

export const handler = apiHandler(
  async (event) => {
    const paymentId = pathParam(event, 'payment_id');
    const payment = await new PaymentsTable(dynamo(), tableName(runtimeConfig(), 'payments')).get(paymentId);
    if (!payment) throw new HttpError(404, 'payment_not_found', `no payment ${quote(paymentId)}`);
    const view = paymentView(payment);
    const refunds = refundsByOrder(await refundDeps().refunds.byPayment(paymentId));
    return json(200, {
      ...view,
      payment_orders: view.payment_orders.map((order) => {
        const refunded = refunds.get(order.payment_order_id);
        return {
          ...order,
          refunded_amount: fromMinorUnits(refunded?.refunded_minor ?? 0, order.currency),
          refunds: refunded?.refunds ?? [],
        };
      }),
    });
  },
  { scope: 'payments:read' },
);
