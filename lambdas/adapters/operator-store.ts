/**
 * DynamoDB reads and writes of the operator endpoints: the load samples of GET /queue/load and the
 * oldest waiting member of a customer's queue (the open batches, gsi1) for GET /queue/status.
 *
 * Load samples are partitioned by series and UTC day, so a query reads only the days and
 * customers it asks for, never the rest of the table:
 *
 * - `pk = LOAD#<customer>#<YYYY-MM-DD>`: one item per run of the sampler in which the customer had
 *   any load (a missing item means zero); `LOAD#ALL#<YYYY-MM-DD>`: the sum over every customer,
 *   one item per run in which any customer had load, so an admin query without a customer reads
 *   only these;
 * - `sk = <sample time, ISO-8601>`, so a range is one key condition per day partition;
 * - both queues' counts in one item under short attribute names, each present only when not zero
 *   (a read costs by item size: 4 KB a unit), plus the TTL attribute.
 *
 * One series (a customer, or ALL) maps its items 1:1 to the points of the answer, so a page is
 * served from DynamoDB: `Select: COUNT` per day gives `count` and tells which days hold the page;
 * only those are read, with `Limit`, the first one skipped into (a COUNT with `Limit`, so the
 * items before the page never leave DynamoDB). Several explicit customers are read whole and
 * merged per time (bounded by the customers and days asked for).
 */
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { QueueName } from '../config/resources';
import { TABLE } from '../config/resources';
import { settings } from '../config/settings';
import { inParallel } from '../domain/async';
import {
  type LoadCounts,
  type LoadPoint,
  type LoadQuery,
  type LoadRun,
  loadPoint,
  mergePoints,
  OPERATOR_QUEUES,
  type PageOf,
  pageLinks,
  pageOf,
  type QueueLoad,
  windowSlices,
  zeroLoad,
} from '../domain/operator';
import { dynamoDocument } from './aws-clients';
import { batchViews } from './dynamo/counters';
import { keys, submittedFromOpenKey } from './dynamo/keys';
import { getItems } from './dynamo/table';
import { putAll } from './dynamo/transactions';

type Item = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Keys and items

/** Whose load a partition holds: one customer's, or the sum over all customers. */
export type LoadSeries = number | 'ALL';

const DAY_MS = 86_400_000;

/** The UTC day of an ISO-8601 time (`YYYY-MM-DD`): samples are partitioned by it. */
export const dayOf = (time: string): string => time.slice(0, 10);

export const loadKeys = {
  partition: (series: LoadSeries, day: string): string => `LOAD#${series}#${day}`,
  sample: (series: LoadSeries, time: string) => ({ pk: loadKeys.partition(series, dayOf(time)), sk: time }),
} as const;

/** Every UTC day from `started`'s to `ended`'s, in order (at most 32 for a 31-day range). */
export function daysOf(started: Date, ended: Date): string[] {
  const days: string[] = [];
  const first = Date.parse(`${dayOf(started.toISOString())}T00:00:00.000Z`);
  for (let t = first; t <= ended.getTime(); t += DAY_MS) days.push(dayOf(new Date(t).toISOString()));
  return days;
}

/** Attribute names of the counts: short, because every byte of an item is paid for at each read. */
const COUNT_ATTRIBUTES: Record<QueueName, Record<keyof LoadCounts, string>> = {
  main: { pending_count: 'mp', queued_count: 'mq', running_count: 'mr' },
  priority: { pending_count: 'pp', queued_count: 'pq', running_count: 'pr' },
};
const COUNTS = ['pending_count', 'queued_count', 'running_count'] as const;

/** The item of one series at one sample time; zero counts are left out (absent means zero). */
export function loadItem(series: LoadSeries, time: string, load: QueueLoad, expiresAt: number): Item {
  const item: Item = { ...loadKeys.sample(series, time), [TABLE.ttlAttribute]: expiresAt };
  for (const queue of OPERATOR_QUEUES) {
    for (const count of COUNTS) if (load[queue][count] !== 0) item[COUNT_ATTRIBUTES[queue][count]] = load[queue][count];
  }
  return item;
}

/** The items of one run: one per busy customer, and the all-customer sum when there is one. */
export function loadRunItems(run: LoadRun, expiresAt: number): Item[] {
  const items = run.samples.map((s) => loadItem(s.customer, s.time, s.load, expiresAt));
  if (run.total) items.push(loadItem('ALL', run.time, run.total, expiresAt));
  return items;
}

function loadOf(item: Item): QueueLoad {
  const load = zeroLoad();
  for (const queue of OPERATOR_QUEUES) {
    for (const count of COUNTS) load[queue][count] = Number(item[COUNT_ATTRIBUTES[queue][count]] ?? 0);
  }
  return load;
}

/** The point an item shows over the selected queues (both when undefined). */
export const itemPoint = (item: Item, queues?: readonly QueueName[]): LoadPoint => loadPoint(String(item.sk), loadOf(item), queues);

// ---------------------------------------------------------------------------------------------
// Queries

/** Inclusive bounds of a range as sort keys. */
interface SortRange {
  from: string;
  to: string;
}

/** Day partitions queried at once: a 31-day range touches at most 32. */
const PARALLEL_QUERIES = 16;

/** The key condition of one day partition over the range (every sort key of the day within it). */
function dayCondition(table: string, pk: string, range: SortRange): QueryCommandInput {
  return {
    TableName: table,
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
    ExpressionAttributeValues: { ':pk': pk, ':from': range.from, ':to': range.to },
  };
}

/** Reads only the sort key and the selected queues' counts (what the answer shows). */
function projection(
  queues: readonly QueueName[] | undefined,
): Pick<QueryCommandInput, 'ProjectionExpression' | 'ExpressionAttributeNames'> {
  const names = ['sk', ...(queues ?? OPERATOR_QUEUES).flatMap((q) => Object.values(COUNT_ATTRIBUTES[q]))];
  return {
    ProjectionExpression: names.map((n) => `#${n}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
  };
}

const query = (input: QueryCommandInput) => dynamoDocument().send(new QueryCommand(input));

export class DynamoOperatorStore {
  private get table() {
    return settings.tableName();
  }

  /** Writes the items of one run (BatchWriteItem, retried); nothing when every customer is idle. */
  async putRun(run: LoadRun, expiresAt: number): Promise<number> {
    const items = loadRunItems(run, expiresAt);
    await putAll(this.table, items);
    return items.length;
  }

  /**
   * The page of GET /queue/load: the all-customer series when no customer is selected, one
   * customer's series, or several customers' merged per time.
   */
  async loadPage(q: LoadQuery): Promise<PageOf<LoadPoint>> {
    const range = { from: q.started.toISOString(), to: q.ended.toISOString() };
    const days = daysOf(q.started, q.ended);
    const customers = q.customers;
    if (customers === undefined || customers.length === 1) {
      return this.seriesPage(customers?.[0] ?? 'ALL', days, range, q);
    }
    const series = await inParallel(customers, 4, (c) => this.seriesPoints(c, days, range, q.queues));
    return pageOf(mergePoints(series.flat()), q.page, q.pageSize);
  }

  /** One series' page, read from DynamoDB: the day counts, then only the page's items. */
  private async seriesPage(series: LoadSeries, days: readonly string[], range: SortRange, q: LoadQuery): Promise<PageOf<LoadPoint>> {
    const pks = days.map((d) => loadKeys.partition(series, d));
    const counts = await inParallel(pks, PARALLEL_QUERIES, (pk) => this.countIn(pk, range));
    const count = counts.reduce((a, b) => a + b, 0);
    const items = await this.readWindow(pks, counts, range, (q.page - 1) * q.pageSize, q.pageSize, q.queues);
    return { count, results: items.map((i) => itemPoint(i, q.queues)), ...pageLinks(count, q.page, q.pageSize) };
  }

  /** Every point of one series over the range, in time order. */
  private async seriesPoints(series: LoadSeries, days: readonly string[], range: SortRange, queues?: QueueName[]): Promise<LoadPoint[]> {
    const perDay = await inParallel(days, PARALLEL_QUERIES, async (day) => {
      const items: Item[] = [];
      const input = { ...dayCondition(this.table, loadKeys.partition(series, day), range), ...projection(queues) };
      let start: Item | undefined;
      do {
        const out = await query({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) });
        items.push(...(out.Items ?? []));
        start = out.LastEvaluatedKey;
      } while (start);
      return items;
    });
    return perDay.flat().map((i) => itemPoint(i, queues));
  }

  /** Items of one day partition within the range (a COUNT query: no item leaves DynamoDB). */
  private async countIn(pk: string, range: SortRange): Promise<number> {
    let count = 0;
    let start: Item | undefined;
    do {
      const out = await query({ ...dayCondition(this.table, pk, range), Select: 'COUNT', ...(start ? { ExclusiveStartKey: start } : {}) });
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    return count;
  }

  /**
   * `take` items from position `skip` of the day partitions `pks` (whose item counts are `counts`):
   * days wholly before or after the window are not read; each day in it is read at once, from its
   * offset (the first one skipped into), with DynamoDB's Limit. Samples written or expired since
   * the counting may shift the page by as many items; it never fails on them.
   */
  private async readWindow(
    pks: readonly string[],
    counts: readonly number[],
    range: SortRange,
    skip: number,
    take: number,
    queues: QueueName[] | undefined,
  ): Promise<Item[]> {
    const parts = await inParallel(windowSlices(counts, skip, take), PARALLEL_QUERIES, async (slice) => {
      const input = dayCondition(this.table, pks[slice.group] as string, range);
      const after = slice.offset > 0 ? await this.keyAt(input, slice.offset) : undefined;
      // The day holds fewer items than counted (some expired meanwhile): nothing left of it.
      if (slice.offset > 0 && !after) return [];
      return this.readFrom(input, after, slice.limit, queues);
    });
    return parts.flat();
  }

  /** The key of the `n`-th item of a query (reading after it starts at position n), counted without being returned. */
  private async keyAt(input: QueryCommandInput, n: number): Promise<Item | undefined> {
    let skipped = 0;
    let start: Item | undefined;
    while (skipped < n) {
      const out = await query({ ...input, Select: 'COUNT', Limit: n - skipped, ...(start ? { ExclusiveStartKey: start } : {}) });
      skipped += out.Count ?? 0;
      start = out.LastEvaluatedKey;
      if (!start) return undefined;
    }
    return start;
  }

  /** Up to `limit` items of a query, after `after` when given (DynamoDB's Limit: no more is read). */
  private async readFrom(
    input: QueryCommandInput,
    after: Item | undefined,
    limit: number,
    queues: QueueName[] | undefined,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let start = after;
    do {
      const out = await query({
        ...input,
        ...projection(queues),
        Limit: limit - items.length,
        ...(start ? { ExclusiveStartKey: start } : {}),
      });
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start && items.length < limit);
    return items;
  }

  /**
   * Submission time of the customer's oldest waiting member on `queue` (members share their
   * batch's submission time): the oldest open batch that still has a member not picked up. Open
   * batches are read oldest first, a few at a time, with their counters; the ones passed over
   * have every member picked up already, so there are at most as many as members being processed.
   */
  async oldestWaiting(customer: number, queue: QueueName): Promise<string | undefined> {
    const { gsi1pk } = keys.batchOpen(customer, queue, '', 0);
    let start: Item | undefined;
    do {
      const out = await query({
        TableName: this.table,
        IndexName: TABLE.indexes.gsi1.name,
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': gsi1pk },
        ScanIndexForward: true,
        Limit: 10,
        ...(start ? { ExclusiveStartKey: start } : {}),
      });
      const refs = out.Items ?? [];
      const views = await batchViews(await getItems(refs.map((r) => ({ pk: r.pk, sk: r.sk }))));
      const bySk = new Map(views.map((v) => [keys.batch(v.customer, v.batch).sk, v]));
      for (const ref of refs) {
        const batch = bySk.get(String(ref.sk));
        if (batch && !batch.finished && batch.waiting > 0) return submittedFromOpenKey(String(ref.gsi1sk));
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return undefined;
  }
}

let store: DynamoOperatorStore | undefined;
export const operatorStore = (): DynamoOperatorStore => (store ??= new DynamoOperatorStore());
