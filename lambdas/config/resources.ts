/**
 * The one source of truth for everything both the CDK stack and the local runtime need:
 * environment variable names, the table's keys and indexes, queue settings and limits.
 * Nothing here may import from aws-cdk-lib or the AWS SDK: it is plain data.
 */

/** Environment variable names read by the Lambda handlers (set by the stack and the local runtime). */
export const ENV = {
  tableName: 'TABLE_NAME',
  mainQueueUrl: 'MAIN_QUEUE_URL',
  priorityQueueUrl: 'PRIORITY_QUEUE_URL',
  tasksQueueUrl: 'TASKS_QUEUE_URL',
  /** Largest number of members one POST may carry. */
  maxBatchSize: 'MAX_BATCH_SIZE',
  /** Largest `size` a customer's queue may reach before submits answer 503. */
  maxQueueSize: 'MAX_QUEUE_SIZE',
  /** Largest request body in bytes (413 above it). */
  maxBodyBytes: 'MAX_BODY_BYTES',
  /** `true` lets processors fetch loopback/private origins (the local runtime sets it). */
  allowPrivateOrigins: 'ALLOW_PRIVATE_ORIGINS',
  originTimeoutMs: 'ORIGIN_TIMEOUT_MS',
  originMaxBytes: 'ORIGIN_MAX_BYTES',
  /** Members still being ingested after this long are recorded as running (in progress). */
  markRunningAfterMs: 'MARK_RUNNING_AFTER_MS',
  /** Name of the Secrets Manager secret holding the admin credential (AWS). */
  adminSecretName: 'ADMIN_SECRET_NAME',
  /** Admin credential given directly (local runtime). */
  adminKey: 'ADMIN_KEY',
  adminSecret: 'ADMIN_SECRET',
  /** Standard AWS SDK endpoint override (also what LocalStack uses). */
  endpointUrl: 'AWS_ENDPOINT_URL',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** Defaults applied when an environment variable is absent. */
export const DEFAULTS = {
  maxBatchSize: 10_000,
  maxQueueSize: 1_000_000,
  // The body travels JSON-escaped inside the Lambda event, whose limit is 6 MB: quotes double in
  // size, so 4.5 MiB of JSON stays inside it (≈ 25,000 typical members, above maxBatchSize).
  maxBodyBytes: 4.5 * 1024 * 1024,
  originTimeoutMs: 10_000,
  originMaxBytes: 25 * 1024 * 1024,
  markRunningAfterMs: 1_000,
  pageSize: 100,
  maxPageSize: 500,
} as const;

export interface IndexDefinition {
  name: string;
  partitionKey: string;
  sortKey: string;
}

/**
 * Single-table design. Every index projects KEYS_ONLY so that counter updates on batches and
 * state changes on members never cost index writes; readers fetch the items by key.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
  indexes: {
    /** Batches: open (per queue, by submission) then finished (by finish time). */
    gsi1: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    /** Batches that are active (started, not finished). */
    gsi2: { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
    /** Housekeeping lists: batches still enqueueing, the customers. */
    gsi3: { name: 'gsi3', partitionKey: 'gsi3pk', sortKey: 'gsi3sk' },
    /** Members by asset, newest batch last: the current member of an asset and supersession. */
    gsi4: { name: 'gsi4', partitionKey: 'gsi4pk', sortKey: 'gsi4sk' },
  },
} as const satisfies {
  partitionKey: string;
  sortKey: string;
  ttlAttribute: string;
  indexes: Record<string, IndexDefinition>;
};

export type QueueName = 'main' | 'priority';
export type WorkQueueName = QueueName | 'tasks';

export interface QueueDefinition {
  /** Construct id in CDK and queue name suffix locally. */
  id: string;
  /** Environment variable holding the queue URL. */
  urlEnv: EnvName;
  /** Processor Lambda timeout. */
  processorTimeoutSeconds: number;
  /** ≥ 6 × processor timeout (AWS guidance for Lambda event sources). */
  visibilityTimeoutSeconds: number;
  /** Receives before a message goes to the dead-letter queue. */
  maxReceiveCount: number;
  /** Records per Lambda invocation. */
  batchSize: number;
  /** Concurrent Lambda invocations for this event source (2–1000). */
  maxConcurrency: number;
  /** Processor memory in MB. */
  memoryMiB: number;
}

/**
 * The work queues. The main queue's processor is capped by `maxConcurrency` so that a backlog there
 * can never take the capacity the priority queue needs; the priority queue gets its own processor.
 */
export const QUEUES: Record<WorkQueueName, QueueDefinition> = {
  main: {
    id: 'Main',
    urlEnv: ENV.mainQueueUrl,
    processorTimeoutSeconds: 60,
    visibilityTimeoutSeconds: 360,
    maxReceiveCount: 4,
    batchSize: 10,
    maxConcurrency: 20,
    memoryMiB: 512,
  },
  priority: {
    id: 'Priority',
    urlEnv: ENV.priorityQueueUrl,
    processorTimeoutSeconds: 60,
    visibilityTimeoutSeconds: 360,
    maxReceiveCount: 4,
    batchSize: 10,
    maxConcurrency: 10,
    memoryMiB: 512,
  },
  tasks: {
    id: 'Tasks',
    urlEnv: ENV.tasksQueueUrl,
    processorTimeoutSeconds: 60,
    visibilityTimeoutSeconds: 360,
    maxReceiveCount: 5,
    batchSize: 10,
    maxConcurrency: 5,
    memoryMiB: 256,
  },
};

/**
 * Supersede tasks wait this long on the tasks queue before they run. They find an asset's members
 * through a global secondary index, which AWS updates a moment after a write: delayed well past
 * that lag, the tasks of two batches sharing an asset both run after both batches' members are
 * written, so whichever runs second sees the other's (the asset index is read once per member).
 */
export const SUPERSEDE_TASK_DELAY_SECONDS = 5;

/** Dead-letter messages are kept for the SQS maximum so an operator can inspect them. */
export const DEAD_LETTER_RETENTION_DAYS = 14;

/** API Gateway's integration timeout, and so the longest an API handler can run. */
export const API_TIMEOUT_SECONDS = 29;

/** Scheduled jobs (EventBridge on AWS, timers in the local runtime). */
export const SCHEDULES = {
  /** Re-sends messages of batches whose submit handler died before enqueueing every member. */
  sweepEnqueueing: { everyMinutes: 1, staleAfterSeconds: 120 },
  /** Records one load sample per customer and queue. */
  sampleLoad: { everyMinutes: 1, retentionDays: 35 },
} as const;
