/**
 * Emulates Lambda's SQS event source mapping: concurrent long-poll loops per queue that build an
 * `SQSEvent`, invoke the consumer and delete what succeeded, honouring `batchItemFailures`
 * (ReportBatchItemFailures) with AWS's rules. Redelivery and dead-lettering are the emulator's job
 * (visibility timeout + RedrivePolicy), exactly as on AWS. Which function consumes which queue, in
 * batches of how many, is `CONSUMERS` (lambdas/config/functions.ts), as in the stack.
 */
import { setMaxListeners } from 'node:events';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { CONSUMERS, EVENT_SOURCES, type EventSourceName, type FunctionName, urlEnvOf } from '../lambdas/config/functions';
import { consoleLogger, type HandlerLoader, invokeFunction, type RuntimeLogger } from './handlers';

/**
 * One poller per event source of `CONSUMERS`: the work queues and the member dead-letter queues.
 * The tasks dead-letter queue has none (as in the CDK stack): a task that kept failing stays there
 * to be inspected and redriven.
 */
export type PollerName = EventSourceName;

/** The table the pollers run from (the stack's event source mappings read the same). */
export { CONSUMERS };

export const POLLER_NAMES: readonly PollerName[] = EVENT_SOURCES;

export interface InvocationInfo {
  poller: PollerName;
  handler: FunctionName;
  event: SQSEvent;
}

export interface InvocationOutcome extends InvocationInfo {
  /** messageIds deleted from the queue after this invocation. */
  deleted: string[];
  /** Set when the handler threw or timed out (nothing deleted). */
  error?: unknown;
  response?: unknown;
}

export interface PollerOptions {
  sqs: SQSClient;
  /** Environment returned by provision() (every queue's URL by its ENV name, dead-letter queues' included). */
  env: Record<string, string>;
  loadHandler: HandlerLoader;
  region?: string;
  /** Loops per queue; default min(CONSUMERS[q].maxConcurrency, 4), or 1 where it has none (the DLQs). */
  concurrency?: Partial<Record<PollerName, number>>;
  /** Only these pollers are started (default all). */
  only?: PollerName[];
  /** Long-poll wait in seconds (default 1, so stop() is quick). */
  waitTimeSeconds?: number;
  /** Rewrites the event before the handler sees it (the tests duplicate or reorder records with it). */
  transformEvent?: (event: SQSEvent, info: { poller: PollerName; handler: FunctionName }) => SQSEvent | Promise<SQSEvent>;
  /** Called before each invocation (may await to delay it; throwing counts as a handler failure). */
  onBeforeInvoke?: (info: InvocationInfo) => void | Promise<void>;
  /** Called after each invocation with what was deleted. */
  onAfterInvoke?: (outcome: InvocationOutcome) => void;
  functionPrefix?: string;
  logger?: RuntimeLogger;
}

export interface Pollers {
  pause(name?: PollerName): void;
  resume(name?: PollerName): void;
  isPaused(name: PollerName): boolean;
  /** Invocations running now (all pollers or one). */
  inFlight(name?: PollerName): number;
  /** Invocations so far per poller. */
  readonly invocations: Record<PollerName, number>;
  /** Stops receiving, waits (bounded) for running invocations, resolves when every loop ended. */
  stop(timeoutMs?: number): Promise<void>;
}

function toLambdaAttributes(attributes: Record<string, MessageAttributeValue> | undefined): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    out[name] = {
      stringValue: value.StringValue,
      binaryValue: value.BinaryValue ? Buffer.from(value.BinaryValue).toString('base64') : undefined,
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
      dataType: value.DataType as SQSMessageAttributes[string]['dataType'],
    };
  }
  return out;
}

export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const a = (message.Attributes ?? {}) as Record<string, string>;
  const now = String(Date.now());
  return {
    messageId: message.MessageId as string,
    receiptHandle: message.ReceiptHandle as string,
    body: message.Body ?? '',
    attributes: {
      ...a,
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? now,
      SenderId: a.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? now,
    },
    messageAttributes: toLambdaAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * Which records to delete after an invocation, by AWS's ReportBatchItemFailures rules: a null/empty
 * response or failure list is full success; an empty, missing or unknown itemIdentifier (or a
 * malformed list) fails the whole batch; otherwise everything but the listed ids is deleted.
 */
export function recordsToDelete(records: SQSRecord[], response: unknown): SQSRecord[] {
  if (response === null || response === undefined || typeof response !== 'object') return records;
  const failures = (response as Partial<SQSBatchResponse>).batchItemFailures;
  if (failures === null || failures === undefined) return records;
  if (!Array.isArray(failures)) return [];
  const ids = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const f of failures) {
    const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !ids.has(id)) return [];
    failed.add(id);
  }
  return records.filter((r) => !failed.has(r.messageId));
}

function queueUrlFor(name: PollerName, env: Record<string, string>): string {
  const url = env[urlEnvOf(name)];
  if (!url) throw new Error(`no queue URL for poller ${name} in the environment`);
  return url;
}

export async function startPollers(options: PollerOptions): Promise<Pollers> {
  const logger = options.logger ?? consoleLogger;
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const prefix = options.functionPrefix ?? 'local';
  const names = options.only ?? POLLER_NAMES;
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per concurrent long poll
  let stopped = false;
  const paused = new Map<PollerName, { promise: Promise<void>; release: () => void }>();
  const running = new Map<PollerName, number>();
  const invocations = Object.fromEntries(POLLER_NAMES.map((n) => [n, 0])) as Record<PollerName, number>;

  const queues = await Promise.all(
    names.map(async (name) => {
      const url = queueUrlFor(name, options.env);
      const { Attributes } = await options.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
      return { name, url, arn: Attributes?.QueueArn as string };
    }),
  );

  const sleep = (ms: number) =>
    new Promise<void>((done) => {
      const onAbort = () => {
        clearTimeout(t);
        done();
      };
      const t = setTimeout(() => {
        abort.signal.removeEventListener('abort', onAbort);
        done();
      }, ms);
      abort.signal.addEventListener('abort', onAbort, { once: true });
    });

  function totalInFlight(): number {
    let n = 0;
    for (const v of running.values()) n += v;
    return n;
  }

  async function deleteRecords(url: string, records: SQSRecord[]): Promise<void> {
    const unique = [...new Map(records.map((r) => [r.receiptHandle, r])).values()];
    for (let i = 0; i < unique.length; i += 10) {
      const chunk = unique.slice(i, i + 10);
      const out = await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: chunk.map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle })),
        }),
      );
      for (const f of out.Failed ?? []) logger.error(`delete failed on ${url}: ${f.Code} ${f.Message}`);
    }
  }

  async function invoke(name: PollerName, url: string, event: SQSEvent): Promise<void> {
    const handlerName = CONSUMERS[name].fn;
    const info: InvocationInfo = { poller: name, handler: handlerName, event };
    invocations[name] += 1;
    let response: unknown;
    let error: unknown;
    try {
      event = options.transformEvent ? await options.transformEvent(event, { poller: name, handler: handlerName }) : event;
      info.event = event;
      await options.onBeforeInvoke?.(info);
      const handler = await options.loadHandler(handlerName);
      response = await invokeFunction(handlerName, handler, event, { prefix });
    } catch (err) {
      error = err;
      logger.error(`${handlerName} failed on ${name} (${event.Records.length} records; they will be redelivered)`, err);
    }
    const toDelete = error === undefined ? recordsToDelete(event.Records, response) : [];
    if (toDelete.length > 0) {
      try {
        await deleteRecords(url, toDelete);
      } catch (err) {
        logger.error(`DeleteMessageBatch failed on ${name}`, err);
      }
    }
    options.onAfterInvoke?.({ ...info, deleted: toDelete.map((r) => r.messageId), error, response });
  }

  async function loop(name: PollerName, url: string, arn: string): Promise<void> {
    const batchSize = CONSUMERS[name].batchSize;
    let failures = 0;
    while (!stopped) {
      const gate = paused.get(name);
      if (gate) {
        await gate.promise; // released by resume() or stop()
        continue;
      }
      let messages: Message[];
      try {
        const out = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: Math.min(batchSize, 10),
            WaitTimeSeconds: options.waitTimeSeconds ?? 1,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: abort.signal },
        );
        messages = out.Messages ?? [];
        failures = 0;
      } catch (err) {
        if (stopped) break;
        failures += 1;
        if (failures === 1 || failures % 50 === 0) logger.error(`ReceiveMessage failed on ${name}`, err);
        await sleep(Math.min(2000, 100 * failures));
        continue;
      }
      if (messages.length === 0) continue;
      // A long poll already in flight when pause() was called is held here, so that nothing is
      // invoked after pause() returns (the messages stay in flight until resume()).
      const heldBy = paused.get(name);
      if (heldBy) await heldBy.promise;
      // Received messages are always handed to the consumer, even if stop() began meanwhile.
      running.set(name, (running.get(name) ?? 0) + 1);
      try {
        const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, arn, region)) };
        await invoke(name, url, event);
      } finally {
        running.set(name, (running.get(name) ?? 1) - 1);
      }
    }
  }

  const loops: Promise<void>[] = [];
  for (const q of queues) {
    const cap = CONSUMERS[q.name].maxConcurrency;
    const n = options.concurrency?.[q.name] ?? (cap === undefined ? 1 : Math.min(cap, 4));
    for (let i = 0; i < n; i += 1) loops.push(loop(q.name, q.url, q.arn));
  }

  const setPaused = (name: PollerName, on: boolean) => {
    const gate = paused.get(name);
    if (on && !gate) {
      let release!: () => void;
      const promise = new Promise<void>((r) => (release = r));
      paused.set(name, { promise, release });
    } else if (!on && gate) {
      paused.delete(name);
      gate.release();
    }
  };

  let stopping: Promise<void> | undefined;
  return {
    pause: (name) => {
      for (const n of name ? [name] : names) setPaused(n, true);
    },
    resume: (name) => {
      for (const n of name ? [name] : names) setPaused(n, false);
    },
    isPaused: (name) => paused.has(name),
    inFlight: (name) => (name ? (running.get(name) ?? 0) : totalInFlight()),
    invocations,
    stop(timeoutMs = 15_000) {
      stopping ??= (async () => {
        stopped = true;
        abort.abort();
        for (const gate of paused.values()) gate.release();
        let timer: NodeJS.Timeout | undefined;
        const all = Promise.allSettled(loops).then(() => undefined);
        const timedOut = await Promise.race([
          all.then(() => false),
          new Promise<boolean>((done) => {
            timer = setTimeout(() => done(true), timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) logger.error(`pollers: ${totalInFlight()} invocation(s) still running after ${timeoutMs} ms; not waiting`);
      })();
      return stopping;
    },
  };
}
