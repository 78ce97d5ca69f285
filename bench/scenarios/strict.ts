/**
 * Scenario 6 — strict mode (issue 10): one customer's workload of several batches on both queues
 * (default 4 × 500 main + 1 × 100 priority, all submitted together), processed by every poller the
 * harness runs, in the same runtime, without and with DynamoDB behaving as AWS under contention:
 *
 * - without conflicts: the handlers go straight to DynamoDB Local (the strict proxy is bypassed:
 *   their clients are rebuilt with the upstream endpoint). DynamoDB Local serialises everything, so
 *   nothing ever conflicts, throttles or fails; checked: the proxy sees no request during the run.
 * - with conflicts: through the proxy with `{ ...DEFAULT_STRICT_OPTIONS, conflictWindowMs: 20,
 *   throttleRate: 0.02, errorRate: 0.004 }` (the contention suite's settings; GSI lag 100 ms and
 *   AWS's per-key ceilings as by default).
 *
 * The proxy with no conflict window is no conflict-free baseline: a transaction still holds its
 * items while DynamoDB Local applies it, and measured that way 150–200 transactions per 1,000
 * members were still cancelled. So the ratio includes the proxy's own cost (one more HTTP hop and
 * JSON parse per call, in this process): it is a lower bound of what contention costs.
 *
 * Runs alternate without / with / with / without (`reps` 2; quick: 1, i.e. without / with) so that a
 * drift of the machine's speed hits both modes alike; each mode's members/s pools its runs (members ÷
 * summed elapsed time). Each run: pollers paused, the batches POSTed together for a customer of its
 * own, then counters, partition writes and proxy stats reset, pollers resumed, GET customer queue
 * polled until its size is 0 and then every batch until `finished` (members/s from the resume to
 * that); the supersede tasks are waited for before the counts are read. The write units per
 * partition key of the runs with conflicts (submit and processing) give the modelled AWS ceiling
 * (bench/partition-writes.ts).
 */
import { performance } from 'node:perf_hooks';
import { resetClients, SERVICE_ENDPOINT_ENV } from '../../lambdas/adapters/aws-clients';
import { BATCH_COUNTER_SHARDS, CUSTOMER_COUNTER_SHARDS } from '../../lambdas/adapters/dynamo/counters';
import { MEMBER_PARTITIONS } from '../../lambdas/adapters/dynamo/keys';
import type { QueueName } from '../../lambdas/config/resources';
import { DEFAULT_STRICT_OPTIONS, type StrictDynamoOptions, type StrictDynamoProxy, type StrictStats } from '../../local/strict-dynamodb';
import { assets, type BatchBody, collectionBody, type Harness } from '../harness';
import {
  type Ceiling,
  ceilingModel,
  mergeSnapshots,
  type PartitionSnapshot,
  type WorkloadBatch,
  WRITE_UNITS_PER_KEY,
} from '../partition-writes';
import { type CountSnapshot, type Totals, totalsOf } from '../sdk-counters';

/** DynamoDB as AWS under contention (test/integration/contention.test.ts uses the same). */
export const WITH_CONFLICTS: StrictDynamoOptions = Object.freeze({
  ...DEFAULT_STRICT_OPTIONS,
  conflictWindowMs: 20,
  throttleRate: 0.02,
  errorRate: 0.004,
});

/** Handlers whose DynamoDB calls are the processing of the workload. */
export const STRICT_TAGS = ['process-images:main', 'process-images:priority', 'run-tasks'];
/** Proxy counters reported per 1,000 members. */
export const PER_1000 = [
  'transactionConflicts',
  'writeConflicts',
  'keyThrottles',
  'randomThrottles',
  'errorsBeforeApply',
  'errorsAfterApply',
] as const;
export type Per1000 = Record<(typeof PER_1000)[number], number>;

export interface StrictWorkload {
  mainBatches: number;
  mainMembers: number;
  priorityBatches: number;
  priorityMembers: number;
}

export type StrictMode = 'withoutConflicts' | 'withConflicts';

export interface StrictBatch {
  batch: number;
  queue: QueueName;
  members: number;
  completed: number;
  errors: number;
}

export interface StrictRun {
  mode: StrictMode;
  customer: number;
  batches: StrictBatch[];
  members: number;
  completed: number;
  errors: number;
  /** The concurrent POSTs of every batch (pollers paused). */
  submitMs: number;
  /** From resuming the pollers to every batch finished. */
  elapsedMs: number;
  membersPerSecond: number;
  /** The customer's queue size once every batch finished (0 expected). */
  sizeAfter: number;
  /** Proxy stats of the submit phase and of the processing (supersede tasks and the polling GETs included). */
  submitStats: StrictStats;
  stats: StrictStats;
  /** The processors' and tasks' DynamoDB calls (errors: cancelled transactions, failed conditions). */
  dynamodb: Totals;
  /** Their failed calls by command. */
  failedByCommand: Record<string, number>;
  /** Write units per partition key (bench/partition-writes.ts). */
  partitions: { submit: PartitionSnapshot; processing: PartitionSnapshot };
}

/** One mode over its runs. */
export interface StrictModeSummary {
  /** The proxy's options, or null: straight to DynamoDB Local. */
  options: StrictDynamoOptions | null;
  runs: number;
  members: number;
  completed: number;
  errors: number;
  /** Summed over the runs. */
  elapsedMs: number;
  /** members ÷ summed elapsed time. */
  membersPerSecond: number;
  /** Each run's members/s, in run order. */
  perRun: number[];
  /** Largest queue size left after a run (0 expected). */
  sizeAfter: number;
  submitMs: number;
  /** Proxy stats of the processing, summed over the runs, and per 1,000 members. */
  stats: StrictStats;
  per1000: Per1000;
  dynamodb: Totals;
  failedByCommand: Record<string, number>;
}

export interface StrictResult {
  workload: StrictWorkload & { members: number; reps: number };
  pollers: { main: number; priority: number; tasks: number };
  /** Every run, in the order made. */
  runs: StrictRun[];
  withoutConflicts: StrictModeSummary;
  withConflicts: StrictModeSummary;
  /** members/s with conflicts ÷ members/s without. */
  ratio: number;
  /** Cancelled transactions (TransactionConflict) per 1,000 members, with conflicts. */
  cancelledPer1000: number;
  ceiling: {
    limitPerKey: number;
    /** Counter shards per customer and per batch, and member partitions per batch. */
    shards: { customer: number; batch: number; memberPartitions: number };
    /** From the processing writes of the runs with conflicts (the target). */
    processing: Ceiling;
    /** From their submit and processing writes together (steady state: every image is written, then processed). */
    withSubmit: Ceiling;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Points every handler's DynamoDB client at the proxy or straight at DynamoDB Local (clients are rebuilt). */
function routeDynamo(h: Harness, to: 'proxy' | 'direct'): void {
  process.env[SERVICE_ENDPOINT_ENV.dynamodb] = to === 'direct' ? h.runtime.dynamoUpstreamEndpoint : h.runtime.dynamoEndpoint;
  resetClients();
}

/** The proxy reads its options on every request; its per-key ceilings are fixed when it starts. */
function configure(proxy: StrictDynamoProxy, options: StrictDynamoOptions): void {
  if (options.writeUnitsPerKey !== proxy.options.writeUnitsPerKey || options.readUnitsPerKey !== proxy.options.readUnitsPerKey) {
    throw new Error('the strict proxy fixes its per-key ceilings when it starts: start the runtime with the ones wanted');
  }
  Object.assign(proxy.options, options);
}

async function runOnce(
  h: Harness,
  proxy: StrictDynamoProxy,
  mode: StrictMode,
  customer: number,
  workload: StrictWorkload,
): Promise<StrictRun> {
  await h.quiesce();
  await h.purge('main', 'priority', 'tasks');
  if (mode === 'withConflicts') configure(proxy, WITH_CONFLICTS);
  routeDynamo(h, mode === 'withConflicts' ? 'proxy' : 'direct');
  h.resetCounts();
  proxy.resetStats();

  const specs: { queue: QueueName; members: number }[] = [
    ...Array.from({ length: workload.mainBatches }, () => ({ queue: 'main' as const, members: workload.mainMembers })),
    ...Array.from({ length: workload.priorityBatches }, () => ({ queue: 'priority' as const, members: workload.priorityMembers })),
  ];
  const submitStarted = performance.now();
  const submitted = await Promise.all(
    specs.map(async (spec, k) => {
      const body = collectionBody(assets(spec.members, `strict${customer}-${spec.queue}${k}`, h.originUrl()));
      const answer = await h.post<BatchBody>(`/customers/${customer}/queue${spec.queue === 'priority' ? '/priority' : ''}`, body);
      if (answer.status !== 201) {
        throw new Error(
          `${mode}: submit of ${spec.members} (${spec.queue}) answered ${answer.status}: ${JSON.stringify(answer.json).slice(0, 500)}`,
        );
      }
      return { batch: Number(answer.json.id), ...spec };
    }),
  );
  const submitMs = performance.now() - submitStarted;
  const submitStats = proxy.stats();
  const submitPartitions = h.partitions.snapshot();
  const members = specs.reduce((a, s) => a + s.members, 0);

  h.resetCounts();
  proxy.resetStats();
  const started = performance.now();
  h.resume();
  const finished = new Map<number, StrictBatch>();
  const interval = members > 1000 ? 200 : 100;
  const deadline = started + 900_000;
  // Light polling (GET customer queue: one BatchGetItem) until nothing is left, then the batches.
  // A transient answer (a read throttled past the SDK's retries) is polled again.
  for (;;) {
    if (performance.now() > deadline) throw new Error(`${mode}: customer ${customer}'s ${members} members not processed in 15 minutes`);
    const queue = await h.get<{ size: number }>(`/customers/${customer}/queue`);
    if (queue.status === 200 && Number(queue.json.size) === 0) {
      for (const b of submitted.filter((s) => !finished.has(s.batch))) {
        const { status, json } = await h.get<BatchBody>(`/customers/${customer}/queue/batches/${b.batch}`);
        if (status === 200 && json.finished) {
          finished.set(b.batch, {
            batch: b.batch,
            queue: b.queue,
            members: b.members,
            completed: Number(json.completed),
            errors: Number(json.errors),
          });
        }
      }
      if (finished.size === submitted.length) break;
    }
    await sleep(interval);
  }
  const elapsedMs = performance.now() - started;
  // The supersede tasks may still be running: they are part of the processing.
  while ((await h.depth('tasks')) > 0 || h.runtime.pollers!.inFlight() > 0) await sleep(50);
  await h.quiesce();
  const after = await h.get<{ size: number }>(`/customers/${customer}/queue`);

  const stats = proxy.stats();
  if (mode === 'withoutConflicts' && stats.requests + submitStats.requests > 0) {
    throw new Error(`the run without conflicts went through the strict proxy (${stats.requests + submitStats.requests} requests)`);
  }
  const batches = submitted.map((s) => finished.get(s.batch) as StrictBatch);
  const counts = h.counters.snapshot();
  return {
    mode,
    customer,
    batches,
    members,
    completed: batches.reduce((a, b) => a + b.completed, 0),
    errors: batches.reduce((a, b) => a + b.errors, 0),
    submitMs,
    elapsedMs,
    membersPerSecond: (members / elapsedMs) * 1000,
    sizeAfter: after.status === 200 ? Number(after.json.size) : NaN,
    submitStats,
    stats,
    dynamodb: totalsOf(counts, 'dynamodb', STRICT_TAGS),
    failedByCommand: failedByCommand(counts),
    partitions: { submit: submitPartitions, processing: h.partitions.snapshot() },
  };
}

function failedByCommand(counts: CountSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tag of STRICT_TAGS) {
    for (const [command, c] of Object.entries(counts[tag]?.dynamodb ?? {})) if (c.errors > 0) out[command] = (out[command] ?? 0) + c.errors;
  }
  return out;
}

function sumRecords<T extends object>(items: readonly T[]): T {
  const out: Record<string, unknown> = {};
  for (const item of items) {
    for (const [k, v] of Object.entries(item)) {
      if (typeof v === 'number') out[k] = ((out[k] as number | undefined) ?? 0) + v;
      else if (v && typeof v === 'object') out[k] = sumRecords([(out[k] as object | undefined) ?? {}, v as object]);
    }
  }
  return out as T;
}

function summarise(runs: readonly StrictRun[], options: StrictDynamoOptions | null): StrictModeSummary {
  const members = runs.reduce((a, r) => a + r.members, 0);
  const elapsedMs = runs.reduce((a, r) => a + r.elapsedMs, 0);
  const stats = sumRecords(runs.map((r) => r.stats));
  return {
    options,
    runs: runs.length,
    members,
    completed: runs.reduce((a, r) => a + r.completed, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    elapsedMs,
    membersPerSecond: (members / elapsedMs) * 1000,
    perRun: runs.map((r) => r.membersPerSecond),
    sizeAfter: Math.max(...runs.map((r) => r.sizeAfter)),
    submitMs: runs.reduce((a, r) => a + r.submitMs, 0) / runs.length,
    stats,
    per1000: Object.fromEntries(PER_1000.map((k) => [k, (stats[k] / members) * 1000])) as Per1000,
    dynamodb: sumRecords(runs.map((r) => r.dynamodb)),
    failedByCommand: sumRecords(runs.map((r) => r.failedByCommand)),
  };
}

const workloadBatches = (runs: readonly StrictRun[]): WorkloadBatch[] =>
  runs.flatMap((r) => r.batches.map((b) => ({ customer: r.customer, batch: b.batch, members: b.members })));

/** without, with, with, without, without, with, … (ABBA blocks: a linear drift cancels out). */
export function strictOrder(reps: number): StrictMode[] {
  return Array.from({ length: reps }, (_, i): StrictMode[] =>
    i % 2 === 0 ? ['withoutConflicts', 'withConflicts'] : ['withConflicts', 'withoutConflicts'],
  ).flat();
}

export async function runStrictScenario(
  h: Harness,
  workload: StrictWorkload,
  reps: number,
  customerBase: number,
  pollers: StrictResult['pollers'],
): Promise<StrictResult> {
  const proxy = h.runtime.strict;
  if (!proxy) throw new Error('the strict section needs the strict DynamoDB proxy (STRICT_DYNAMODB is off)');
  const original = { ...proxy.options };
  const runs: StrictRun[] = [];
  try {
    for (const [i, mode] of strictOrder(reps).entries()) runs.push(await runOnce(h, proxy, mode, customerBase + i, workload));
  } finally {
    Object.assign(proxy.options, original);
    routeDynamo(h, 'proxy');
  }
  const strict = runs.filter((r) => r.mode === 'withConflicts');
  const withoutConflicts = summarise(
    runs.filter((r) => r.mode === 'withoutConflicts'),
    null,
  );
  const withConflicts = summarise(strict, { ...WITH_CONFLICTS });
  const batches = workloadBatches(strict);
  const processing = mergeSnapshots(...strict.map((r) => r.partitions.processing));
  const submit = mergeSnapshots(...strict.map((r) => r.partitions.submit));
  return {
    workload: { ...workload, members: runs[0]?.members ?? 0, reps },
    pollers,
    runs,
    withoutConflicts,
    withConflicts,
    ratio: withConflicts.membersPerSecond / withoutConflicts.membersPerSecond,
    cancelledPer1000: withConflicts.per1000.transactionConflicts,
    ceiling: {
      limitPerKey: WRITE_UNITS_PER_KEY,
      shards: { customer: CUSTOMER_COUNTER_SHARDS, batch: BATCH_COUNTER_SHARDS, memberPartitions: MEMBER_PARTITIONS },
      processing: ceilingModel(processing, batches),
      withSubmit: ceilingModel(mergeSnapshots(submit, processing), batches),
    },
  };
}
