/** GET /v1/payments/{payment_id}/ledger: the ledger entries booked for a payment. */

import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { pathParam, quote } from '../../src/api/request-guards';
import { ledgerView } from '../../src/api/views';
import { dynamo, runtimeConfig } from '../../src/core/clients';
import { tableName } from '../../src/core/config';
import { LedgerTable } from '../../src/ledger/ledger-table';
import { PaymentsTable } from '../../src/payin/payments-table';

export const handler = apiHandler(
  async (event) => {
    const paymentId = pathParam(event, 'payment_id');
    const config = runtimeConfig();
    const payment = await new PaymentsTable(dynamo(), tableName(config, 'payments')).get(paymentId);
    if (!payment) throw new HttpError(404, 'payment_not_found', `no payment ${quote(paymentId)}`);
    const entries = await new LedgerTable(dynamo(), tableName(config, 'ledger')).entriesFor(paymentId);
    return json(200, ledgerView(paymentId, entries));
  },
  { scope: 'payments:read' },
);
