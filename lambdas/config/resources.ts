/**
 * The one source of truth for everything both the CDK stack and the local runtime need:
 * environment variable names, the table's keys and indexes, queue settings and limits. Which
 * function consumes which queue, with what timeout and memory, and the schedules: functions.ts.
 * Nothing here may import from aws-cdk-lib or the AWS SDK: it is plain data.
 */

/** Environment variable names read by the Lambda handlers (set by the stack and the local runtime). */
export const ENV = {
  tableName: 'TABLE_NAME',
  /** The table of API keys (credentials), apart so that only the functions that need it can reach it. */
  credentialsTableName: 'CREDENTIALS_TABLE_NAME',
  mainQueueUrl: 'MAIN_QUEUE_URL',
  priorityQueueUrl: 'PRIORITY_QUEUE_URL',
  tasksQueueUrl: 'TASKS_QUEUE_URL',
  /**
   * Dead-letter queue URLs, given to the function consuming each (how it tells which queue a
   * record came from); the local runtime sets all three.
   */
  mainDeadLetterQueueUrl: 'MAIN_DLQ_URL',
  priorityDeadLetterQueueUrl: 'PRIORITY_DLQ_URL',
  tasksDeadLetterQueueUrl: 'TASKS_DLQ_URL',
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
  /**
   * Name of the API Gateway usage plan every new customer key joins (AWS; absent locally). A name,
   * not the id: the id would make the key function depend on the API's deployment, which
   * depends on the function.
   */
  usagePlanName: 'USAGE_PLAN_NAME',
  /** Value of the admin key's API Gateway API key, which the authorizer names as its usage identifier. */
  adminUsageKey: 'ADMIN_USAGE_KEY',
  /**
   * Seconds the public `GET /queue` reuses its queue depths within a container, so anonymous
   * callers cannot turn requests into SQS calls (default 3; 0 turns the cache off).
   */
  queueCountsCacheSeconds: 'QUEUE_COUNTS_CACHE_SECONDS',
  /**
   * Seconds the authorizer remembers, per container, that a header's secret matched a stored hash,
   * so scrypt runs once per container (default 300; 0 verifies every time). The key item is read
   * on every request whatever this says, so revocation is immediate.
   */
  authCacheSeconds: 'AUTH_CACHE_SECONDS',
  /**
   * Seconds before a member is tried again after a transient origin failure (refused, timed out,
   * 5xx); each further failure triples the delay, up to TRANSIENT_RETRY_MAX_SECONDS.
   */
  transientRetrySeconds: 'TRANSIENT_RETRY_SECONDS',
  transientRetryMaxSeconds: 'TRANSIENT_RETRY_MAX_SECONDS',
  /** SNS topic receiving one completion notice per finished batch (unset: notices are not sent). */
  noticesTopicArn: 'NOTICES_TOPIC_ARN',
  /**
   * The API's root URL as clients see it (with the stage), for links in messages sent outside a
   * request (completion notices). API handlers use the request's own URL.
   */
  apiBaseUrl: 'API_BASE_URL',
  /** Comma-separated origins allowed by CORS (empty: no cross-origin access). */
  corsAllowedOrigins: 'CORS_ALLOWED_ORIGINS',
  /** Standard AWS SDK endpoint override (also what LocalStack uses). */
  endpointUrl: 'AWS_ENDPOINT_URL',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** Defaults applied when an environment variable is absent. */
export const DEFAULTS = {
  maxBatchSize: 10_000,
  maxQueueSize: 1_000_000,
  // The body travels JSON-escaped inside the Lambda event, whose limit is 6,291,456 bytes: each
  // `"` and `\` of it (and \n, \t) takes two bytes there, other characters their UTF-8 bytes, so
  // JSON text at most doubles. 3,000,000 × 2 leaves 291 KB for the rest of the event (headers
  // twice, at most 10 KB each on API Gateway, and the request context): every body up to the
  // limit reaches the handler whatever it holds, and a larger one reaches it too (and gets its
  // 413) as long as its escaped form fits. 4.5 MiB did not: a quote-heavy body under it could not
  // be delivered (API Gateway answered with its own error). ≈ 16,000 typical members.
  maxBodyBytes: 3_000_000,
  originTimeoutMs: 10_000,
  originMaxBytes: 25 * 1024 * 1024,
  markRunningAfterMs: 1_000,
  transientRetrySeconds: 5,
  transientRetryMaxSeconds: 900,
  queueCountsCacheSeconds: 3,
  authCacheSeconds: 300,
  pageSize: 100,
  maxPageSize: 500,
} as const;

export interface IndexDefinition {
  name: string;
  partitionKey: string;
  sortKey: string;
}

/** What a table needs to be created (by the stack or the local runtime): keys, indexes, TTL. */
export interface TableDefinition {
  partitionKey: string;
  sortKey: string;
  ttlAttribute?: string;
  indexes: Record<string, IndexDefinition>;
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

/**
 * The credentials table: API keys and each customer's key listing. No index, no TTL. Apart from
 * the queue table so that IAM alone keeps every function but the authorizer and the key routes
 * away from it (the processors parse untrusted content; they have no grant here at all).
 */
export const CREDENTIALS_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  indexes: {},
} as const satisfies { partitionKey: string; sortKey: string; indexes: Record<string, IndexDefinition> };

export interface ThrottleLimits {
  /** Steady requests per second. */
  rateLimit: number;
  /** Requests allowed at once above the steady rate (token bucket size). */
  burstLimit: number;
}

export interface UsageLimits extends ThrottleLimits {
  /** Requests per period, or undefined for no quota. */
  quota?: { limit: number; period: 'DAY' | 'WEEK' | 'MONTH' };
}

/**
 * Per-key request limits: API Gateway usage plans on AWS (the authorizer names the caller's API
 * key), the local gateway's token buckets locally. Every customer key gets its own bucket of
 * `customer`; admin keys share `admin`; unauthenticated `GET /queue` has a method throttle of
 * its own so nobody can starve the keyed routes through it. The stage limit caps the whole API.
 */
export const USAGE_LIMITS = {
  customer: { rateLimit: 25, burstLimit: 50, quota: { limit: 500_000, period: 'DAY' } },
  admin: { rateLimit: 100, burstLimit: 200 },
  publicQueue: { rateLimit: 20, burstLimit: 40 },
  stage: { rateLimit: 500, burstLimit: 1000 },
} as const satisfies Record<'customer' | 'admin', UsageLimits> & Record<'publicQueue' | 'stage', ThrottleLimits>;

export type QueueName = 'main' | 'priority';
export type WorkQueueName = QueueName | 'tasks';

export interface QueueDefinition {
  /** Construct id in CDK and queue name suffix locally. */
  id: string;
  /** Environment variable holding the queue URL. */
  urlEnv: EnvName;
  /** Environment variable holding its dead-letter queue's URL. */
  deadLetterUrlEnv: EnvName;
  /**
   * ≥ 6 × the timeout of the function consuming it (AWS guidance for Lambda event sources; which
   * function that is, and its timeout: CONSUMERS and FUNCTIONS in functions.ts).
   */
  visibilityTimeoutSeconds: number;
  /**
   * Receives before a message goes to the dead-letter queue: at least 5, AWS's guidance for queues
   * consumed by Lambda, whose poller can receive a message and lose it to throttling or scaling.
   */
  maxReceiveCount: number;
}

/**
 * The work queues: members of main-queue and priority-queue batches, and the tasks (supersede
 * checks). Who consumes each, in batches of how many, at what concurrency: `CONSUMERS` in
 * functions.ts.
 */
export const QUEUES: Record<WorkQueueName, QueueDefinition> = {
  main: {
    id: 'Main',
    urlEnv: ENV.mainQueueUrl,
    deadLetterUrlEnv: ENV.mainDeadLetterQueueUrl,
    visibilityTimeoutSeconds: 360,
    maxReceiveCount: 5,
  },
  priority: {
    id: 'Priority',
    urlEnv: ENV.priorityQueueUrl,
    deadLetterUrlEnv: ENV.priorityDeadLetterQueueUrl,
    visibilityTimeoutSeconds: 360,
    maxReceiveCount: 5,
  },
  tasks: {
    id: 'Tasks',
    urlEnv: ENV.tasksQueueUrl,
    deadLetterUrlEnv: ENV.tasksDeadLetterQueueUrl,
    visibilityTimeoutSeconds: 360,
    maxReceiveCount: 5,
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
