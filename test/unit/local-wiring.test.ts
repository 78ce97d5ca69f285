/**
 * The local runtime runs from the same wiring tables as the stack (lambdas/config/functions.ts;
 * the template is checked against them in test/infra/wiring.test.ts): its pollers are `CONSUMERS`
 * (function, batch size, poll loops), its timers are `SCHEDULES`, and every invocation — poller,
 * schedule, API route, authorizer — gets its function's `FUNCTIONS` timeout and memory. Also: a
 * consumer tells which queue its records came from, and so which `maxReceiveCount` applies.
 * No emulator: the SQS client and the handlers are fakes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSRecord } from 'aws-lambda';
import { maxReceiveCountFor, sourceOf } from '../../lambdas/adapters/sqs-records';
import {
  EVENT_SOURCES,
  type EventSourceName,
  FUNCTIONS,
  type FunctionName,
  maxReceiveCountOf,
  SCHEDULE_NAMES,
  SCHEDULES,
  CONSUMERS as TABLE_CONSUMERS,
  urlEnvOf,
} from '../../lambdas/config/functions';
import { QUEUES } from '../../lambdas/config/resources';
import { createHandlerLoader, type LambdaHandler, silentLogger } from '../../local/handlers';
import { createApiListener } from '../../local/http-adapter';
import { CONSUMERS, POLLER_NAMES, startPollers } from '../../local/pollers';
import { startSchedules } from '../../local/schedules';

// ---- Prepare ------------------------------------------------------------------------------------

interface Invocation {
  fn: FunctionName;
  context: Context;
  /** getRemainingTimeInMillis() when the handler started. */
  remainingMs: number;
  event: any;
}

/** A handler per function that records how it was invoked, then answers `answer`. */
function recordingHandlers(answer: (fn: FunctionName) => unknown = () => undefined) {
  const invocations: Invocation[] = [];
  const registry = Object.fromEntries(
    (Object.keys(FUNCTIONS) as FunctionName[]).map((fn) => [
      fn,
      (async (event, context) => {
        invocations.push({ fn, context, remainingMs: context.getRemainingTimeInMillis(), event });
        return answer(fn);
      }) satisfies LambdaHandler,
    ]),
  );
  return { invocations, loadHandler: createHandlerLoader(registry) };
}

/** Expects the context Lambda would give function `fn`: its name, memory and timeout. */
function expectContextOf(invocation: Invocation | undefined, fn: FunctionName): void {
  expect(invocation?.fn).toBe(fn);
  expect(invocation!.context.functionName).toBe(`local-${fn}`);
  expect(invocation!.context.memoryLimitInMB).toBe(String(FUNCTIONS[fn].memoryMiB));
  expect(invocation!.remainingMs).toBeLessThanOrEqual(FUNCTIONS[fn].timeoutSeconds * 1000);
  expect(invocation!.remainingMs).toBeGreaterThan(FUNCTIONS[fn].timeoutSeconds * 1000 - 2_000);
}

const urlOf = (source: EventSourceName) => `http://sqs.local/000000000000/image-queue-${source}`;
const arnOf = (source: EventSourceName) => `arn:aws:sqs:us-east-1:000000000000:image-queue-${source}`;

/**
 * An SQS client serving one message per queue, then empty long polls (cut short by the pollers'
 * abort signal); it records each ReceiveMessage's size and the polls in flight per queue.
 */
function fakeSqs() {
  const pending = new Set(EVENT_SOURCES);
  const receiveSizes = new Map<EventSourceName, number>();
  const inFlight = new Map<EventSourceName, number>();
  const maxInFlight = new Map<EventSourceName, number>();
  const sourceOfUrl = (url: string) => EVENT_SOURCES.find((s) => urlOf(s) === url)!;
  const client = {
    async send(command: unknown, options?: { abortSignal?: AbortSignal }) {
      if (command instanceof GetQueueAttributesCommand) {
        return { Attributes: { QueueArn: arnOf(sourceOfUrl(command.input.QueueUrl!)) } };
      }
      if (command instanceof DeleteMessageBatchCommand) return { Failed: [] };
      if (!(command instanceof ReceiveMessageCommand)) throw new Error('unexpected command');
      const source = sourceOfUrl(command.input.QueueUrl!);
      receiveSizes.set(source, command.input.MaxNumberOfMessages!);
      inFlight.set(source, (inFlight.get(source) ?? 0) + 1);
      maxInFlight.set(source, Math.max(maxInFlight.get(source) ?? 0, inFlight.get(source)!));
      try {
        // Let every loop start its first poll before any message is handed out.
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, 50);
          options?.abortSignal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('aborted'));
          });
        });
      } finally {
        inFlight.set(source, inFlight.get(source)! - 1);
      }
      if (!pending.delete(source)) return { Messages: [] };
      return { Messages: [{ MessageId: `m-${source}`, ReceiptHandle: `r-${source}`, Body: '{}', Attributes: {} }] };
    },
  };
  return { client: client as unknown as SQSClient, receiveSizes, maxInFlight };
}

const waitFor = async (what: string, condition: () => boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

// ---- Assess -------------------------------------------------------------------------------------

describe('pollers', () => {
  it('are the wiring table: one per event source of CONSUMERS, the tasks dead-letter queue without one', () => {
    expect(CONSUMERS).toBe(TABLE_CONSUMERS);
    expect([...POLLER_NAMES].sort()).toEqual([...EVENT_SOURCES].sort());
    expect(POLLER_NAMES).not.toContain('tasks-dlq');
  });

  it("invoke each source's function with its batch size, poll loops, timeout and memory", async () => {
    // Prepare
    const { invocations, loadHandler } = recordingHandlers(() => ({ batchItemFailures: [] }));
    const sqs = fakeSqs();
    const env = Object.fromEntries(EVENT_SOURCES.map((source) => [urlEnvOf(source), urlOf(source)]));

    // Act
    const pollers = await startPollers({ sqs: sqs.client, env, loadHandler, logger: silentLogger, waitTimeSeconds: 1 });
    try {
      await waitFor('one invocation per source', () => invocations.length >= EVENT_SOURCES.length);
    } finally {
      await pollers.stop(2_000);
    }

    // Assess
    for (const source of EVENT_SOURCES) {
      const consumer = TABLE_CONSUMERS[source];
      const invocation = invocations.find((i) => i.event.Records[0].eventSourceARN === arnOf(source));
      expectContextOf(invocation, consumer.fn);
      expect(sqs.receiveSizes.get(source)).toBe(consumer.batchSize);
      expect(sqs.maxInFlight.get(source)).toBe(consumer.maxConcurrency === undefined ? 1 : Math.min(consumer.maxConcurrency, 4));
    }
  });
});

describe('schedules', () => {
  it.each(SCHEDULE_NAMES)('%s runs its SCHEDULES function with its timeout and memory', async (name) => {
    // Prepare
    const { invocations, loadHandler } = recordingHandlers();
    const schedules = startSchedules({ loadHandler, enabled: false, logger: silentLogger });

    // Act
    await schedules.runNow(name);
    await schedules.stop();

    // Assess
    expectContextOf(invocations[0], SCHEDULES[name].fn);
    expect(invocations[0]!.event['detail-type']).toBe('Scheduled Event');
  });
});

describe('the local API Gateway', () => {
  let server: Server;
  let url: string;
  const { invocations, loadHandler } = recordingHandlers((fn) =>
    fn === 'authorizer'
      ? {
          principalId: 'k',
          policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] },
        }
      : { statusCode: 200, body: '{}' },
  );

  beforeAll(async () => {
    server = createServer(createApiListener({ loadHandler, usageLimits: false, logger: silentLogger }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('invokes the authorizer and the route function with their FUNCTIONS timeout and memory', async () => {
    // Act
    const response = await fetch(`${url}/key`, { headers: { Authorization: 'Basic a2V5OnNlY3JldA==' } });

    // Assess
    expect(response.status).toBe(200);
    expectContextOf(
      invocations.find((i) => i.fn === 'authorizer'),
      'authorizer',
    );
    expectContextOf(
      invocations.find((i) => i.fn === 'api-read'),
      'api-read',
    );
  });
});

describe('which queue a record came from', () => {
  const record = (arn: string) => ({ eventSourceARN: arn }) as SQSRecord;
  const saved = { ...process.env };
  beforeAll(() => {
    for (const source of EVENT_SOURCES) process.env[urlEnvOf(source)] = urlOf(source);
  });
  afterAll(() => {
    process.env = saved;
  });

  it.each(EVENT_SOURCES)("%s: found by the queue name its ARN ends with, and its own queue's maxReceiveCount", (source) => {
    const fn = TABLE_CONSUMERS[source].fn;
    expect(sourceOf([record(arnOf(source))], fn)).toBe(source);
    expect(maxReceiveCountFor([record(arnOf(source))], fn)).toBe(QUEUES[TABLE_CONSUMERS[source].queue].maxReceiveCount);
    expect(maxReceiveCountOf(source)).toBe(QUEUES[TABLE_CONSUMERS[source].queue].maxReceiveCount);
  });

  it("ignores queues the function does not consume, and then takes the largest of its sources' counts", () => {
    expect(sourceOf([record(arnOf('main'))], 'record-dead-letters')).toBeUndefined();
    expect(sourceOf([record('arn:aws:sqs:us-east-1:000000000000:direct')], 'process-images')).toBeUndefined();
    expect(maxReceiveCountFor([record('arn:aws:sqs:us-east-1:000000000000:direct')], 'process-images')).toBe(
      Math.max(QUEUES.main.maxReceiveCount, QUEUES.priority.maxReceiveCount),
    );
  });
});
