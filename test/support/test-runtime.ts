/**
 * The local runtime as the end-to-end suites use it: real handlers, emulators, a local origin
 * server, and an admin client. Retries come back after 5 s (not Lambda's 6 minutes) and origins
 * get a generous timeout, because a busy CI machine can make even local origins slow.
 */
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../local/runtime';
import { startOriginServer } from './origin-server';
import { QueueClient } from './queue-client';

export interface TestRuntime {
  runtime: LocalRuntime;
  origins: Awaited<ReturnType<typeof startOriginServer>>;
  api: QueueClient;
  stop(): Promise<void>;
}

/**
 * The suites' own settings on top of the local runtime's: origins get a generous timeout, suites
 * read GET /queue right after submits (the cache has a test of its own), and transient origin
 * failures are tried again after 1 s, then 2 s (not 5 s growing to minutes). The stack leaves these
 * at their DEFAULTS.
 */
export const TEST_RUNTIME_ENV: Readonly<Record<string, string>> = {
  ORIGIN_TIMEOUT_MS: '30000',
  QUEUE_COUNTS_CACHE_SECONDS: '0',
  TRANSIENT_RETRY_SECONDS: '1',
  TRANSIENT_RETRY_MAX_SECONDS: '2',
};

export async function startTestRuntime(options: LocalRuntimeOptions = {}): Promise<TestRuntime> {
  const origins = await startOriginServer();
  const runtime = await startLocalRuntime({
    port: 0,
    schedules: false,
    visibilityTimeoutSeconds: { main: 5, priority: 5, tasks: 5 },
    // The suites poll as fast as they like with one key; the limits have a suite of their own.
    usageLimits: false,
    ...options,
    env: { ...TEST_RUNTIME_ENV, ...options.env },
  });
  return {
    runtime,
    origins,
    api: new QueueClient(runtime.apiUrl),
    stop: async () => {
      // Origins first: a fetch still waiting on one fails at once, while the runtime can still record it.
      await origins.close();
      await runtime.stop();
    },
  };
}

/** An SQS record carrying a member message, as Lambda's event source would deliver it. */
export function memberRecord(customer: number, batch: number, index: number, messageId: string): SQSRecord {
  return {
    messageId,
    receiptHandle: messageId,
    body: JSON.stringify({ c: customer, b: batch, i: index }),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:direct',
    awsRegion: 'us-east-1',
  };
}

/** Invokes the processor directly (as a duplicate or an early delivery would), bypassing the pollers. */
export async function invokeProcessor(runtime: LocalRuntime, records: SQSRecord[]): Promise<{ batchItemFailures: unknown[] }> {
  const handler = (await runtime.loadHandler('process-images')) as (event: SQSEvent, context: unknown) => Promise<any>;
  return handler({ Records: records } as SQSEvent, {});
}
