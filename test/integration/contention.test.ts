/**
 * One customer under contention, against AWS-like DynamoDB (strict mode: transaction conflicts,
 * per-key ceilings, GSI lag, random throttles and 500s, some after the write was applied) and as
 * many concurrent processors as the stack allows (CONSUMERS.*.maxConcurrency): 2,000 valid members in
 * six batches on both queues, then 30 small concurrent submits while they are being processed.
 * Every submit must be accepted, every valid image completed (none marked as an error), the
 * customer's queue empty afterwards and the counters free of drift.
 *
 * CONTENTION_VERBOSE=1 shows the runtime's and the handlers' logs instead of capturing them.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { reconcileTable } from '../../lambdas/adapters/reconcile-store';
import { CONSUMERS } from '../../lambdas/config/functions';
import { formatDrift } from '../../lambdas/domain/reconcile';
import { logger as handlerLogger } from '../../lambdas/observability/logger';
import { type RuntimeLogger, silentLogger } from '../../local/handlers';
import type { InvocationInfo, InvocationOutcome } from '../../local/pollers';
import { DEFAULT_STRICT_OPTIONS } from '../../local/strict-dynamodb';
import { listBatches } from '../support/faults-support';
import { type ApiResult, type QueueClient, waitFor } from '../support/queue-client';
import { startTestRuntime, type TestRuntime } from '../support/test-runtime';

jest.setTimeout(600_000);

const VERBOSE = Boolean(process.env.CONTENTION_VERBOSE);
const CUSTOMER = 510;
const WARM_UP_CUSTOMER = 511;

let env: TestRuntime;
let api: QueueClient;
let origins: TestRuntime['origins'];
let runtime: TestRuntime['runtime'];

/** Errors from the runtime (an API handler or consumer that threw), kept to explain a failure. */
const runtimeErrors: string[] = [];
/** The handlers' log lines by level, and their warnings and errors by message (and error). */
const handlerLogCounts: Record<string, number> = {};
const handlerProblems = new Map<string, { count: number; example: string }>();
const capturingRuntimeLogger: RuntimeLogger = {
  ...silentLogger,
  error: (message, ...rest) => {
    if (runtimeErrors.length < 200) {
      runtimeErrors.push(
        `${message} ${rest.map((r) => (r instanceof Error ? `${r.name}: ${r.message}` : String(r))).join(' ')}`.slice(0, 500),
      );
    }
  },
};

/**
 * The handlers log through one Powertools logger writing straight to stdout: route its output
 * here instead (counted by level; warnings and errors grouped by message for a failure's description).
 */
function captureHandlerLogs(): void {
  const sink = (level: string) => (line: unknown) => {
    handlerLogCounts[level] = (handlerLogCounts[level] ?? 0) + 1;
    if (level !== 'warn' && level !== 'error') return;
    let key = String(line).slice(0, 120);
    try {
      const parsed = JSON.parse(String(line)) as { message?: string; error?: unknown };
      const error = typeof parsed.error === 'string' ? parsed.error : (parsed.error as { name?: string; message?: string } | undefined);
      key = `${level} ${parsed.message} ${typeof error === 'string' ? error : error ? `${error.name}: ${error.message}` : ''}`.slice(
        0,
        200,
      );
    } catch {
      // not JSON: keep the text
    }
    const seen = handlerProblems.get(key);
    if (seen) seen.count += 1;
    else handlerProblems.set(key, { count: 1, example: String(line).slice(0, 800) });
  };
  (handlerLogger as unknown as { console: Record<string, (line: unknown) => void> }).console = {
    log: sink('info'),
    trace: sink('debug'),
    debug: sink('debug'),
    info: sink('info'),
    warn: sink('warn'),
    error: sink('error'),
  };
}

/**
 * The SDK warns (console.warn, several lines each) when its socket pool is saturated: the local
 * runtime's handlers share one client, where each Lambda container would have its own. Counted.
 */
let sdkSocketWarnings = 0;
function countSdkSocketWarnings(): void {
  const warn = console.warn.bind(console);
  jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    if (String(args[0]).startsWith('@smithy/node-http-handler:WARN - socket usage at capacity')) sdkSocketWarnings += 1;
    else warn(...args);
  });
}

/** Invocations per poller: how many, how long (the slowest), how many failed. */
const invocations: Record<string, { n: number; failed: number; maxMs: number; totalMs: number; overVisibility: number }> = {};
const invocationStarts = new WeakMap<object, number>();
const VISIBILITY_TIMEOUT_MS = 5_000;
const timing = {
  onBeforeInvoke: (info: InvocationInfo) => {
    invocationStarts.set(info.event, Date.now());
  },
  onAfterInvoke: (outcome: InvocationOutcome) => {
    const ms = Date.now() - (invocationStarts.get(outcome.event) ?? Date.now());
    const entry = invocations[outcome.poller] ?? { n: 0, failed: 0, maxMs: 0, totalMs: 0, overVisibility: 0 };
    invocations[outcome.poller] = entry;
    entry.n += 1;
    entry.totalMs += ms;
    entry.maxMs = Math.max(entry.maxMs, ms);
    if (ms > VISIBILITY_TIMEOUT_MS) entry.overVisibility += 1;
    if (outcome.error !== undefined) entry.failed += 1;
  },
};

/** What was logged, for an assertion message: every runtime error, handler problems by kind. */
function evidence(): string {
  const problems = [...handlerProblems.entries()].map(([key, { count, example }]) => `  ${count} × ${key}\n    e.g. ${example}`);
  return [
    `runtime errors (${runtimeErrors.length}):`,
    ...runtimeErrors.map((e) => `  ${e}`),
    `handler warnings/errors by kind (${problems.length}):`,
    ...problems,
    `strict stats ${JSON.stringify(runtime?.strict?.stats())}`,
  ].join('\n');
}

beforeAll(async () => {
  if (!VERBOSE) {
    captureHandlerLogs();
    countSdkSocketWarnings();
  }
  env = await startTestRuntime({
    strict: { ...DEFAULT_STRICT_OPTIONS, conflictWindowMs: 20, throttleRate: 0.02, errorRate: 0.004 },
    pollerConcurrency: { main: CONSUMERS.main.maxConcurrency, priority: CONSUMERS.priority.maxConcurrency, tasks: 2 },
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_MS / 1000,
    pollerHooks: timing,
    logger: VERBOSE ? undefined : capturingRuntimeLogger,
  });
  ({ api, origins, runtime } = env);
  // Warm-up (another customer): the first invocations load and transform the handler modules.
  const warm = await api.submitOk(WARM_UP_CUSTOMER, [member('warm', 0)]);
  await api.waitForFinished(WARM_UP_CUSTOMER, [warm], 60_000);
}, 120_000);

/** Filled in as the scenario goes and printed once, in one line, after it (passed or failed). */
const summary: Record<string, unknown> = {};
/** How late the test process's event loop ran (handlers, proxy, origins and pollers share it). */
const loopDelay = monitorEventLoopDelay({ resolution: 20 });

afterAll(async () => {
  if (Object.keys(summary).length === 0) return;
  summary.strict = runtime?.strict?.stats();
  summary.handlerLogs = handlerLogCounts;
  summary.handlerProblems = Object.fromEntries([...handlerProblems].map(([k, v]) => [k, v.count]));
  summary.runtimeErrors = runtimeErrors.length;
  summary.sdkSocketWarnings = sdkSocketWarnings;
  const ms = (ns: number) => Math.round(ns / 1e6);
  summary.eventLoopDelayMs = { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) };
  summary.originRequests = origins?.requestCount();
  summary.invocations = Object.fromEntries(
    Object.entries(invocations).map(([q, e]) => [
      q,
      { n: e.n, failed: e.failed, avgMs: Math.round(e.totalMs / e.n), maxMs: e.maxMs, overVisibility: e.overVisibility },
    ]),
  );
  console.log(`contention: ${JSON.stringify(summary)}`);
});

afterAll(() => env?.stop());

/** A valid image: PNG or JPEG of a few pixels, served by the origin server. */
function member(prefix: string, n: number) {
  const w = 8 + (n % 17);
  const h = 8 + (n % 13);
  return {
    id: `${prefix}-${n}`,
    space: 1,
    origin: n % 2 === 0 ? `${origins.url}/png/${w}x${h}.png` : `${origins.url}/jpeg/${w}x${h}.jpg`,
  };
}

interface Submitted {
  label: string;
  priority: boolean;
  count: number;
  answer: ApiResult;
}

async function submit(label: string, count: number, priority: boolean): Promise<Submitted> {
  const answer = await api.submit(
    CUSTOMER,
    Array.from({ length: count }, (_, n) => member(label, n)),
    { priority },
  );
  return { label, priority, count, answer };
}

const countStatuses = (answers: readonly Submitted[]) => {
  const statuses: Record<number, number> = {};
  for (const s of answers) statuses[s.answer.status] = (statuses[s.answer.status] ?? 0) + 1;
  return statuses;
};

test('one customer, 2,000 members on both queues + 30 small submits at once, AWS-like DynamoDB: all done, no drift', async () => {
  runtime.strict!.resetStats();
  loopDelay.enable();
  const started = Date.now();

  // Arrange: the large batches, 4 × 450 on main and 2 × 100 on priority, submitted together.
  const large = await Promise.all([
    ...[0, 1, 2, 3].map((k) => submit(`main${k}`, 450, false)),
    ...[0, 1].map((k) => submit(`prio${k}`, 100, true)),
  ]);
  expect(large.reduce((sum, s) => sum + s.count, 0)).toBeGreaterThanOrEqual(2000);
  summary.largeSubmitMs = Date.now() - started;

  // Processing has started: some members have finished.
  let progress = 0;
  await waitFor(
    async () => {
      progress = (await listBatches(api, CUSTOMER)).reduce((sum, b) => sum + Number(b.completed ?? 0) + Number(b.errors ?? 0), 0);
      return progress > 0;
    },
    { timeoutMs: 120_000, intervalMs: 200, description: () => `customer ${CUSTOMER} to show progress\n${evidence()}` },
  );
  summary.sizeAtSmallSubmits = (await api.customerQueue(CUSTOMER)).size;
  summary.smallSubmitsAfterMs = Date.now() - started;

  // Act: 30 concurrent small submits (20 members each), mixed queues, while the large batches run.
  const small = await Promise.all(Array.from({ length: 30 }, (_, k) => submit(`small${k}`, 20, k % 3 === 0)));
  const all = [...large, ...small];
  const statuses = countStatuses(all);
  const refused = all
    .filter((s) => s.answer.status !== 201)
    .map((s) => ({
      label: s.label,
      status: s.answer.status,
      detail: String(s.answer.body?.detail ?? JSON.stringify(s.answer.body)).slice(0, 200),
    }));
  const accepted = all.filter((s) => s.answer.status === 201);
  const total = accepted.reduce((sum, s) => sum + s.count, 0);
  Object.assign(summary, { statuses, largeStatuses: countStatuses(large), smallStatuses: countStatuses(small), acceptedMembers: total });
  const ids = accepted.map((s) => s.answer.body.id as number);
  expect(new Set(ids).size).toBe(accepted.length);

  // Assert: every accepted batch finishes (polled through the batch list).
  let listed: any[] = [];
  const mine = new Set(ids);
  await waitFor(
    async () => {
      listed = await listBatches(api, CUSTOMER);
      return ids.every((id) => listed.some((b) => b.id === id && b.finished !== undefined));
    },
    {
      timeoutMs: 480_000,
      intervalMs: 500,
      description: () => {
        const open = listed
          .filter((b) => mine.has(b.id) && b.finished === undefined)
          .map((b) => ({ id: b.id, count: b.count, completed: b.completed, errors: b.errors }));
        return (
          `all ${ids.length} batches to finish (${listed.length} listed, unfinished ${JSON.stringify(open)}; ` +
          `statuses ${JSON.stringify(statuses)}; refused ${JSON.stringify(refused)})\n${evidence()}`
        );
      },
    },
  );
  const processedMs = Date.now() - started;
  Object.assign(summary, { finishedAfterMs: processedMs, membersPerSecond: Math.round((total * 1000) / processedMs) });
  const others = listed
    .filter((b) => !mine.has(b.id))
    .map((b) => ({ id: b.id, count: b.count, completed: b.completed, errors: b.errors, finished: b.finished ?? null }));
  summary.batchesOfRefusedRequests = others;

  // Every member of every accepted batch completed (read from the base table, batch by batch).
  const batches = await Promise.all(ids.map((id) => api.batch(CUSTOMER, id)));
  const seen = batches.map((b) => ({ id: b.id, count: b.count, completed: b.completed, errors: b.errors, finished: typeof b.finished }));
  expect(seen).toEqual(accepted.map((s, k) => ({ id: ids[k], count: s.count, completed: s.count, errors: 0, finished: 'string' })));

  // The customer's queue is empty.
  await waitFor(async () => (await api.customerQueue(CUSTOMER)).size === 0, {
    timeoutMs: 30_000,
    description: () =>
      `customer ${CUSTOMER} size 0 (refused ${JSON.stringify(refused)}; their batches ${JSON.stringify(others)})\n${evidence()}`,
  });
  expect(await api.customerQueue(CUSTOMER)).toMatchObject({ size: 0, imagesWaiting: 0, batchesWaiting: 0 });

  // No drift between the counters and the members.
  const { drift } = await reconcileTable();
  summary.drift = drift.length;
  if (drift.length > 0) throw new Error(`reconcile found drift:\n${formatDrift(drift)}\n${evidence()}`);

  // The strict layer intervened.
  const stats = runtime.strict!.stats();
  expect(stats.requests).toBeGreaterThan(0);
  expect(stats.randomThrottles).toBeGreaterThan(0);
  // Processors really contended: transactions met other in-flight transactions on the same items.
  expect(stats.transactionConflicts + stats.writeConflicts).toBeGreaterThan(0);

  // Every POST answered 201 (checked last, so that a refused submit still shows what became of the rest).
  if (refused.length > 0)
    throw new Error(`submits not accepted: ${JSON.stringify(refused, null, 1)}\nstatuses ${JSON.stringify(statuses)}\n${evidence()}`);
  expect(statuses).toEqual({ 201: all.length });
});
