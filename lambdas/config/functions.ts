/**
 * Every Lambda function, what feeds it and with what settings, in three tables read by the CDK
 * stack (functions, SQS event source mappings, EventBridge rules: lib/constructs/) and by the
 * local runtime (pollers, schedule timers and each invocation's timeout and memory: local/), so a
 * function runs with the same timeout and memory, fed the same way, on AWS and under `npm start`.
 *
 * - `FUNCTIONS`: each entry point's description, timeout, memory and the variables only it gets;
 * - `CONSUMERS`: which function consumes which queue or dead-letter queue, in batches of how many;
 * - `SCHEDULES`: which function runs every how many minutes (and the job's own parameters).
 *
 * The API functions are the `fn` of `ROUTES` (routes.ts); what each function may call is
 * `FUNCTION_GRANTS` (grants.ts). Plain data: nothing here may import aws-cdk-lib or the AWS SDK.
 */
import { API_TIMEOUT_SECONDS, DEFAULTS, ENV, type EnvName, QUEUES, type QueueName, type WorkQueueName } from './resources';
import type { ApiFunctionName } from './routes';

/** Every Lambda entry point (files `lambdas/handlers/<name>.ts` exporting `handler`). */
export type FunctionName =
  | ApiFunctionName
  | 'authorizer'
  | 'process-images'
  | 'run-tasks'
  | 'record-dead-letters'
  | 'sweep-enqueueing'
  | 'sample-load';

export interface FunctionDefinition {
  /** Construct id in the CDK stack (with the queue's `id` appended when `perQueue`). */
  id: string;
  /** What it does (the Lambda function's description). */
  description: string;
  /** Lambda timeout; the local runtime gives each invocation the same deadline. */
  timeoutSeconds: number;
  /** Lambda memory (MiB); the local runtime reports it in the context. */
  memoryMiB: number;
  /**
   * Emits custom metrics (lambdas/config/metrics.ts): the stack tags them with its own name
   * (`METRICS.serviceEnv`), the dimension its alarms read.
   */
  metrics?: true;
  /**
   * On AWS one function per queue it consumes (`ProcessMain`, `ProcessPriority`), each with its
   * own concurrency, error alarm and graphs, so a main backlog neither starves nor hides the
   * priority queue. Locally one handler serves both queues.
   */
  perQueue?: true;
  /**
   * Variables the stack sets on this function alone (besides the limits every function gets and
   * the resource names its grants bring). The local runtime runs every handler in one process and
   * does not set them: each has its default in `DEFAULTS`, or is deliberately different locally.
   */
  environment?: Partial<Record<EnvName, string>>;
  /**
   * Built files the function serves, copied into its bundle: `from` (relative to the repository
   * root) becomes the folder `to` beside the handler. Locally the handler reads `from` directly.
   */
  bundleFiles?: { from: string; to: string };
}

/** An API function: API Gateway gives up after API_TIMEOUT_SECONDS, so the function does too. */
const api = (id: string, description: string): FunctionDefinition => ({
  id,
  description,
  timeoutSeconds: API_TIMEOUT_SECONDS,
  // Submit parses and writes batches of up to MAX_BATCH_SIZE members; the others share the size.
  memoryMiB: 1024,
});

export const FUNCTIONS: Record<FunctionName, FunctionDefinition> = {
  'api-read': api('ApiRead', "Serves the GET routes: queues, batches, images, the caller's key and the API description"),
  'api-submit': api('ApiSubmit', 'Creates batches and enqueues their members (POST …/queue, …/queue/priority)'),
  'api-test-batch': api('ApiTestBatch', 'Re-evaluates a batch: superseded and finished (POST …/test)'),
  'api-batch-actions': api('ApiBatchActions', 'Cancels a batch or retries its failed images'),
  'api-keys': api('ApiKeys', "Creates, lists and revokes a customer's API keys"),
  'api-operator': api('ApiOperator', 'Serves the queue load and status for operators'),
  'api-console': {
    ...api('ApiConsole', 'Serves the browser console: its page and assets (static files)'),
    // Reads a few small files once per container.
    memoryMiB: 256,
    bundleFiles: { from: 'console/dist', to: 'console' },
  },
  authorizer: {
    id: 'Authorizer',
    description: 'Checks the credentials of every keyed request (API Gateway TOKEN authorizer)',
    // One GetItem and at most one scrypt per request; API Gateway waits for it before the route.
    timeoutSeconds: 10,
    memoryMiB: 512,
    environment: { [ENV.authCacheSeconds]: String(DEFAULTS.authCacheSeconds) },
  },
  'process-images': {
    id: 'Process',
    description: 'Ingests the images of a work queue: fetches each origin and records the outcome',
    // Ten origins fetched at once, each bounded by ORIGIN_TIMEOUT_MS (10 s by default).
    timeoutSeconds: 60,
    memoryMiB: 512,
    metrics: true,
    perQueue: true,
    // It fetches untrusted URLs: never loopback, private or metadata addresses on AWS (the local
    // runtime sets `true` so that tests can use local origins).
    environment: { [ENV.allowPrivateOrigins]: 'false' },
  },
  'run-tasks': {
    id: 'RunTasks',
    description: "Runs the tasks queue's supersede checks",
    timeoutSeconds: 60,
    memoryMiB: 256,
  },
  'record-dead-letters': {
    id: 'RecordDeadLetters',
    description: 'Records messages that reached a dead-letter queue as errors, so their batches finish',
    timeoutSeconds: 30,
    memoryMiB: 256,
    metrics: true,
  },
  'sweep-enqueueing': {
    id: 'SweepEnqueueing',
    description: 'Re-sends messages of batches whose submit stopped before enqueueing every member',
    timeoutSeconds: 60,
    memoryMiB: 512,
  },
  'sample-load': {
    id: 'SampleLoad',
    description: 'Records one load sample per customer and queue',
    timeoutSeconds: 60,
    memoryMiB: 256,
  },
};

export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];

/** A queue an event source reads: a work queue, or the dead-letter queue of a member queue. */
export type EventSourceName = WorkQueueName | `${QueueName}-dlq`;

export interface ConsumerDefinition {
  /** The function Lambda invokes with the queue's messages. */
  fn: FunctionName;
  /** The work queue whose messages these are (of a dead-letter queue: the queue that gave up on them). */
  queue: WorkQueueName;
  /** The queue's dead-letter queue rather than the queue itself. */
  deadLetters?: true;
  /** Records per invocation (at most 10 for SQS without a batching window). */
  batchSize: number;
  /**
   * Concurrent invocations for this source (2–1000; the local runtime runs at most 4 poll loops).
   * Undefined: no cap (locally one poll loop).
   */
  maxConcurrency?: number;
}

/**
 * Which function consumes which queue. The main queue's processor is capped by `maxConcurrency`
 * so that a backlog there can never take the capacity the priority queue needs. Only the member
 * dead-letter queues have a consumer (the recorder turns each dead letter into an error so its
 * batch finishes); the tasks dead-letter queue has none on purpose: a task that kept failing stays
 * there for a person to inspect and redrive, and its alarm fires.
 */
export const CONSUMERS: Record<EventSourceName, ConsumerDefinition> = {
  main: { fn: 'process-images', queue: 'main', batchSize: 10, maxConcurrency: 20 },
  priority: { fn: 'process-images', queue: 'priority', batchSize: 10, maxConcurrency: 10 },
  tasks: { fn: 'run-tasks', queue: 'tasks', batchSize: 10, maxConcurrency: 5 },
  'main-dlq': { fn: 'record-dead-letters', queue: 'main', deadLetters: true, batchSize: 10 },
  'priority-dlq': { fn: 'record-dead-letters', queue: 'priority', deadLetters: true, batchSize: 10 },
};

export const EVENT_SOURCES = Object.keys(CONSUMERS) as EventSourceName[];

/** The event sources a function consumes (none for the API functions and the scheduled jobs). */
export function sourcesOf(fn: FunctionName): EventSourceName[] {
  return EVENT_SOURCES.filter((source) => CONSUMERS[source].fn === fn);
}

/** The variable holding an event source's queue URL (e.g. MAIN_QUEUE_URL, MAIN_DLQ_URL). */
export function urlEnvOf(source: EventSourceName): EnvName {
  const { queue, deadLetters } = CONSUMERS[source];
  return deadLetters ? QUEUES[queue].deadLetterUrlEnv : QUEUES[queue].urlEnv;
}

/**
 * Receives after which SQS moves a message from the source's work queue to its dead-letter queue
 * (for a dead-letter queue: how many times its messages had failed).
 */
export function maxReceiveCountOf(source: EventSourceName): number {
  return QUEUES[CONSUMERS[source].queue].maxReceiveCount;
}

/**
 * Visibility timeout of the member dead-letter queues: 6 × the recorder's timeout, AWS's guidance
 * for a queue consumed by Lambda (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
 */
export const DEAD_LETTER_VISIBILITY_TIMEOUT_SECONDS = 6 * FUNCTIONS['record-dead-letters'].timeoutSeconds;

/** Scheduled jobs (EventBridge rules on AWS, timers in the local runtime). */
export const SCHEDULES = {
  /** Re-sends messages of batches whose submit handler died before enqueueing every member. */
  sweepEnqueueing: { fn: 'sweep-enqueueing', everyMinutes: 1, staleAfterSeconds: 120 },
  /** Records one load sample per customer and queue. */
  sampleLoad: { fn: 'sample-load', everyMinutes: 1, retentionDays: 35 },
} as const satisfies Record<string, { fn: FunctionName; everyMinutes: number } & Record<string, unknown>>;

/**
 * How long after submission a retried POST may finish a batch's enqueueing itself (domain/submit.ts):
 * the sweeper starts on batches older than its staleness, and a replay can run for the API timeout.
 */
export const REPLAY_WINDOW_SECONDS = SCHEDULES.sweepEnqueueing.staleAfterSeconds - API_TIMEOUT_SECONDS - 1;

export type ScheduleName = keyof typeof SCHEDULES;
export const SCHEDULE_NAMES = Object.keys(SCHEDULES) as ScheduleName[];
