/**
 * Scenario — GET /queue/load at scale (issue 11, item 5): what a 31-day load query for one customer
 * reads, with and without 99 other customers' samples in the table.
 *
 * Samples are seeded straight into the table (the adapter's own items, BatchWriteItem), not taken
 * by the sampler: a month of them in seconds. The measured customer gets `measuredPerDay` samples a
 * day, the all-customer series one item per sample time (the sum), the other customers
 * `othersPerDay` each. The query is measured once with only the measured customer's and the
 * all-customer items in the table, and again after the other customers' items are added: its read
 * units must not change, and must stay within the measured customer's own items (their bytes ÷ 4 KB,
 * plus one unit per day partition queried). An admin query without a customer is measured the same
 * way against the all-customer items.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { addClientMiddleware } from '../../lambdas/adapters/aws-clients';
import { putAll } from '../../lambdas/adapters/dynamo/transactions';
import { type LoadSeries, loadItem } from '../../lambdas/adapters/operator-store';
import { settings } from '../../lambdas/config/settings';
import { type LoadPoint, type QueueLoad, zeroLoad } from '../../lambdas/domain/operator';
import type { Harness } from '../harness';
import { commandNameOf, currentTag, totalsOf } from '../sdk-counters';

type Item = Record<string, unknown>;

export interface LoadSeed {
  /** First UTC day of the month seeded (`YYYY-MM-DD`), a day long past so nothing else writes there. */
  firstDay: string;
  days: number;
  /** Customers seeded: the measured one (`firstCustomer`) and `customers − 1` others after it. */
  customers: number;
  firstCustomer: number;
  /** Samples a day of the measured customer (evenly spread; ≤ 1,440: the sampler runs every minute). */
  measuredPerDay: number;
  /** Samples a day of every other customer (a subset of the measured customer's times). */
  othersPerDay: number;
}

export const DEFAULT_LOAD_SEED: LoadSeed = {
  firstDay: '2024-03-01',
  days: 31,
  customers: 100,
  firstCustomer: 9_000,
  measuredPerDay: 48,
  othersPerDay: 2,
};

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** What a read unit buys (eventually consistent reads buy twice as much: 0.5 unit per 4 KB). */
const READ_UNIT_BYTES = 4_096;
/** Tag of the GET /queue/load handler's SDK calls (bench/harness.ts). */
const OPERATOR_TAG = 'api-operator';

const iso = (ms: number) => new Date(ms).toISOString();

/** The seeded range: the whole of the seeded days (`started` to the last millisecond of the last day). */
export function seedRange(seed: LoadSeed): { started: string; ended: string } {
  const start = Date.parse(`${seed.firstDay}T00:00:00.000Z`);
  return { started: iso(start), ended: iso(start + seed.days * DAY_MS - 1) };
}

/** A varied load, so item sizes vary as they would (zero counts are left out of the items). */
function loadAt(customerIndex: number, slot: number): QueueLoad {
  const load = zeroLoad();
  load.main.queued_count = 1 + ((slot * 7 + customerIndex) % 500);
  load.main.running_count = (slot + customerIndex) % 9;
  load.main.pending_count = slot % 5 === 0 ? 100 : 0;
  load.priority.queued_count = slot % 3 === 0 ? 1_000 + slot : 0;
  return load;
}

function addInto(sum: QueueLoad, load: QueueLoad): void {
  for (const q of ['main', 'priority'] as const) {
    sum[q].pending_count += load[q].pending_count;
    sum[q].queued_count += load[q].queued_count;
    sum[q].running_count += load[q].running_count;
  }
}

export interface SeedItems {
  /** The measured customer's items, in time order. */
  measured: Item[];
  /** The all-customer series (one item per sample time: the sum), in time order. */
  all: Item[];
  /** Every other customer's items. */
  others: Item[];
}

/** The seeded items, with the adapter's own key scheme and format (lambdas/adapters/operator-store.ts). */
export function loadSeedItems(seed: LoadSeed): SeedItems {
  const start = Date.parse(`${seed.firstDay}T00:00:00.000Z`);
  const expiresAt = Math.floor(start / 1000) + 10 * 365 * 86_400;
  const item = (series: LoadSeries, ms: number, load: QueueLoad) => loadItem(series, iso(ms), load, expiresAt);
  const measured: Item[] = [];
  const others: Item[] = [];
  const sums = new Map<number, QueueLoad>();
  const add = (ms: number, load: QueueLoad) => addInto(sums.get(ms) ?? sums.set(ms, zeroLoad()).get(ms)!, load);
  const everyMeasured = Math.floor(1_440 / seed.measuredPerDay) * MINUTE_MS;
  const everyOther = Math.floor(1_440 / seed.othersPerDay) * MINUTE_MS;
  for (let day = 0; day < seed.days; day++) {
    const dayStart = start + day * DAY_MS;
    for (let k = 0; k < seed.measuredPerDay; k++) {
      const load = loadAt(0, day * seed.measuredPerDay + k);
      measured.push(item(seed.firstCustomer, dayStart + k * everyMeasured, load));
      add(dayStart + k * everyMeasured, load);
    }
    for (let c = 1; c < seed.customers; c++) {
      for (let k = 0; k < seed.othersPerDay; k++) {
        const load = loadAt(c, day * seed.othersPerDay + k);
        others.push(item(seed.firstCustomer + c, dayStart + k * everyOther, load));
        add(dayStart + k * everyOther, load);
      }
    }
  }
  const all = [...sums.keys()].sort((a, b) => a - b).map((ms) => item('ALL', ms, sums.get(ms)!));
  return { measured, all, others };
}

/** A number's size in DynamoDB: 1 byte per two significant digits, plus 1. */
function numberBytes(n: number): number {
  const digits = String(Math.abs(n)).replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;
  return Math.ceil(Math.max(1, digits) / 2) + 1;
}

/** An item's size as DynamoDB bills it: every attribute's name and value (strings and numbers here). */
export function dynamoItemBytes(item: Item): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name) + (typeof value === 'number' ? numberBytes(value) : Buffer.byteLength(String(value)));
  }
  return bytes;
}

/**
 * The most a query of `items` (those of the series and range asked for) should read: every byte of
 * them once, in 4 KB units, plus one unit for each day partition queried (a query's rounding up).
 */
export function readUnitsBound(items: readonly Item[], partitions: number): number {
  const bytes = items.reduce((a, i) => a + dynamoItemBytes(i), 0);
  return Math.ceil(bytes / READ_UNIT_BYTES) + partitions;
}

// ---------------------------------------------------------------------------------------------
// Measuring

export interface LoadMeasure {
  path: string;
  status: number;
  /** The answer's `count` and how many points it returned. */
  count: number;
  returned: number;
  dynamoCalls: number;
  readUnits: number;
  /** Every partition key the handler queried, sorted. */
  partitions: string[];
  /** Wall time of the request (client side: HTTP, authorizer, handler). */
  ms: number;
}

/**
 * The page GET /queue/load answers with 200 (api-operator): the series' length and this page's points.
 * Not checked: an error answer has another shape, which is why `measureLoadQuery` reads it with `?.`.
 */
export interface LoadPage {
  count: number;
  results: LoadPoint[];
}

/** Partition keys queried by the operator handler while recording (undefined: not recording). */
let recording: Set<string> | undefined;
let recorderInstalled = false;

/** A middleware noting the partition key of every Query the GET /queue/load handler sends. */
function installPartitionRecorder(): void {
  if (recorderInstalled) return;
  recorderInstalled = true;
  addClientMiddleware((client, service) => {
    if (service !== 'dynamodb') return;
    const stack = client.middlewareStack as DynamoDBClient['middlewareStack'];
    stack.add(
      (next, context) => async (args) => {
        const values = (args.input as { ExpressionAttributeValues?: Record<string, unknown> }).ExpressionAttributeValues;
        const pk = values?.[':pk'];
        if (recording && currentTag() === OPERATOR_TAG && commandNameOf(context.commandName) === 'Query' && pk !== undefined) {
          recording.add(typeof pk === 'string' ? pk : JSON.stringify(pk));
        }
        return next(args);
      },
      { step: 'initialize', name: 'benchLoadPartitions', override: true },
    );
  });
}

/** One GET through the API, with the handler's DynamoDB calls, read units and partitions. */
export async function measureLoadQuery(h: Harness, path: string): Promise<{ measure: LoadMeasure; body: LoadPage }> {
  installPartitionRecorder();
  h.resetCounts();
  const partitions = new Set<string>();
  recording = partitions;
  const answer = await h.get<LoadPage>(path).finally(() => (recording = undefined));
  const dynamo = totalsOf(h.counters.snapshot(), 'dynamodb', [OPERATOR_TAG]);
  return {
    measure: {
      path,
      status: answer.status,
      count: Number(answer.json?.count ?? NaN),
      returned: Array.isArray(answer.json?.results) ? answer.json.results.length : 0,
      dynamoCalls: dynamo.calls,
      readUnits: dynamo.readUnits,
      partitions: [...partitions].sort(),
      ms: answer.ms,
    },
    body: answer.json,
  };
}

// ---------------------------------------------------------------------------------------------
// The scenario

export interface LoadQueries {
  /** Page 1 of the measured customer's 31 days. */
  customer: LoadMeasure;
  /** A page in the middle of them (read from DynamoDB without the pages before it). */
  customerDeepPage: LoadMeasure;
  /** An admin query without a customer: the all-customer series. */
  admin: LoadMeasure;
}

export interface LoadScaleResult {
  seed: LoadSeed;
  items: { measured: number; all: number; others: number };
  /** Bytes of the measured customer's items and of the all-customer items (DynamoDB's item size). */
  bytes: { measured: number; all: number };
  /** The read units each query may use (its series' bytes ÷ 4 KB + one per day partition). */
  bound: { customer: number; admin: number };
  alone: LoadQueries;
  withOthers: LoadQueries;
  /** Read units and partitions of every query the same with the other customers' items as without. */
  independent: boolean;
  seedMs: number;
}

const loadPath = (seed: LoadSeed, extra: string) => {
  const { started, ended } = seedRange(seed);
  return `/queue/load?started=${encodeURIComponent(started)}&ended=${encodeURIComponent(ended)}${extra}`;
};

async function measureQueries(h: Harness, seed: LoadSeed): Promise<LoadQueries> {
  const deepPage = Math.max(1, Math.ceil((seed.days * seed.measuredPerDay) / 100 / 2));
  return {
    customer: (await measureLoadQuery(h, loadPath(seed, `&customer=${seed.firstCustomer}`))).measure,
    customerDeepPage: (await measureLoadQuery(h, loadPath(seed, `&customer=${seed.firstCustomer}&page=${deepPage}`))).measure,
    admin: (await measureLoadQuery(h, loadPath(seed, ''))).measure,
  };
}

const same = (a: LoadMeasure, b: LoadMeasure) =>
  a.status === 200 && a.count === b.count && a.readUnits === b.readUnits && a.partitions.join() === b.partitions.join();

export async function runLoadScenario(h: Harness, seed: LoadSeed = DEFAULT_LOAD_SEED): Promise<LoadScaleResult> {
  const items = loadSeedItems(seed);
  const table = settings.tableName();
  const started = Date.now();
  await putAll(table, [...items.measured, ...items.all]);
  let seedMs = Date.now() - started;
  const alone = await measureQueries(h, seed);
  const more = Date.now();
  await putAll(table, items.others);
  seedMs += Date.now() - more;
  const withOthers = await measureQueries(h, seed);
  const bytes = (list: Item[]) => list.reduce((a, i) => a + dynamoItemBytes(i), 0);
  return {
    seed,
    items: { measured: items.measured.length, all: items.all.length, others: items.others.length },
    bytes: { measured: bytes(items.measured), all: bytes(items.all) },
    bound: { customer: readUnitsBound(items.measured, seed.days), admin: readUnitsBound(items.all, seed.days) },
    alone,
    withOthers,
    independent: (Object.keys(alone) as (keyof LoadQueries)[]).every((k) => same(alone[k], withOthers[k])),
    seedMs,
  };
}
