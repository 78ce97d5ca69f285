/**
 * Scenario 2 — processing: one batch of n members with local PNG origins, submitted while the
 * pollers are paused, then processed by the real consumers (main queue poll loops as configured in
 * the harness, supersede tasks included) until GET batch shows it finished. Counts what processing
 * costs per member and compares its speed with the emulator's 2-item transaction rate, measured in
 * the same run just before.
 */
import { performance } from 'node:perf_hooks';
import { assets, type BatchBody, collectionBody, type HandlerTime, type Harness, type PollerRequests } from '../harness';
import { type CountSnapshot, type Totals, totalsOf } from '../sdk-counters';
import { measureTransactionRate, type TransactionRateResult } from './transaction-rate';

export const PROCESSING_TAGS = ['process-images:main', 'run-tasks'];

export interface ProcessingResult<T = unknown> {
  members: number;
  completed: number;
  errors: number;
  elapsedMs: number;
  membersPerSecond: number;
  mainPollers: number;
  dynamodb: Totals;
  sqsHandler: Totals;
  pollers: Partial<Record<string, PollerRequests>>;
  /** Per member, over the processors and the supersede tasks. */
  perMember: {
    writeUnits: number;
    readUnits: number;
    dynamoCalls: number;
    /** SQS requests: the handlers' own plus the event source's ReceiveMessage / DeleteMessageBatch. */
    sqsRequests: number;
    lambdaInvocations: number;
    /** Handler time (ms) per member, per function. */
    handlerMs: Record<string, number>;
  };
  handlerTimes: Record<string, HandlerTime>;
  transactionRate: TransactionRateResult;
  /** members/s ÷ 2-item transactions/s. */
  overTransactionRate: number;
  counts: CountSnapshot;
  /** What `options.during` returned. */
  during?: T;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ProcessingOptions<T> {
  mainPollers: number;
  transactionSeconds?: number;
  /**
   * Runs once processing is under way, concurrently with it (the priority probes). Its own SDK calls
   * are tagged with other handlers (`process-images:priority`, `api-*`) and excluded from the
   * figures here; it shares the CPU, so it should be short next to the whole run.
   */
  during?: (backlog: { customer: number; batch: number }) => Promise<T>;
}

export async function runProcessingScenario<T = unknown>(
  h: Harness,
  n: number,
  customer: number,
  options: ProcessingOptions<T>,
): Promise<ProcessingResult<T>> {
  await h.quiesce();
  await h.purge('main', 'priority', 'tasks');
  const transactionRate = await measureTransactionRate(h.runtime.dynamoEndpoint, h.runtime.env.TABLE_NAME as string, h.runtime, {
    durationMs: (options.transactionSeconds ?? 3) * 1000,
  });

  const posted = await h.post<BatchBody>(`/customers/${customer}/queue`, collectionBody(assets(n, `p${n}`, h.originUrl())));
  if (posted.status !== 201) throw new Error(`processing submit answered ${posted.status}: ${JSON.stringify(posted.json).slice(0, 500)}`);
  const batch = Number(posted.json.id);

  h.resetCounts();
  const started = performance.now();
  h.resume();
  let during: T | undefined;
  let duringError: unknown;
  const concurrent = options.during
    ? (async () => {
        while (h.runtime.pollers!.inFlight('main') === 0 && performance.now() - started < 5_000) await sleep(10);
        during = await options.during!({ customer, batch });
      })().catch((error: unknown) => {
        duringError = error ?? new Error('the concurrent probe failed');
      })
    : Promise.resolve();
  const finished = await h.waitForBatch(customer, batch, { intervalMs: n > 1000 ? 100 : 25, timeoutMs: 1_800_000 });
  const elapsedMs = performance.now() - started;
  await concurrent;
  if (duringError !== undefined) throw duringError;
  // The supersede tasks may still be running: they are part of what processing costs.
  while ((await h.depth('tasks')) > 0 || h.runtime.pollers!.inFlight() > 0) await sleep(50);
  await h.quiesce();

  const counts = h.counters.snapshot();
  const dynamodb = totalsOf(counts, 'dynamodb', PROCESSING_TAGS);
  const sqsHandler = totalsOf(counts, 'sqs', PROCESSING_TAGS);
  const pollers = h.pollerRequests();
  const work = [pollers.main, pollers.tasks].filter((p): p is PollerRequests => p !== undefined);
  const pollerSqs = work.reduce((a, p) => a + p.receiveCalls + p.deleteCalls, 0);
  const handlerTimes = h.handlerTimes();
  const membersPerSecond = (n / elapsedMs) * 1000;
  return {
    members: n,
    completed: Number(finished.completed),
    errors: Number(finished.errors),
    elapsedMs,
    membersPerSecond,
    mainPollers: options.mainPollers,
    dynamodb,
    sqsHandler,
    pollers,
    perMember: {
      writeUnits: dynamodb.writeUnits / n,
      readUnits: dynamodb.readUnits / n,
      dynamoCalls: dynamodb.calls / n,
      sqsRequests: (sqsHandler.calls + pollerSqs) / n,
      lambdaInvocations: work.reduce((a, p) => a + p.invocations, 0) / n,
      handlerMs: Object.fromEntries(PROCESSING_TAGS.map((t) => [t, (handlerTimes[t]?.ms ?? 0) / n])),
    },
    handlerTimes,
    transactionRate,
    overTransactionRate: membersPerSecond / transactionRate.perSecond,
    counts,
    ...(during !== undefined ? { during } : {}),
  };
}
