/**
 * What every scenario needs: the local runtime with each real handler wrapped (so its SDK calls are
 * tagged with the handler's name and its invocation time is measured), local PNG origins, the SDK
 * call counters, the event-source pollers' own SQS requests, and small HTTP helpers.
 */
import { performance } from 'node:perf_hooks';
import { GetQueueAttributesCommand, PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { FUNCTION_NAMES, type FunctionName } from '../lambdas/config/functions';
import { QUEUES, type WorkQueueName } from '../lambdas/config/resources';
import type { AssetInput } from '../lambdas/domain/model';
import { createHandlerLoader, type HandlerRegistry, type RuntimeLogger, silentLogger } from '../local/handlers';
import type { InvocationOutcome, PollerName } from '../local/pollers';
import { DEFAULT_ADMIN_KEY, DEFAULT_ADMIN_SECRET, type LocalRuntime, startLocalRuntime } from '../local/runtime';
import type { StrictDynamoOptions } from '../local/strict-dynamodb';
import { type OriginServer, startOriginServer } from '../test/support/origin-server';
import { PartitionWrites } from './partition-writes';
import { SdkCounters, withTag } from './sdk-counters';

/** Every function (FUNCTIONS in lambdas/config/functions.ts). */
export const HANDLER_NAMES: readonly FunctionName[] = FUNCTION_NAMES;

/** Time spent inside each handler (what Lambda would bill, as measured here). */
export interface HandlerTime {
  invocations: number;
  ms: number;
}

/**
 * SQS requests the event-source emulation makes on the handlers' behalf (on AWS the event source
 * mapping's ReceiveMessage / DeleteMessageBatch are billed to the account). Inferred from the
 * pollers' code: one ReceiveMessage per invocation, ⌈deleted/10⌉ DeleteMessageBatch. Empty long
 * polls are not counted (they depend on idle time, not on load).
 */
export interface PollerRequests {
  invocations: number;
  records: number;
  receiveCalls: number;
  deleteCalls: number;
}

export interface HarnessOptions {
  /** Concurrent poll loops for the main queue (default 8). */
  mainPollers?: number;
  priorityPollers?: number;
  tasksPollers?: number;
  /** Strict DynamoDB mode's options (false: off); default as the local runtime decides (STRICT_DYNAMODB, on). */
  strict?: StrictDynamoOptions | false;
  logger?: RuntimeLogger;
}

/** An API answer: its status, its body (parsed JSON, or the text when it is not JSON) and the request's wall time. */
export interface Answer<T = unknown> {
  status: number;
  json: T;
  ms: number;
}

/** The fields of a batch resource (GET /customers/{c}/queue/batches/{b}) the scenarios read. */
export interface BatchBody {
  id: number;
  count: number;
  completed: number;
  errors: number;
  finished?: string;
}

export interface Harness {
  runtime: LocalRuntime;
  origin: OriginServer;
  counters: SdkCounters;
  /** Write units per partition key (bench/partition-writes.ts). */
  partitions: PartitionWrites;
  handlerTimes(): Record<string, HandlerTime>;
  pollerRequests(): Record<PollerName, PollerRequests>;
  /** Zeroes the SDK counters, the partition writes, the handler times and the poller requests. */
  resetCounts(): void;
  /** Pauses every poller and waits until no long poll or invocation is still under way. */
  quiesce(): Promise<void>;
  resume(name?: PollerName): void;
  pause(name?: PollerName): Promise<void>;
  purge(...queues: WorkQueueName[]): Promise<void>;
  depth(queue: WorkQueueName): Promise<number>;
  /** A PNG origin served locally. */
  originUrl(): string;
  /**
   * `T` is the body the caller expects of a successful answer. It is not checked: the caller looks at
   * the status first (an error answer carries the error body).
   */
  post<T = unknown>(path: string, body: string): Promise<Answer<T>>;
  get<T = unknown>(path: string): Promise<Answer<T>>;
  /** Polls GET batch until it has `finished`; returns the batch resource. */
  waitForBatch(customer: number, batch: number, options?: { intervalMs?: number; timeoutMs?: number }): Promise<BatchBody>;
  stop(): Promise<void>;
}

const AUTH = `Basic ${Buffer.from(`${DEFAULT_ADMIN_KEY}:${DEFAULT_ADMIN_SECRET}`).toString('base64')}`;
/** Long-poll wait of the pollers (local/pollers.ts default) plus a margin. */
const LONG_POLL_MS = 1_200;

/**
 * The tag of an invocation: the handler's name, and for the image processor also the queue it
 * consumes (`process-images:main`, `process-images:priority`), read from the records' source ARN.
 */
export function tagFor(name: FunctionName, event: unknown): string {
  if (name !== 'process-images') return name;
  const arn = (event as { Records?: { eventSourceARN?: string }[] })?.Records?.[0]?.eventSourceARN ?? '';
  const queueName = arn.split(':').pop() ?? '';
  return queueName.endsWith(`-${QUEUES.priority.id}`) ? `${name}:priority` : `${name}:main`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function emptyPollerRequests(): PollerRequests {
  return { invocations: 0, records: 0, receiveCalls: 0, deleteCalls: 0 };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const counters = new SdkCounters();
  counters.install();
  const partitions = new PartitionWrites();
  partitions.install();
  const times = new Map<string, HandlerTime>();
  const pollerCounts = new Map<PollerName, PollerRequests>();

  // Every handler is the real one, run inside a tag so its SDK calls are attributed to it.
  const realHandlers = createHandlerLoader();
  const registry: HandlerRegistry = {};
  for (const name of HANDLER_NAMES) {
    registry[name] = async (event, context) => {
      const handler = await realHandlers(name);
      const started = performance.now();
      const tag = tagFor(name, event);
      try {
        return await withTag(tag, () => handler(event, context));
      } finally {
        const t = times.get(tag) ?? { invocations: 0, ms: 0 };
        t.invocations += 1;
        t.ms += performance.now() - started;
        times.set(tag, t);
      }
    };
  }

  const onAfterInvoke = (outcome: InvocationOutcome) => {
    const p = pollerCounts.get(outcome.poller) ?? emptyPollerRequests();
    p.invocations += 1;
    p.records += outcome.event.Records.length;
    p.receiveCalls += 1;
    p.deleteCalls += Math.ceil(outcome.deleted.length / 10);
    pollerCounts.set(outcome.poller, p);
  };

  const origin = await startOriginServer();
  let runtime: LocalRuntime;
  try {
    runtime = await startLocalRuntime({
      port: 0,
      handlers: registry,
      schedules: false,
      // The benchmark measures the service, not the per-key limits a customer would meet.
      usageLimits: false,
      logger: options.logger ?? silentLogger,
      pollerConcurrency: {
        main: options.mainPollers ?? 8,
        priority: options.priorityPollers ?? 4,
        tasks: options.tasksPollers ?? 2,
      },
      pollerHooks: { onAfterInvoke },
      ...(options.strict !== undefined ? { strict: options.strict } : {}),
      env: {
        // Processing measures the common path: no "running" marks for fast local origins.
        MARK_RUNNING_AFTER_MS: '600000',
      },
    });
  } catch (error) {
    await origin.close();
    counters.dispose();
    partitions.dispose();
    throw error;
  }
  const pollers = runtime.pollers!;
  const queueUrl = (queue: WorkQueueName) => runtime.env[QUEUES[queue].urlEnv] as string;

  async function request<T>(method: 'GET' | 'POST', path: string, body?: string): Promise<Answer<T>> {
    const started = performance.now();
    const response = await fetch(`${runtime.apiUrl}${path}`, {
      method,
      headers: { Authorization: AUTH, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body,
    });
    const text = await response.text();
    const ms = performance.now() - started;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: response.status, json: json as T, ms };
  }

  async function waitIdle(name?: PollerName) {
    await sleep(LONG_POLL_MS);
    while (pollers.inFlight(name) > 0) await sleep(20);
  }

  return {
    runtime,
    origin,
    counters,
    partitions,
    handlerTimes: () => Object.fromEntries([...times].map(([k, v]) => [k, { ...v }])),
    pollerRequests: () => {
      const out = {} as Record<PollerName, PollerRequests>;
      for (const [k, v] of pollerCounts) out[k] = { ...v };
      return out;
    },
    resetCounts() {
      counters.reset();
      partitions.reset();
      times.clear();
      pollerCounts.clear();
    },
    async quiesce() {
      pollers.pause();
      await waitIdle();
    },
    resume: (name) => pollers.resume(name),
    async pause(name) {
      pollers.pause(name);
      await waitIdle(name);
    },
    async purge(...queues) {
      for (const q of queues) await runtime.sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl(q) }));
    },
    async depth(queue) {
      const { Attributes = {} } = await runtime.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl(queue),
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
    },
    originUrl: () => `${origin.url}/png/10x10.png`,
    post: (path, body) => request('POST', path, body),
    get: (path) => request('GET', path),
    async waitForBatch(customer, batch, { intervalMs = 50, timeoutMs = 300_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { status, json } = await request<BatchBody>('GET', `/customers/${customer}/queue/batches/${batch}`);
        if (status !== 200) throw new Error(`GET batch ${customer}/${batch} answered ${status}: ${JSON.stringify(json)}`);
        if (json.finished) return json;
        if (Date.now() > deadline) throw new Error(`batch ${customer}/${batch} did not finish in ${timeoutMs} ms: ${JSON.stringify(json)}`);
        await sleep(intervalMs);
      }
    },
    async stop() {
      try {
        await runtime.stop();
      } finally {
        await origin.close();
        counters.dispose();
        partitions.dispose();
      }
    },
  };
}

/** A realistic member: id, space, origin, media type, family, a reference string, a number, a tag. */
export function assets(n: number, prefix: string, origin: string): AssetInput[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(6, '0')}`,
    space: 1,
    origin,
    mediaType: 'image/png',
    family: 'I',
    string1: `reference-${i}`,
    number1: i,
    tags: ['bench'],
  }));
}

export function collectionBody(members: unknown[]): string {
  return JSON.stringify({ '@context': 'http://www.w3.org/ns/hydra/context.jsonld', '@type': 'Collection', member: members });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function stats(values: readonly number[]) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), samples: [...values] };
}
export type Stats = ReturnType<typeof stats>;
