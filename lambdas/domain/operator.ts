/**
 * The operator endpoints' pure parts (Scale's v6 queue load and queue status): the load samples
 * recorded from the exact customer counters (busy customers only, and their sum), the time range
 * of GET /queue/load (defaults, the 31-day limit), the caller's customer scope, points and their
 * merging per time, paging, and the grouping and ordering of GET /queue/status. Parsing the query
 * strings and building page links is the edge's (http/operator-query.ts); how samples are stored
 * and paged in DynamoDB is the adapter's (adapters/operator-store.ts).
 */

import type { QueueName } from '../config/resources';
import { ForbiddenError, InvalidParameterError } from './errors';
import type { CustomerCounters } from './model';

export const OPERATOR_QUEUES: readonly QueueName[] = ['main', 'priority'];

const DAY_MS = 24 * 60 * 60_000;

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

/** TTL of a sample (epoch seconds): `retentionDays` (the deployment's SCHEDULES.sampleLoad) after it was taken. */
export function sampleExpiresAt(now: Date, retentionDays: number): number {
  return Math.floor(now.getTime() / 1000) + retentionDays * 24 * 60 * 60;
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
export function loadRange(requested: { started?: Date; ended?: Date }, now: Date): TimeRange {
  const started = requested.started ?? new Date(now.getTime() - LOAD_DEFAULT_RANGE_MS);
  const ended = requested.ended ?? new Date(now.getTime());
  if (ended.getTime() < started.getTime()) {
    throw new InvalidParameterError(`'ended' (${ended.toISOString()}) is before 'started' (${started.toISOString()}).`);
  }
  const length = ended.getTime() - started.getTime();
  if (length > LOAD_MAX_RANGE_MS) {
    throw new InvalidParameterError(
      `The time range ${started.toISOString()} to ${ended.toISOString()} is ${formatDays(length)} long; it must be at most 31 days.`,
    );
  }
  return { started, ended };
}

// ---------------------------------------------------------------------------------------------
// GET /queue/load: what is asked for, and whom the caller may see

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

const unique = <T>(values: readonly T[]): T[] => [...new Set(values)];

/**
 * Which customers a caller sees: an admin whatever it asks for (all by default); a customer key
 * only its own customer (by default too), and ForbiddenError when it asks for another.
 */
export function scopeCustomers(requested: readonly number[], caller: Caller): number[] | undefined {
  if (caller.admin) return requested.length > 0 ? unique(requested) : undefined;
  if (caller.customer === undefined) throw new ForbiddenError('This key may not read the queue load.');
  const others = requested.filter((c) => c !== caller.customer);
  if (others.length > 0)
    throw new ForbiddenError(`This key may only read the load of customer ${caller.customer}, not ${unique(others).join(', ')}.`);
  return [caller.customer];
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

/** Page size of GET /queue/status: `page_size` from 1 to 500, 100 by default. */
export const STATUS_PAGE_SIZE = { default: 100, max: 500 } as const;
