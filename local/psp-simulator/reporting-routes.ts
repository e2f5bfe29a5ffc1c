// The Reports API endpoints (reporting.ts), as stripe.reporting.reportRuns.* and stripe.files.retrieve call them:
//
//   POST /v1/reporting/report_runs      report_type=balance_change_from_activity.itemized.3 (the only one),
//                                       parameters[interval_start], parameters[interval_end] (Unix s, required,
//                                       start < end), parameters[timezone] (UTC or Etc/UTC only),
//                                       parameters[columns][] (a selection of REPORT_COLUMNS in the order wanted;
//                                       default all), parameters[currency], parameters[reporting_category]
//                                       (filters); answers the run, `pending`
//   GET  /v1/reporting/report_runs      newest first; created, limit, cursors
//   GET  /v1/reporting/report_runs/:id  `pending` for the first report_pending_polls retrieves (default 1), then
//                                       `succeeded` with `result`, the File
//   GET  /v1/reporting/report_types/:id the report type (the one above): data_available_end = the clock's now
//   GET  /v1/files/:id                  the File object
//   GET  /v1/files/:id/contents         the CSV (Content-Type: text/csv); Stripe serves it from its files host, the
//                                       simulator from its own base URL (the File's `url`)
//
// All take the secret key as the rest of the API does. Parameter errors are raised before executing (not stored
// under an idempotency key).

import { ok, type Route } from './api';
import { rejectExpand } from './connect-routes';
import { normalizeCurrency } from './currencies';
import { invalidRequest, resourceMissing } from './errors';
import type { FormObject } from './form';
import { inCreatedRange, paginate, readListParams } from './list';
import {
  prefixed,
  readInteger,
  readObject,
  readRequiredString,
  readString,
  readStringList,
  rejectUnknownParams,
} from './params';
import {
  REPORT_COLUMNS,
  REPORT_TYPE,
  type ReportColumn,
  type ReportingService,
  type ReportRunInput,
} from './reporting';

const RUNS_URL = '/v1/reporting/report_runs';
const FILES_URL = '/v1/files';
const TIMEZONES = ['UTC', 'Etc/UTC'];
/** Unix seconds up to the year 9999. */
const MAX_TIMESTAMP = 253_402_300_799;

export function reportingRoutes(reporting: ReportingService): Route[] {
  return [
    {
      method: 'POST',
      path: RUNS_URL,
      prepare: ({ params }) => {
        rejectUnknownParams(params, ['expand', 'parameters', 'report_type']);
        rejectExpand(params, []);
        const reportType = readRequiredString(params, 'report_type');
        if (reportType !== REPORT_TYPE) {
          throw invalidRequest(
            `Invalid report_type: '${reportType}'. The PSP simulator produces ${REPORT_TYPE} only.`,
            { param: 'report_type' },
          );
        }
        const input = readRunParameters(params);
        return () => ok(reporting.create(input));
      },
    },
    {
      method: 'GET',
      path: RUNS_URL,
      prepare: ({ params }) => {
        rejectUnknownParams(params, ['created', 'ending_before', 'expand', 'limit', 'starting_after']);
        rejectExpand(params, [], 'data.');
        const listParams = readListParams(params);
        return () =>
          ok(
            paginate(
              reporting.newestFirst(),
              (run) => inCreatedRange(run.created, listParams.created),
              listParams,
              RUNS_URL,
              'reporting.report_run',
            ),
          );
      },
    },
    {
      method: 'GET',
      path: `${RUNS_URL}/:id`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['expand']);
        rejectExpand(params, []);
        const id = pathParams.id ?? '';
        if (!reporting.has(id)) throw resourceMissing('reporting.report_run', id, 'id');
        return () => ok(reporting.poll(id));
      },
    },
    {
      method: 'GET',
      path: '/v1/reporting/report_types/:id',
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['expand']);
        rejectExpand(params, []);
        const id = pathParams.id ?? '';
        if (id !== REPORT_TYPE) throw resourceMissing('reporting.report_type', id, 'id');
        return () => ok(reporting.reportType());
      },
    },
    {
      method: 'GET',
      path: `${FILES_URL}/:id`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['expand']);
        rejectExpand(params, []);
        const file = reporting.file(pathParams.id ?? '');
        return () => ok(file);
      },
    },
    {
      method: 'GET',
      path: `${FILES_URL}/:id/contents`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, []);
        const contents = reporting.contents(pathParams.id ?? '');
        return () => ({ status: 200, body: contents, contentType: 'text/csv; charset=utf-8' });
      },
    },
  ];
}

function readRunParameters(params: FormObject): ReportRunInput {
  const parameters = readObject(params, 'parameters') ?? {};
  rejectUnknownParams(
    parameters,
    ['columns', 'currency', 'interval_end', 'interval_start', 'reporting_category', 'timezone'],
    'parameters',
  );
  return prefixed('parameters', () => {
    const bounds = { required: true, min: 0, max: MAX_TIMESTAMP };
    const intervalStart = readInteger(parameters, 'interval_start', bounds) as number;
    const intervalEnd = readInteger(parameters, 'interval_end', bounds) as number;
    if (intervalStart >= intervalEnd) {
      throw invalidRequest('interval_start must be before (and not equal to) interval_end.', {
        param: 'interval_end',
      });
    }
    const input: ReportRunInput = { intervalStart, intervalEnd };
    const timezone = readString(parameters, 'timezone');
    if (timezone !== undefined && timezone !== null) {
      if (!TIMEZONES.includes(timezone)) {
        throw invalidRequest(`Invalid timezone: '${timezone}'. The PSP simulator produces UTC reports only.`, {
          param: 'timezone',
        });
      }
      input.timezone = timezone;
    }
    const columns = readStringList(parameters, 'columns');
    if (columns !== undefined) input.columns = readColumns(columns);
    const currency = readString(parameters, 'currency');
    if (currency) input.currency = normalizeCurrency(currency);
    const category = readString(parameters, 'reporting_category');
    if (category) input.reportingCategory = category;
    return input;
  });
}

function readColumns(columns: string[]): ReportColumn[] {
  if (columns.length === 0) throw invalidRequest('columns must name at least one column.', { param: 'columns' });
  const seen = new Set<string>();
  for (const column of columns) {
    if (!(REPORT_COLUMNS as readonly string[]).includes(column)) {
      throw invalidRequest(
        `Invalid column: '${column}' is not a column of ${REPORT_TYPE} in the PSP simulator (known: ${REPORT_COLUMNS.join(', ')}).`,
        { param: 'columns' },
      );
    }
    if (seen.has(column)) throw invalidRequest(`Column '${column}' is given twice.`, { param: 'columns' });
    seen.add(column);
  }
  return columns as ReportColumn[];
}
