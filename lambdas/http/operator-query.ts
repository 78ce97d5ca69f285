/**
 * The query strings of the operator endpoints and the links of their pages: GET /queue/load's
 * `started`/`ended` (ISO-8601 date-times and durations before now), `customer`, `queue`, `page` and
 * `page_size`, and GET /queue/status's `page` and `page_size`. The rules they feed (defaults, the
 * 31-day limit, the caller's scope, paging) are the domain's (domain/operator.ts).
 */
import { type Caller, type LoadQuery, loadRange, scopeCustomers, type TimeRange } from '../domain/operator';
import type { ApiRequest } from './api';
import { parameterValue } from './parameter-schemas';
import { HttpError } from './problem';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Every value of each query parameter (single values too, should an event lack the multi-value map). */
export function queryValues(request: ApiRequest): Record<string, string[]> {
  const multi: Record<string, string[]> = { ...request.multiQuery };
  for (const [name, value] of Object.entries(request.query)) if (!multi[name]) multi[name] = [value];
  return multi;
}

// ---------------------------------------------------------------------------------------------
// ISO-8601 durations and date-times

export interface IsoDuration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const NUMBER = '(\\d+(?:[.,]\\d+)?)';
const DURATION_PATTERN = new RegExp(
  `^P(?!$)(?:(\\d+)Y)?(?:(\\d+)M)?(?:${NUMBER}W)?(?:${NUMBER}D)?(?:T(?=\\d)(?:${NUMBER}H)?(?:${NUMBER}M)?(?:${NUMBER}S)?)?$`,
);

/**
 * Parses an ISO-8601 duration (`PT3H`, `P1D`, `PT3H0M0S`, `P1W`, `P1Y2M3DT4H5M6.5S`), or returns
 * undefined when the text is not one. Years and months must be whole numbers (their length depends
 * on the calendar); the other components may carry a decimal fraction.
 */
export function parseDuration(text: string): IsoDuration | undefined {
  const match = DURATION_PATTERN.exec(text.toUpperCase());
  if (!match) return undefined;
  const n = (i: number) => Number((match[i] ?? '0').replace(',', '.'));
  return { years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
}

/** The instant `duration` before `now`: years and months on the UTC calendar, the rest in fixed units. */
export function subtractDuration(now: Date, d: IsoDuration): Date {
  const t = new Date(now.getTime());
  if (d.years !== 0 || d.months !== 0) {
    const day = t.getUTCDate();
    t.setUTCDate(1);
    t.setUTCMonth(t.getUTCMonth() - d.months - 12 * d.years);
    // Clamp to the last day of the target month (31 March minus P1M is 28/29 February).
    const lastDay = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 0)).getUTCDate();
    t.setUTCDate(Math.min(day, lastDay));
  }
  const fixedMs = d.weeks * 7 * DAY_MS + d.days * DAY_MS + d.hours * HOUR_MS + d.minutes * MINUTE_MS + d.seconds * 1000;
  return new Date(t.getTime() - Math.round(fixedMs));
}

/**
 * `YYYY-MM-DD`, optionally followed by `T` (or a space) and `hh:mm[:ss[.fff]]`, optionally followed
 * by `Z` or an offset `±hh[:]mm`. A `+` in a query string arrives as a space, so a space before the
 * offset is read as `+`. Date-times without a designator are UTC.
 */
const DATE_TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:(Z)|([+\- ])(\d{2}):?(\d{2}))?)?$/i;

/** Parses an ISO-8601 date-time into an instant, or undefined when it is not a valid one. */
export function parseDateTime(text: string): Date | undefined {
  const m = DATE_TIME_PATTERN.exec(text);
  if (!m) return undefined;
  const num = (i: number) => Number(m[i] ?? '0');
  const [year, month, day, hour, minute, second] = [num(1), num(2), num(3), num(4), num(5), num(6)];
  const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > lastDay) return undefined;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = num(10);
    const om = num(11);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, ms);
  const instant = new Date(utc.getTime() - offsetMinutes * MINUTE_MS);
  return Number.isNaN(instant.getTime()) ? undefined : instant;
}

/** Instants whose ISO string is not `YYYY-MM-DDThh:mm:ss.sssZ` would not sort with the samples' keys. */
function inSortableRange(d: Date): boolean {
  const y = d.getUTCFullYear();
  return y >= 0 && y <= 9999;
}

/** A `started`/`ended` parameter: an ISO-8601 date-time, or a duration meaning "that long before now". */
export function parseInstant(name: string, raw: string, now: Date): Date {
  const text = raw.trim();
  const instant = text.toUpperCase().startsWith('P') ? maybe(parseDuration(text), (d) => subtractDuration(now, d)) : parseDateTime(text);
  if (!instant) {
    throw new HttpError(
      400,
      `'${name}' must be an ISO-8601 date-time (e.g. 2015-01-01T00:00:00Z) or duration before now (e.g. PT3H, P1D), ` +
        `not '${raw.slice(0, 100)}'.`,
    );
  }
  if (!inSortableRange(instant)) throw new HttpError(400, `'${name}' must be between the years 0000 and 9999.`);
  return instant;
}

function maybe<T, R>(value: T | undefined, f: (v: T) => R): R | undefined {
  return value === undefined ? undefined : f(value);
}

/** The range of GET /queue/load from its `started`/`ended` parameters (defaults and limits: `loadRange`). */
export function resolveTimeRange(params: { started?: string; ended?: string }, now: Date): TimeRange {
  return loadRange(
    {
      ...(params.started !== undefined ? { started: parseInstant('started', params.started, now) } : {}),
      ...(params.ended !== undefined ? { ended: parseInstant('ended', params.ended, now) } : {}),
    },
    now,
  );
}

// ---------------------------------------------------------------------------------------------
// GET /queue/load

function single(name: string, multi: Record<string, string[]>): string | undefined {
  const values = multi[name];
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw new HttpError(400, `'${name}' may be given only once.`);
  return values[0];
}

const unique = <T>(values: readonly T[]): T[] => [...new Set(values)];

/** Validates every parameter of GET /queue/load (query values by name, repeated ones in order). */
export function parseLoadQuery(multi: Record<string, string[]>, caller: Caller, now: Date): LoadQuery {
  const started = single('started', multi);
  const ended = single('ended', multi);
  const range = resolveTimeRange({ ...(started !== undefined ? { started } : {}), ...(ended !== undefined ? { ended } : {}) }, now);
  const customers = (multi.customer ?? []).map((raw) => parameterValue('loadCustomer', raw));
  const queues = (multi.queue ?? []).map((raw) => parameterValue('queue', raw));
  const scoped = scopeCustomers(customers, caller);
  const page = parameterValue('operatorPage', single('page', multi));
  const pageSize = parameterValue('loadPageSize', single('page_size', multi));
  return {
    ...range,
    ...(scoped !== undefined ? { customers: scoped } : {}),
    ...(queues.length > 0 ? { queues: unique(queues) } : {}),
    page,
    pageSize,
  };
}

/**
 * The URL of another page of the same query. Durations and defaults are resolved to the instants
 * they meant for this request, so following `next` pages through the same range.
 */
export function loadPageUrl(baseUrl: string, query: LoadQuery, page: number, explicit: { customers: boolean; pageSize: boolean }): string {
  const params = new URLSearchParams();
  params.set('started', query.started.toISOString());
  params.set('ended', query.ended.toISOString());
  if (explicit.customers) for (const c of query.customers ?? []) params.append('customer', String(c));
  for (const q of query.queues ?? []) params.append('queue', q);
  if (explicit.pageSize) params.set('page_size', String(query.pageSize));
  params.set('page', String(page));
  return `${baseUrl}/queue/load?${params.toString()}`;
}

// ---------------------------------------------------------------------------------------------
// GET /queue/status

export interface StatusQuery {
  page: number;
  pageSize: number;
  /** Whether `page_size` was given (links repeat it only then). */
  explicitPageSize: boolean;
}

/** Validates `page` (1-based) and `page_size` of GET /queue/status, as GET /queue/load does. */
export function parseStatusQuery(multi: Record<string, string[]>): StatusQuery {
  const rawSize = single('page_size', multi);
  return {
    page: parameterValue('operatorPage', single('page', multi)),
    pageSize: parameterValue('statusPageSize', rawSize),
    explicitPageSize: rawSize !== undefined,
  };
}

/** The URL of page `page` of GET /queue/status. */
export function statusPageUrl(baseUrl: string, query: StatusQuery, page: number): string {
  const params = new URLSearchParams();
  if (query.explicitPageSize) params.set('page_size', String(query.pageSize));
  params.set('page', String(page));
  return `${baseUrl}/queue/status?${params.toString()}`;
}
