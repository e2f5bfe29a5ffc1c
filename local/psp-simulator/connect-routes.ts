// The money endpoints of Connect (connect.ts, balance.ts, transfers.ts, payouts.ts). Those marked [account] act for
// the platform, or with the `Stripe-Account` header for that connected account.
//
//   GET  /v1/balance                             [account] available[] and pending[] per currency
//   GET  /v1/balance_transactions                [account] newest first; type, source, currency, created, payout
//                                                (manual payouts refused, as on Stripe), cursors
//   GET  /v1/balance_transactions/:id            [account]
//   POST /v1/transfers                           amount, currency, destination, description, metadata,
//                                                transfer_group, source_transaction, source_type=card;
//                                                expand: balance_transaction, destination
//   GET  /v1/transfers                           newest first; transfer_group, destination, created, cursors
//   GET  /v1/transfers/:id                       POST /v1/transfers/:id (description, metadata)
//   POST /v1/transfers/:id/reversals             amount (default: the rest), description, metadata
//   GET  /v1/transfers/:id/reversals[/:id]
//   POST /v1/payouts                             [account only] amount, currency, description, metadata,
//                                                statement_descriptor, destination, method=standard
//   GET  /v1/payouts                             [account only] status, created, arrival_date, destination, cursors
//   GET  /v1/payouts/:id  POST /v1/payouts/:id (metadata)  POST /v1/payouts/:id/cancel      [account only]
//
// Parameter errors are raised before executing (not stored under the idempotency key); balance and permission errors
// (balance_insufficient, transfers_not_allowed, payouts_not_allowed) when executing (stored and replayed).

import type Stripe from 'stripe';
import { readMetadataUpdate } from './account-routes';
import { type ApiRequest, ok, type Route } from './api';
import { BALANCE_TRANSACTION_TYPES } from './balance';
import type { Connect } from './connect';
import { normalizeCurrency } from './currencies';
import { invalidRequest, resourceMissing } from './errors';
import type { FormObject } from './form';
import { type CreatedRange, inCreatedRange, paginate, readListParams, readRange } from './list';
import {
  readEnum,
  readExpand,
  readInteger,
  readMetadata,
  readRequiredString,
  readString,
  rejectUnknownParams,
} from './params';
import { originOf } from './payment-intent-routes';
import { assertReversible } from './transfers';

const TRANSFERS_URL = '/v1/transfers';
const PAYOUTS_URL = '/v1/payouts';
const TXNS_URL = '/v1/balance_transactions';
const PAYOUT_STATUSES = ['canceled', 'failed', 'in_transit', 'paid', 'pending'] as const;
const STATEMENT_DESCRIPTOR_MAX = 22;
/** Stripe's ceiling on an amount (99,999,999 minor units). */
const MAX_AMOUNT = 99_999_999;

export function connectRoutes(connect: Connect): Route[] {
  const { ledger, transfers, payouts, accounts } = connect;
  const renderTransfer = (transfer: Stripe.Transfer, expand: string[]): Stripe.Transfer => {
    if (expand.includes('balance_transaction') && typeof transfer.balance_transaction === 'string') {
      transfer.balance_transaction = ledger.get(null, transfer.balance_transaction) ?? transfer.balance_transaction;
    }
    if (expand.includes('destination') && typeof transfer.destination === 'string') {
      transfer.destination = accounts.render(transfer.destination);
    }
    return transfer;
  };
  const ownerOf = (request: ApiRequest): string | null => request.account ?? null;

  return [
    {
      method: 'GET',
      path: '/v1/balance',
      stripeAccount: true,
      prepare: (request) => {
        rejectUnknownParams(request.params, ['expand']);
        rejectExpand(request.params, []);
        return () => ok(connect.balance(ownerOf(request)));
      },
    },
    {
      method: 'GET',
      path: TXNS_URL,
      stripeAccount: true,
      prepare: (request) => {
        const { params } = request;
        rejectUnknownParams(params, [
          'created',
          'currency',
          'ending_before',
          'expand',
          'limit',
          'payout',
          'source',
          'starting_after',
          'type',
        ]);
        rejectExpand(params, [], 'data.');
        const listParams = readListParams(params);
        const type = readEnum(params, 'type', BALANCE_TRANSACTION_TYPES);
        const source = readString(params, 'source') ?? undefined;
        const rawCurrency = readString(params, 'currency');
        const currency = rawCurrency ? normalizeCurrency(rawCurrency) : undefined;
        const payout = readString(params, 'payout');
        if (payout) {
          // Only automatic payouts list the transactions they paid out; the simulator makes none.
          if (request.account !== undefined && payouts.has(request.account, payout)) {
            throw invalidRequest(
              'Balance transaction history can only be filtered on automatic transfers, not manual.',
              { param: 'payout' },
            );
          }
          throw resourceMissing('payout', payout, 'payout', 400);
        }
        const owner = ownerOf(request);
        return () =>
          ok(
            paginate(
              ledger.newestFirst(owner),
              (txn) =>
                inCreatedRange(txn.created, listParams.created) &&
                (type === undefined || txn.type === type) &&
                (source === undefined || txn.source === source) &&
                (currency === undefined || txn.currency === currency),
              listParams,
              TXNS_URL,
              'balance_transaction',
            ),
          );
      },
    },
    {
      method: 'GET',
      path: `${TXNS_URL}/:id`,
      stripeAccount: true,
      prepare: (request) => {
        rejectUnknownParams(request.params, ['expand']);
        rejectExpand(request.params, []);
        const id = request.pathParams.id ?? '';
        const txn = ledger.get(ownerOf(request), id);
        if (!txn) throw resourceMissing('balance transaction', id, 'id');
        return () => ok(txn);
      },
    },
    {
      method: 'POST',
      path: TRANSFERS_URL,
      prepare: (request) => {
        const { params } = request;
        rejectUnknownParams(params, [
          'amount',
          'currency',
          'description',
          'destination',
          'expand',
          'metadata',
          'source_transaction',
          'source_type',
          'transfer_group',
        ]);
        const expand = rejectExpand(params, ['balance_transaction', 'destination']);
        const amount = readInteger(params, 'amount', { required: true, min: 1, max: MAX_AMOUNT }) as number;
        const currency = normalizeCurrency(readRequiredString(params, 'currency'));
        const destination = readRequiredString(params, 'destination');
        const sourceType = readEnum(params, 'source_type', ['bank_account', 'card', 'fpx'] as const);
        if (sourceType !== undefined && sourceType !== 'card') {
          throw invalidRequest(`The PSP simulator only models card balances (source_type=card).`, {
            param: 'source_type',
          });
        }
        const sourceTransaction = readString(params, 'source_transaction') ?? null;
        if (!accounts.has(destination)) {
          throw invalidRequest(`No such destination: '${destination}'`, {
            code: 'resource_missing',
            param: 'destination',
          });
        }
        if (sourceTransaction !== null) transfers.assertSource(sourceTransaction, currency);
        const input = {
          amount,
          currency,
          destination,
          description: readString(params, 'description') ?? null,
          metadata: readMetadata(params) ?? {},
          transferGroup: readString(params, 'transfer_group') ?? null,
          sourceTransaction,
        };
        return () => ok(renderTransfer(transfers.create(input, originOf(request)), expand));
      },
    },
    {
      method: 'GET',
      path: TRANSFERS_URL,
      prepare: ({ params }) => {
        rejectUnknownParams(params, [
          'created',
          'destination',
          'ending_before',
          'expand',
          'limit',
          'starting_after',
          'transfer_group',
        ]);
        const expand = rejectExpand(params, ['balance_transaction', 'destination'], 'data.');
        const listParams = readListParams(params);
        const destination = readString(params, 'destination') ?? undefined;
        const group = readString(params, 'transfer_group') ?? undefined;
        return () => {
          const page = paginate(
            transfers.newestFirst(),
            (transfer) =>
              inCreatedRange(transfer.created, listParams.created) &&
              (destination === undefined || transfer.destination === destination) &&
              (group === undefined || transfer.transfer_group === group),
            listParams,
            TRANSFERS_URL,
            'transfer',
          );
          return ok({ ...page, data: page.data.map((transfer) => renderTransfer(transfer, expand)) });
        };
      },
    },
    {
      method: 'GET',
      path: `${TRANSFERS_URL}/:id`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['expand']);
        const expand = rejectExpand(params, ['balance_transaction', 'destination']);
        const transfer = transfers.get(pathParams.id ?? '');
        return () => ok(renderTransfer(transfer, expand));
      },
    },
    {
      method: 'POST',
      path: `${TRANSFERS_URL}/:id`,
      prepare: (request) => {
        const { params } = request;
        rejectUnknownParams(params, ['description', 'expand', 'metadata']);
        const expand = rejectExpand(params, ['balance_transaction', 'destination']);
        const id = request.pathParams.id ?? '';
        transfers.get(id);
        const description = readString(params, 'description');
        const metadata = readMetadataUpdate(params);
        return () =>
          ok(
            renderTransfer(
              transfers.update(
                id,
                { ...(description !== undefined && { description }), ...(metadata && { metadata }) },
                originOf(request),
              ),
              expand,
            ),
          );
      },
    },
    {
      method: 'POST',
      path: `${TRANSFERS_URL}/:id/reversals`,
      prepare: (request) => {
        const { params } = request;
        rejectUnknownParams(params, ['amount', 'description', 'expand', 'metadata', 'refund_application_fee']);
        rejectExpand(params, []);
        const id = request.pathParams.id ?? '';
        const transfer = transfers.get(id);
        const amount = readInteger(params, 'amount', { min: 1 });
        readString(params, 'description');
        readEnum(params, 'refund_application_fee', ['true', 'false'] as const);
        const remaining = transfers.remaining(id);
        assertReversible(transfer, amount ?? remaining, remaining);
        const input = { ...(amount !== undefined && { amount }), metadata: readMetadata(params) ?? {} };
        return () => ok(transfers.reverse(id, input, originOf(request)));
      },
    },
    {
      method: 'GET',
      path: `${TRANSFERS_URL}/:id/reversals`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['ending_before', 'expand', 'limit', 'starting_after']);
        rejectExpand(params, [], 'data.');
        const listParams = readListParams(params);
        const id = pathParams.id ?? '';
        transfers.get(id);
        return () =>
          ok(
            paginate(
              transfers.reversalsNewestFirst(id),
              () => true,
              listParams,
              `${TRANSFERS_URL}/${id}/reversals`,
              'transfer_reversal',
            ),
          );
      },
    },
    {
      method: 'GET',
      path: `${TRANSFERS_URL}/:id/reversals/:reversal`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['expand']);
        rejectExpand(params, []);
        const reversal = transfers.reversal(pathParams.id ?? '', pathParams.reversal ?? '');
        return () => ok(reversal);
      },
    },
    {
      method: 'POST',
      path: PAYOUTS_URL,
      stripeAccount: true,
      prepare: (request) => {
        const { params } = request;
        const account = connectedAccount(request);
        rejectUnknownParams(params, [
          'amount',
          'currency',
          'description',
          'destination',
          'expand',
          'metadata',
          'method',
          'payout_method',
          'source_type',
          'statement_descriptor',
        ]);
        rejectExpand(params, []);
        const amount = readInteger(params, 'amount', { required: true, min: 1, max: MAX_AMOUNT }) as number;
        const currency = normalizeCurrency(readRequiredString(params, 'currency'));
        const method = readEnum(params, 'method', ['instant', 'standard'] as const);
        if (method === 'instant') {
          throw invalidRequest('The PSP simulator models standard payouts only (method=standard).', {
            param: 'method',
          });
        }
        if (params.payout_method !== undefined) {
          throw invalidRequest('The PSP simulator does not model v2 payout methods: pay out to a bank account.', {
            param: 'payout_method',
          });
        }
        const sourceType = readEnum(params, 'source_type', ['bank_account', 'card', 'fpx'] as const);
        if (sourceType !== undefined && sourceType !== 'card') {
          throw invalidRequest(`The PSP simulator only models card balances (source_type=card).`, {
            param: 'source_type',
          });
        }
        const descriptor = readString(params, 'statement_descriptor') ?? null;
        if (descriptor !== null && descriptor.length > STATEMENT_DESCRIPTOR_MAX) {
          throw invalidRequest(`The statement descriptor must be at most ${STATEMENT_DESCRIPTOR_MAX} characters.`, {
            param: 'statement_descriptor',
          });
        }
        const destination = readString(params, 'destination') ?? undefined;
        if (destination !== undefined && !accounts.hasBankAccount(account, destination)) {
          throw resourceMissing('external account', destination, 'destination', 400);
        }
        const input = {
          account,
          amount,
          currency,
          description: readString(params, 'description') ?? null,
          metadata: readMetadata(params) ?? {},
          statementDescriptor: descriptor,
          ...(destination !== undefined && { destination }),
        };
        return () => ok(payouts.create(input, originOf(request)));
      },
    },
    {
      method: 'GET',
      path: PAYOUTS_URL,
      stripeAccount: true,
      prepare: (request) => {
        const { params } = request;
        const account = connectedAccount(request);
        rejectUnknownParams(params, [
          'arrival_date',
          'created',
          'destination',
          'ending_before',
          'expand',
          'limit',
          'starting_after',
          'status',
        ]);
        rejectExpand(params, [], 'data.');
        const listParams = readListParams(params);
        const arrival: CreatedRange = readRange(params, 'arrival_date');
        const status = readEnum(params, 'status', PAYOUT_STATUSES);
        const destination = readString(params, 'destination') ?? undefined;
        return () =>
          ok(
            paginate(
              payouts.newestFirst(account),
              (payout) =>
                inCreatedRange(payout.created, listParams.created) &&
                inCreatedRange(payout.arrival_date, arrival) &&
                (status === undefined || payout.status === status) &&
                (destination === undefined || payout.destination === destination),
              listParams,
              PAYOUTS_URL,
              'payout',
            ),
          );
      },
    },
    {
      method: 'GET',
      path: `${PAYOUTS_URL}/:id`,
      stripeAccount: true,
      prepare: (request) => {
        const account = connectedAccount(request);
        rejectUnknownParams(request.params, ['expand']);
        rejectExpand(request.params, []);
        const payout = payouts.get(account, request.pathParams.id ?? '');
        return () => ok(payout);
      },
    },
    {
      method: 'POST',
      path: `${PAYOUTS_URL}/:id`,
      stripeAccount: true,
      prepare: (request) => {
        const account = connectedAccount(request);
        rejectUnknownParams(request.params, ['expand', 'metadata']);
        rejectExpand(request.params, []);
        const id = request.pathParams.id ?? '';
        payouts.get(account, id);
        const metadata = readMetadataUpdate(request.params) ?? ((current) => current);
        return () => ok(payouts.updateMetadata(account, id, metadata, originOf(request)));
      },
    },
    {
      method: 'POST',
      path: `${PAYOUTS_URL}/:id/cancel`,
      stripeAccount: true,
      prepare: (request) => {
        const account = connectedAccount(request);
        rejectUnknownParams(request.params, ['expand']);
        rejectExpand(request.params, []);
        const id = request.pathParams.id ?? '';
        payouts.get(account, id);
        return () => ok(payouts.cancel(account, id, originOf(request)));
      },
    },
  ];
}

/** Payouts are modelled for connected accounts: the request must name one (Stripe-Account). */
function connectedAccount(request: ApiRequest): string {
  if (request.account === undefined) {
    throw invalidRequest(
      'The PSP simulator models payouts of connected accounts only: send the Stripe-Account header.',
    );
  }
  return request.account;
}

/** Validates `expand[]` against what the endpoint can expand; returns the paths without the list prefix. */
export function rejectExpand(params: FormObject, expandable: readonly string[], prefix = ''): string[] {
  return readExpand(params).map((path) => {
    const property = path.startsWith(prefix) ? path.slice(prefix.length) : path;
    if (!expandable.includes(property)) {
      throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
    }
    return property;
  });
}
