/** GET /v1/payments/{payment_id}: the payment event, each order with its status and amounts, the PSP reference. */

import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { pathParam, quote } from '../../src/api/request-guards';
import { paymentView } from '../../src/api/views';
import { dynamo, runtimeConfig } from '../../src/core/clients';
import { tableName } from '../../src/core/config';
import { PaymentsTable } from '../../src/payin/payments-table';

export const handler = apiHandler(
  async (event) => {
    const paymentId = pathParam(event, 'payment_id');
    const payment = await new PaymentsTable(dynamo(), tableName(runtimeConfig(), 'payments')).get(paymentId);
    if (!payment) throw new HttpError(404, 'payment_not_found', `no payment ${quote(paymentId)}`);
    return json(200, paymentView(payment));
  },
  { scope: 'payments:read' },
);
