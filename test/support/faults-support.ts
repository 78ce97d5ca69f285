/**
 * Helpers shared by the fault-injection suites (test/integration/faults-*.test.ts): queue depths
 * and draining, the sweeper invoked with an event, the end-of-scenario checks (every batch
 * finished, exact counters, customer size 0, zero drift) and the expected `superseded` flags.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { reconcileTable } from '../../lambdas/adapters/reconcile-store';
import { QUEUES, type WorkQueueName } from '../../lambdas/config/resources';
import { type Drift, formatDrift } from '../../lambdas/domain/reconcile';
import { fakeContext } from '../../local/handlers';
import { DLQ_URL_ENV } from '../../local/provision';
import type { LocalRuntime } from '../../local/runtime';
import { type QueueClient, waitFor } from './queue-client';

export type QueueKey = WorkQueueName | `${WorkQueueName}-dlq`;
const ALL_QUEUES: QueueKey[] = ['main', 'priority', 'tasks', 'main-dlq', 'priority-dlq', 'tasks-dlq'];

function urlOf(runtime: LocalRuntime, q: QueueKey): string {
  const url = q.endsWith('-dlq')
    ? runtime.env[DLQ_URL_ENV[q.slice(0, -4) as WorkQueueName]]
    : runtime.env[QUEUES[q as WorkQueueName].urlEnv];
  if (!url) throw new Error(`no URL for queue ${q}`);
  return url;
}

/** Messages on each queue: visible + in flight + delayed. */
export async function queueDepths(runtime: LocalRuntime): Promise<Record<QueueKey, number>> {
  const entries = await Promise.all(
    ALL_QUEUES.map(async (q) => {
      const { Attributes = {} } = await runtime.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: urlOf(runtime, q),
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      );
      const n =
        Number(Attributes.ApproximateNumberOfMessages ?? 0) +
        Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
        Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0);
      return [q, n] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<QueueKey, number>;
}

export function queueUrl(runtime: LocalRuntime, q: QueueKey): string {
  return urlOf(runtime, q);
}

/** Waits until every queue (work queues and DLQs) is empty and no invocation is running. */
export async function waitForDrain(runtime: LocalRuntime, timeoutMs = 60_000): Promise<void> {
  let last: Record<QueueKey, number> | undefined;
  await waitFor(
    async () => {
      last = await queueDepths(runtime);
      return Object.values(last).every((n) => n === 0) && (runtime.pollers?.inFlight() ?? 0) === 0;
    },
    {
      timeoutMs,
      intervalMs: 200,
      description: () => `queues to drain (${JSON.stringify(last)}, in flight ${runtime.pollers?.inFlight()})`,
    },
  );
}

/** Invokes sweep-enqueueing directly with `{ staleAfterSeconds }` (runNow sends a plain scheduled event). */
export async function runSweeper(runtime: LocalRuntime, staleAfterSeconds = 0): Promise<{ resumed: number }> {
  const handler = await runtime.loadHandler('sweep-enqueueing');
  return (await handler({ staleAfterSeconds }, fakeContext('image-queue-sweep-enqueueing', 300))) as { resumed: number };
}

/** Every batch of a customer (all pages), newest first. */
export async function listBatches(api: QueueClient, customer: number): Promise<any[]> {
  return api.allMembers(`/customers/${customer}/queue/batches?pageSize=500`);
}

/** Reconcile (from the test process: the handlers' environment is process.env while the runtime runs). */
export async function drift(): Promise<Drift[]> {
  return (await reconcileTable()).drift;
}

/**
 * No drift, read again for a few seconds when some shows: reconcile scans the table page by page, so
 * a write still landing (a finish or notice of the last delivery) can show as drift for a moment,
 * while a wrong counter stays wrong (nothing but `reconcile --fix` rewrites counters).
 */
export async function expectNoDrift(): Promise<void> {
  let found: Drift[] = [];
  await waitFor(
    async () => {
      found = await drift();
      return found.length === 0;
    },
    {
      timeoutMs: 15_000,
      intervalMs: 500,
      description: () => `no drift; reconcile still finds:\n${formatDrift(found)}`,
    },
  );
}

export interface ExpectedBatch {
  id: number;
  count: number;
  completed: number;
  errors: number;
}

/**
 * The end of every scenario: each batch finished with exactly the expected counters, the
 * customer's queue empty, and zero drift.
 */
export async function expectSettled(
  api: QueueClient,
  customer: number,
  expected: readonly ExpectedBatch[],
  timeoutMs = 60_000,
  options: { checkBatchesWaiting?: boolean } = {},
): Promise<any[]> {
  const batches = await api.waitForFinished(
    customer,
    expected.map((e) => e.id),
    timeoutMs,
  );
  const seen = batches.map((b) => ({ id: b.id, count: b.count, completed: b.completed, errors: b.errors }));
  expect(seen).toEqual(expected.map((e) => ({ id: e.id, count: e.count, completed: e.completed, errors: e.errors })));
  await waitFor(async () => (await api.customerQueue(customer)).size === 0, {
    timeoutMs: 10_000,
    description: `customer ${customer} size 0`,
  });
  expect(await api.customerQueue(customer)).toMatchObject({
    size: 0,
    imagesWaiting: 0,
    ...(options.checkBatchesWaiting === false ? {} : { batchesWaiting: 0 }),
  });
  await expectNoDrift();
  return batches;
}

/** A batch is superseded when every one of its assets appears in a later batch (higher id). */
export function expectedSuperseded(assetsByBatch: ReadonlyMap<number, readonly string[]>): Map<number, boolean> {
  const newest = new Map<string, number>();
  for (const [batch, assets] of assetsByBatch) for (const a of assets) newest.set(a, Math.max(newest.get(a) ?? 0, batch));
  const out = new Map<number, boolean>();
  for (const [batch, assets] of assetsByBatch) out.set(batch, assets.length > 0 && assets.every((a) => (newest.get(a) ?? 0) > batch));
  return out;
}

/** Deterministic PRNG (mulberry32) so a failing run can be repeated. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** `{id, space, origin}` members served by the origin server's png route. */
export function pngMember(originUrl: string, id: string, n: number, space = 1) {
  return { id, space, origin: `${originUrl}/png/${8 + (n % 17)}x${8 + (n % 13)}.png` };
}
