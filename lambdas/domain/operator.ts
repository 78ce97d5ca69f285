/**
 * The operator endpoints' pure parts (Scale's v6 queue load and queue status): the load samples
 * recorded from the exact customer counters (busy customers only, and their sum), the time range
 * of GET /queue/load (ISO-8601 date-times and durations, defaults, the 31-day limit), the caller's
 * customer scope, points and their merging per time, paging, and the grouping and ordering of
 * GET /queue/status. How samples are stored and paged in DynamoDB is the adapter's
 * (adapters/operator-store.ts).
 */
import type { QueueName } from '../config/resources';
import { SCHEDULES } from '../config/resources';
import { HttpError } from '../http/problem';
import type { CustomerCounters } from './model';

export const OPERATOR_QUEUES: readonly QueueName[] = ['main', 'priority'];

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Default range of GET /queue/load: the past week. */
export const LOAD_DEFAULT_RANGE_MS = 7 * DAY_MS;
/** Longest range GET /queue/load answers (Scale: "within a one month period (31 days)"). */
export const LOAD_MAX_RANGE_MS = 31 * DAY_MS;
export const LOAD_PAGE_SIZE = { default: 100, max: 1000 } as const;

// ---------------------------------------------------------------------------------------------
// Load samples

/** One queue's load at one sample time (snake_case, as Scale names the counts). */
export interface LoadCounts {
  /** Members of batches whose messages are not all sent yet. */
  pending_count: number;
  /** Members on the queue, not yet picked up (waiting minus pending). */
  queued_count: number;
  /** Members being processed. */
  running_count: number;
}

/** Both queues' load at one sample time. */
export type QueueLoad = Record<QueueName, LoadCounts>;

/** One customer's load at one run of the sampler. */
export interface LoadSample {
  /** ISO-8601 UTC with milliseconds; every sample of one run shares it. */
  time: string;
  customer: number;
  load: QueueLoad;
}

/** What one run of the sampler records: the busy customers' samples and their sum (none when all are idle). */
export interface LoadRun {
  time: string;
  samples: LoadSample[];
  /** Sum over every customer (idle ones add nothing); undefined when no customer had any load. */
  total?: QueueLoad;
}

const zeroCounts = (): LoadCounts => ({ pending_count: 0, queued_count: 0, running_count: 0 });
export const zeroLoad = (): QueueLoad => ({ main: zeroCounts(), priority: zeroCounts() });

export function isIdle(load: QueueLoad): boolean {
  return OPERATOR_QUEUES.every((q) => load[q].pending_count === 0 && load[q].queued_count === 0 && load[q].running_count === 0);
}

/** A customer's load from its exact counters; never negative (queued excludes pending). */
export function customerLoad(c: CustomerCounters): QueueLoad {
  const of = (queue: QueueName): LoadCounts => ({
    pending_count: Math.max(0, c.pending[queue]),
    queued_count: Math.max(0, c.waiting[queue] - c.pending[queue]),
    running_count: Math.max(0, c.running[queue]),
  });
  return { main: of('main'), priority: of('priority') };
}

function addCounts(into: LoadCounts, counts: LoadCounts): void {
  into.pending_count += counts.pending_count;
  into.queued_count += counts.queued_count;
  into.running_count += counts.running_count;
}

/**
 * The samples of one run: one per customer with any load, none for an idle customer (a missing
 * sample means zero, so idle customers cost no writes and no reads), and their sum.
 */
export function loadRun(customers: readonly CustomerCounters[], time: string): LoadRun {
  const samples = customers.flatMap((c) => {
    const load = customerLoad(c);
    return isIdle(load) ? [] : [{ time, customer: c.customer, load }];
  });
  if (samples.length === 0) return { time, samples };
  const total = zeroLoad();
  for (const s of samples) for (const q of OPERATOR_QUEUES) addCounts(total[q], s.load[q]);
  return { time, samples, total };
}

/** TTL of a sample (epoch seconds): the retention of SCHEDULES.sampleLoad after it was taken. */
export function sampleExpiresAt(now: Date, retentionDays: number = SCHEDULES.sampleLoad.retentionDays): number {
  return Math.floor(now.getTime() / 1000) + retentionDays * 24 * 60 * 60;
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
      `'${name}' must be an ISO-8601 date-time (e.g. 2015-01-01T00:00:00Z) or duration before now (e.g. PT3H, P1D), not '${raw.slice(0, 100)}'.`,
    );
  }
  if (!inSortableRange(instant)) throw new HttpError(400, `'${name}' must be between the years 0000 and 9999.`);
  return instant;
}

function maybe<T, R>(value: T | undefined, f: (v: T) => R): R | undefined {
  return value === undefined ? undefined : f(value);
}

export interface TimeRange {
  started: Date;
  ended: Date;
}

const formatDays = (ms: number) => `${+(ms / DAY_MS).toFixed(3)} days`;

/**
 * The range of GET /queue/load. Defaults: `started` = now − 7 days, `ended` = now. `ended` before
 * `started` and ranges longer than 31 days are refused (exactly 31 days is allowed).
 */
export function resolveTimeRange(params: { started?: string; ended?: string }, now: Date): TimeRange {
  const started = params.started !== undefined ? parseInstant('started', params.started, now) : new Date(now.getTime() - LOAD_DEFAULT_RANGE_MS);
  const ended = params.ended !== undefined ? parseInstant('ended', params.ended, now) : new Date(now.getTime());
  if (ended.getTime() < started.getTime()) {
    throw new HttpError(400, `'ended' (${ended.toISOString()}) is before 'started' (${started.toISOString()}).`);
  }
  const length = ended.getTime() - started.getTime();
  if (length > LOAD_MAX_RANGE_MS) {
    throw new HttpError(
      400,
      `The time range ${started.toISOString()} to ${ended.toISOString()} is ${formatDays(length)} long; it must be at most 31 days.`,
    );
  }
  return { started, ended };
}

// ---------------------------------------------------------------------------------------------
// GET /queue/load parameters

export interface Caller {
  admin: boolean;
  customer?: number;
}

export interface LoadQuery extends TimeRange {
  /** Customers counted; undefined = all (admin only). */
  customers?: number[];
  /** Queues counted; undefined = both. */
  queues?: QueueName[];
  page: number;
  pageSize: number;
}

function single(name: string, multi: Record<string, string[]>): string | undefined {
  const values = multi[name];
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw new HttpError(400, `'${name}' may be given only once.`);
  return values[0];
}

function positiveInt(name: string, raw: string | undefined, fallback: number, max?: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1 || (max !== undefined && Number(raw) > max)) {
    throw new HttpError(400, `'${name}' must be an integer from 1${max !== undefined ? ` to ${max}` : ''}, not '${raw.slice(0, 100)}'.`);
  }
  return Number(raw);
}

const unique = <T>(values: readonly T[]): T[] => [...new Set(values)];

/**
 * Which customers a caller sees: an admin whatever it asks for (all by default); a customer key
 * only its own customer (by default too) and 403 when it asks for another.
 */
export function scopeCustomers(requested: readonly number[], caller: Caller): number[] | undefined {
  if (caller.admin) return requested.length > 0 ? unique(requested) : undefined;
  if (caller.customer === undefined) throw new HttpError(403, 'This key may not read the queue load.');
  const others = requested.filter((c) => c !== caller.customer);
  if (others.length > 0) throw new HttpError(403, `This key may only read the load of customer ${caller.customer}, not ${unique(others).join(', ')}.`);
  return [caller.customer];
}

/** Validates every parameter of GET /queue/load (query values by name, repeated ones in order). */
export function parseLoadQuery(multi: Record<string, string[]>, caller: Caller, now: Date): LoadQuery {
  const started = single('started', multi);
  const ended = single('ended', multi);
  const range = resolveTimeRange({ ...(started !== undefined ? { started } : {}), ...(ended !== undefined ? { ended } : {}) }, now);
  const customers = (multi['customer'] ?? []).map((raw) => {
    if (!/^\d{1,12}$/.test(raw.trim())) throw new HttpError(400, `'customer' must be an integer customer id, not '${raw.slice(0, 100)}'.`);
    return Number(raw.trim());
  });
  const queues = (multi['queue'] ?? []).map((raw) => {
    if (raw !== 'main' && raw !== 'priority') throw new HttpError(400, `'queue' must be 'main' or 'priority', not '${raw.slice(0, 100)}'.`);
    return raw;
  });
  const scoped = scopeCustomers(customers, caller);
  const page = positiveInt('page', single('page', multi), 1);
  const pageSize = positiveInt('page_size', single('page_size', multi), LOAD_PAGE_SIZE.default, LOAD_PAGE_SIZE.max);
  return {
    ...range,
    ...(scoped !== undefined ? { customers: scoped } : {}),
    ...(queues.length > 0 ? { queues: unique(queues) } : {}),
    page,
    pageSize,
  };
}

// ---------------------------------------------------------------------------------------------
// Points and paging

export interface LoadPoint extends LoadCounts {
  time: string;
}

/** The point of one sample (one customer's, or the all-customer sum) over the selected queues (all when undefined). */
export function loadPoint(time: string, load: QueueLoad, queues: readonly QueueName[] = OPERATOR_QUEUES): LoadPoint {
  const point: LoadPoint = { time, ...zeroCounts() };
  for (const q of queues) addCounts(point, load[q]);
  return point;
}

/** Sums points of the same time (several customers' series), ordered by time. */
export function mergePoints(points: Iterable<LoadPoint>): LoadPoint[] {
  const byTime = new Map<string, LoadPoint>();
  for (const p of points) {
    const sum = byTime.get(p.time);
    if (sum) addCounts(sum, p);
    else byTime.set(p.time, { ...p });
  }
  return [...byTime.values()].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

export interface PageOf<T> {
  count: number;
  results: T[];
  /** Page numbers of the neighbours, or undefined. */
  next?: number;
  previous?: number;
}

/** The neighbours of page `page` (1-based) of `count` items; past the end, previous is the last page. */
export function pageLinks(count: number, page: number, pageSize: number): Pick<PageOf<never>, 'next' | 'previous'> {
  const lastPage = Math.max(1, Math.ceil(count / pageSize));
  return {
    ...(page < lastPage ? { next: page + 1 } : {}),
    ...(page > 1 ? { previous: Math.min(page - 1, lastPage) } : {}),
  };
}

/** Page `page` (1-based) of `items`; a page past the end is empty and points back to the last one. */
export function pageOf<T>(items: readonly T[], page: number, pageSize: number): PageOf<T> {
  const start = (page - 1) * pageSize;
  return { count: items.length, results: items.slice(start, start + pageSize), ...pageLinks(items.length, page, pageSize) };
}

/** `limit` items from position `offset` of group `group`. */
export interface Slice {
  group: number;
  offset: number;
  limit: number;
}

/**
 * Which items make up the window of `take` items from position `skip` when items come in
 * consecutive groups of `counts` (the day partitions of a range): one slice per group it touches,
 * none for the groups before or after it. Lets a page be read without reading what precedes it.
 */
export function windowSlices(counts: readonly number[], skip: number, take: number): Slice[] {
  const slices: Slice[] = [];
  let offset = skip;
  let left = take;
  for (let group = 0; group < counts.length && left > 0; group++) {
    const n = counts[group] as number;
    if (offset >= n) {
      offset -= n;
      continue;
    }
    const limit = Math.min(n - offset, left);
    slices.push({ group, offset, limit });
    left -= limit;
    offset = 0;
  }
  return slices;
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

export interface QueueGroup {
  customer: number;
  queue: QueueName;
  /** Members queued: submitted and not yet picked up by a processor (running ones are not). */
  count: number;
}

export interface QueueStatus extends QueueGroup {
  /** Submission time of the oldest waiting member on this queue (null if none was found). */
  longest_queued: string | null;
  /** 2 for the priority queue, 1 for the main queue: priority beats main. */
  highest_priority: number;
}

export const PRIORITY_OF: Record<QueueName, number> = { main: 1, priority: 2 };

/** One group per customer and queue with members waiting (what Scale's status counts as queued). */
export function queueGroups(customers: readonly CustomerCounters[]): QueueGroup[] {
  return customers.flatMap((c) =>
    OPERATOR_QUEUES.flatMap((queue) => {
      const count = Math.max(0, c.waiting[queue]);
      return count > 0 ? [{ customer: c.customer, queue, count }] : [];
    }),
  );
}

/** Count descending; ties: the priority queue first, then by customer. */
export function compareStatus(a: QueueStatus, b: QueueStatus): number {
  return b.count - a.count || b.highest_priority - a.highest_priority || a.customer - b.customer;
}

export function queueStatus(group: QueueGroup, longestQueued: string | undefined): QueueStatus {
  return { ...group, longest_queued: longestQueued ?? null, highest_priority: PRIORITY_OF[group.queue] };
}

export function orderStatus(entries: readonly QueueStatus[]): QueueStatus[] {
  return [...entries].sort(compareStatus);
}

/** The submission time in a `keys.batchOpen` sort key (`<submittedISO>#<batch padded>`). */
export function submittedFromOpenKey(gsi1sk: string): string {
  const hash = gsi1sk.lastIndexOf('#');
  return hash >= 0 ? gsi1sk.slice(0, hash) : gsi1sk;
}

/** Page size of GET /queue/status: `page_size` from 1 to 500 (0 or more → 400), 100 by default. */
export const STATUS_PAGE_SIZE = { default: 100, max: 500 } as const;

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
    page: positiveInt('page', single('page', multi), 1),
    pageSize: positiveInt('page_size', rawSize, STATUS_PAGE_SIZE.default, STATUS_PAGE_SIZE.max),
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
