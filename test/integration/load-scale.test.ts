/**
 * GET /queue/load at scale (issue 11, item 5): a month of samples of 100 customers is seeded
 * straight into the table (BatchWriteItem, the adapter's own items), and the read units of a
 * 31-day query are measured with `ReturnConsumedCapacity: 'TOTAL'` (the benchmark's SDK counters,
 * attributed to the GET /queue/load handler) together with every partition key it queried.
 *
 * What must hold: a query for one customer reads that customer's day partitions and nothing else,
 * its read units stay within that customer's own items (their bytes ÷ 4 KB + one unit per day
 * partition) and do not change when the other 99 customers' samples are added; an admin query
 * without a customer reads only the all-customer partitions. The answers are checked point by
 * point against the seeded samples, on the first page, a page in the middle and the last page.
 *
 * LOAD_SCALE_VERBOSE=1 prints the measured figures.
 */
import { type Harness, startHarness } from '../../bench/harness';
import {
  dynamoItemBytes,
  type LoadMeasure,
  type LoadSeed,
  loadSeedItems,
  measureLoadQuery,
  readUnitsBound,
  type SeedItems,
  seedRange,
} from '../../bench/scenarios/load';
import { putAll } from '../../lambdas/adapters/dynamo/transactions';
import { itemPoint } from '../../lambdas/adapters/operator-store';
import type { QueueName } from '../../lambdas/config/resources';
import { settings } from '../../lambdas/config/settings';

jest.setTimeout(300_000);

const SEED: LoadSeed = { firstDay: '2024-03-01', days: 31, customers: 100, firstCustomer: 1, measuredPerDay: 48, othersPerDay: 4 };
const PAGE_SIZE = 100;
const MEASURED = SEED.firstCustomer;
const verbose = Boolean(process.env.LOAD_SCALE_VERBOSE);

let h: Harness;
let items: SeedItems;

interface Query {
  name: string;
  /** Extra query parameters after the 31-day range. */
  params: string;
  /** The series' items and the queues shown: what the answer must hold. */
  series: () => Record<string, unknown>[];
  queues?: QueueName[];
  page: number;
  /** Partition-key prefix of every day partition the query may read. */
  prefix: string;
}

const pages = (n: number) => Math.ceil(n / PAGE_SIZE);
const QUERIES: Query[] = [
  { name: 'customer, page 1', params: `&customer=${MEASURED}`, series: () => items.measured, page: 1, prefix: `LOAD#${MEASURED}#` },
  // Offset 700: the 15th day (48 a day), 28 items into it.
  { name: 'customer, page 8', params: `&customer=${MEASURED}&page=8`, series: () => items.measured, page: 8, prefix: `LOAD#${MEASURED}#` },
  {
    name: 'customer, last page',
    params: `&customer=${MEASURED}&page=${pages(SEED.days * SEED.measuredPerDay)}`,
    series: () => items.measured,
    page: pages(SEED.days * SEED.measuredPerDay),
    prefix: `LOAD#${MEASURED}#`,
  },
  {
    name: 'customer, priority queue, page 3',
    params: `&customer=${MEASURED}&queue=priority&page=3`,
    series: () => items.measured,
    queues: ['priority'],
    page: 3,
    prefix: `LOAD#${MEASURED}#`,
  },
  { name: 'admin, all customers, page 1', params: '', series: () => items.all, page: 1, prefix: 'LOAD#ALL#' },
  { name: 'admin, all customers, page 10', params: '&page=10', series: () => items.all, page: 10, prefix: 'LOAD#ALL#' },
];

const dayPartitions = (prefix: string) =>
  Array.from(
    { length: SEED.days },
    (_, d) => `${prefix}${new Date(Date.parse(`${SEED.firstDay}T00:00:00Z`) + d * 86_400_000).toISOString().slice(0, 10)}`,
  );

function path(q: Query): string {
  const { started, ended } = seedRange(SEED);
  return `/queue/load?started=${encodeURIComponent(started)}&ended=${encodeURIComponent(ended)}${q.params}`;
}

/** Runs every query, checks its answer against the seeded items, and returns its measure. */
async function measureAll(): Promise<Record<string, LoadMeasure>> {
  const out: Record<string, LoadMeasure> = {};
  for (const q of QUERIES) {
    const { measure, body } = await measureLoadQuery(h, path(q));
    expect({ query: q.name, status: measure.status }).toEqual({ query: q.name, status: 200 });
    const series = q.series();
    const start = (q.page - 1) * PAGE_SIZE;
    expect({ query: q.name, count: body.count, results: body.results }).toEqual({
      query: q.name,
      count: series.length,
      results: series.slice(start, start + PAGE_SIZE).map((i) => itemPoint(i, q.queues)),
    });
    expect({ query: q.name, partitions: measure.partitions }).toEqual({ query: q.name, partitions: dayPartitions(q.prefix) });
    out[q.name] = measure;
  }
  return out;
}

const figures = (m: Record<string, LoadMeasure>) =>
  Object.fromEntries(
    Object.entries(m).map(([name, x]) => [name, { readUnits: x.readUnits, dynamoCalls: x.dynamoCalls, partitions: x.partitions.length }]),
  );

beforeAll(async () => {
  h = await startHarness({ mainPollers: 0, priorityPollers: 0, tasksPollers: 0 });
  items = loadSeedItems(SEED);
});

afterAll(async () => {
  await h?.stop();
});

describe('GET /queue/load with 100 customers × 31 days of samples', () => {
  let alone: Record<string, LoadMeasure>;
  let crowded: Record<string, LoadMeasure>;

  beforeAll(async () => {
    const table = settings.tableName();
    await putAll(table, [...items.measured, ...items.all]);
    alone = await measureAll();
    const started = Date.now();
    await putAll(table, items.others);
    const seedMs = Date.now() - started;
    crowded = await measureAll();
    if (verbose) {
      const bytes = (list: Record<string, unknown>[]) => list.reduce((a, i) => a + dynamoItemBytes(i), 0);
      console.log(
        JSON.stringify(
          {
            items: { measured: items.measured.length, all: items.all.length, others: items.others.length },
            bytes: { measured: bytes(items.measured), all: bytes(items.all), others: bytes(items.others) },
            bound: { customer: readUnitsBound(items.measured, SEED.days), admin: readUnitsBound(items.all, SEED.days) },
            seedOthersMs: seedMs,
            alone: figures(alone),
            crowded: figures(crowded),
          },
          null,
          2,
        ),
      );
    }
  });

  it('the seed is what the test is about: the other customers hold most of the samples', () => {
    expect(items.measured).toHaveLength(SEED.days * SEED.measuredPerDay);
    expect(items.others).toHaveLength((SEED.customers - 1) * SEED.days * SEED.othersPerDay);
    // Reading every sample of the range (as one partition for all customers did), eventually
    // consistent (half a unit per 4 KB), would cost over five times what the query reads.
    const everything = readUnitsBound([...items.measured, ...items.all, ...items.others], 0) / 2;
    expect(everything).toBeGreaterThan(5 * crowded['customer, page 1']!.readUnits);
  });

  it("one customer's 31-day query reads at most its own items (bytes ÷ 4 KB) + one unit per day partition", () => {
    const bound = readUnitsBound(items.measured, SEED.days);
    for (const q of QUERIES.filter((x) => x.prefix.startsWith(`LOAD#${MEASURED}#`))) {
      const units = crowded[q.name]!.readUnits;
      expect({ query: q.name, units, withinBound: units > 0 && units <= bound }).toEqual({ query: q.name, units, withinBound: true });
    }
  });

  it('an admin query without a customer reads only the all-customer partitions, within their items', () => {
    const bound = readUnitsBound(items.all, SEED.days);
    for (const q of QUERIES.filter((x) => x.prefix === 'LOAD#ALL#')) {
      const m = crowded[q.name]!;
      expect(m.partitions.every((p) => p.startsWith('LOAD#ALL#'))).toBe(true);
      expect({ query: q.name, withinBound: m.readUnits > 0 && m.readUnits <= bound }).toEqual({ query: q.name, withinBound: true });
    }
  });

  it("the other 99 customers' samples change nothing a query reads", () => {
    expect(figures(crowded)).toEqual(figures(alone));
  });
});
