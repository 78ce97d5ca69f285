/**
 * What a client does with a batch beyond submitting it, through the real handlers and emulators:
 * cancel (racing with processing), retry of the error members, completion notices on SNS (exactly
 * once under duplicated and concurrent deliveries), long-polling a batch, and transient origin
 * failures retried after seconds with the last error shown meanwhile.
 *
 * The main queue's visibility timeout is 60 s here: a member retried sooner than that was retried
 * by the short delay (ChangeMessageVisibility), not by the timeout.
 */
import { randomUUID } from 'node:crypto';
import { PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoQueueStore } from '../../lambdas/adapters/dynamo';
import { keys } from '../../lambdas/adapters/dynamo/keys';
import { db, tableName } from '../../lambdas/adapters/dynamo/table';
import { ENV } from '../../lambdas/config/resources';
import type { BatchCompletedNotification } from '../../lambdas/domain/notices';
import { fakeContext } from '../../local/handlers';
import { expectNoDrift } from '../support/faults-support';
import { QueueClient, waitFor } from '../support/queue-client';
import { invokeProcessor, memberRecord, startTestRuntime, type TestRuntime } from '../support/test-runtime';

jest.setTimeout(300_000);

let env: TestRuntime;
let notices: NoticeReader;
const png = (n: number) => `${env.origins.url}/png/${n}x${n}.png`;
const delayed = (ms: number, n: number) => `${env.origins.url}/delay/${ms}/png/${n}x${n}.png`;
const B = (customer: number, batch: number) => `/customers/${customer}/queue/batches/${batch}`;

/** A queue subscribed to the notices topic, read in order up to a sentinel the test publishes. */
class NoticeReader {
  private readonly received: BatchCompletedNotification[] = [];
  private constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
    private readonly queueUrl: string,
  ) {}

  static async subscribe(runtime: TestRuntime['runtime']): Promise<NoticeReader> {
    const topicArn = runtime.env[ENV.noticesTopicArn] as string;
    const sns = new SNSClient({
      endpoint: runtime.sqsEndpoint,
      region: runtime.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const { QueueUrl } = await runtime.sqs.send(new CreateQueueCommand({ QueueName: `notices-${randomUUID().slice(0, 8)}` }));
    const { Attributes } = await runtime.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: Attributes?.QueueArn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    return new NoticeReader(sns, topicArn, QueueUrl as string);
  }

  /**
   * Every notice published so far: a sentinel is published after them and the queue is read up
   * to it (the emulator delivers a topic's messages to a queue in publishing order).
   */
  async all(): Promise<BatchCompletedNotification[]> {
    const sentinel = randomUUID();
    await this.sns.send(new PublishCommand({ TopicArn: this.topicArn, Message: JSON.stringify({ sentinel }) }));
    for (let seen = false; !seen; ) {
      const { Messages = [] } = await env.runtime.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const m of Messages) {
        const body = JSON.parse(m.Body ?? '{}') as Partial<BatchCompletedNotification> & { sentinel?: string };
        if (body.sentinel === sentinel) seen = true;
        else if (!body.sentinel) this.received.push(body as BatchCompletedNotification);
      }
      if (Messages.length > 0) {
        await env.runtime.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
          }),
        );
      }
    }
    return [...this.received];
  }

  async of(customer: number, batch: number): Promise<BatchCompletedNotification[]> {
    return (await this.all()).filter((n) => n.Customer === customer && n.Id === batch);
  }
}

beforeAll(async () => {
  env = await startTestRuntime({
    visibilityTimeoutSeconds: { main: 60, priority: 5, tasks: 5 },
    // One delivery of the main queue at a time: a cancel then finds members not yet picked up.
    pollerConcurrency: { main: 1, priority: 2, tasks: 1 },
    // Retries after 3 s then 6 s: long enough to read the last error while an image waits.
    env: { POWERTOOLS_LOG_LEVEL: 'ERROR', TRANSIENT_RETRY_SECONDS: '3', TRANSIENT_RETRY_MAX_SECONDS: '6' },
  });
  notices = await NoticeReader.subscribe(env.runtime);
});

afterAll(async () => {
  await env?.stop();
});

describe('cancel', () => {
  it('cancels the members not yet picked up, lets those in flight finish, drops the counters at once and finishes the batch', async () => {
    // Arrange: 40 members that take 2 s each, one delivery (≤ 10 members) at a time.
    const customer = 801;
    const batch = await env.api.submitOk(
      customer,
      Array.from({ length: 40 }, (_, i) => ({ id: `c${i}`, space: 1, origin: delayed(2000, 2 + (i % 5)) })),
    );
    await waitFor(
      async () => (await env.api.batch(customer, batch)).count > 0 && (await env.api.customerQueue(customer)).imagesWaiting < 40,
      {
        timeoutMs: 30_000,
        description: 'a first delivery picked up',
      },
    );

    // Act
    const cancelled = await env.api.call('DELETE', B(customer, batch));

    // Assess: what was waiting is cancelled at once; only members in flight remain in the queue.
    expect(cancelled.status).toBe(200);
    const body = cancelled.body;
    expect(body).toMatchObject({ '@type': 'vocab:Batch', id: batch, count: 40, cancelledAt: expect.any(String) });
    expect(body.cancelled).toBeGreaterThanOrEqual(20);
    const queue = await env.api.customerQueue(customer);
    expect(queue.size).toBe(40 - body.completed - body.errors - body.cancelled);
    expect(queue.size).toBeLessThanOrEqual(10);

    // The members in flight finish normally, and the batch finishes with every member accounted for.
    const [done] = await env.api.waitForFinished(customer, [batch], 60_000);
    expect(done.completed + done.errors + done.cancelled).toBe(40);
    expect(done.completed).toBeGreaterThan(0);
    expect(done.errors).toBe(0);
    expect(done.cancelled).toBe(body.cancelled);
    expect(await env.api.customerQueue(customer)).toMatchObject({ size: 0, imagesWaiting: 0, batchesWaiting: 0 });
    const members = await env.api.allMembers(`${B(customer, batch)}/images`);
    expect(members.filter((m) => m.state === 'cancelled')).toHaveLength(done.cancelled);
    expect(members.filter((m) => m.state === 'cancelled').every((m) => m.ingesting === false && m.width === undefined)).toBe(true);

    // A second DELETE answers the same state; the batch was announced once, with its counts.
    const again = await env.api.call('DELETE', B(customer, batch));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ completed: done.completed, cancelled: done.cancelled, finished: done.finished });
    await waitFor(async () => (await notices.of(customer, batch)).length > 0, { timeoutMs: 10_000, description: 'the notice' });
    expect(await notices.of(customer, batch)).toEqual([
      expect.objectContaining({ Count: 40, Completed: done.completed, Cancelled: done.cancelled }),
    ]);
    await expectNoDrift();
  });

  it('cancels a batch nobody has started: every member cancelled, it stops waiting, and it finishes at once', async () => {
    // Arrange: the main queue's only processor is busy with a slow delivery.
    const customer = 802;
    const blocker = await env.api.submitOk(
      customer,
      Array.from({ length: 10 }, (_, i) => ({ id: `b${i}`, space: 1, origin: delayed(3000, 3) })),
    );
    await waitFor(async () => (await env.api.customerQueue(customer)).imagesWaiting === 0, {
      timeoutMs: 30_000,
      description: 'the blocker picked up',
    });
    const batch = await env.api.submitOk(
      customer,
      Array.from({ length: 5 }, (_, i) => ({ id: `w${i}`, space: 1, origin: png(3) })),
    );
    expect((await env.api.customerQueue(customer)).batchesWaiting).toBe(1);

    // Act
    const cancelled = await env.api.call('DELETE', B(customer, batch));

    // Assess
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ count: 5, completed: 0, errors: 0, cancelled: 5, finished: expect.any(String) });
    expect(await env.api.customerQueue(customer)).toMatchObject({ batchesWaiting: 0 });
    // Its messages still arrive: the processor skips the cancelled members without counting them.
    await env.api.waitForFinished(customer, [blocker], 60_000);
    await waitFor(async () => (await env.api.customerQueue(customer)).size === 0, { timeoutMs: 30_000, description: 'the queue drained' });
    expect(await env.api.batch(customer, batch)).toMatchObject({ completed: 0, cancelled: 5 });
    await expectNoDrift();
  });

  it('reaches members waiting for a transient retry: an origin that never answers ends cancelled, not retried to errors', async () => {
    // Arrange: 12 members on an origin that never answers, so each attempt ends at the fetch timeout
    // (1.5 s, after the member was recorded running) and is tried again after 3 s, then 6 s.
    const customer = 804;
    const count = 12;
    // Settings are read per call from the environment the handlers share with this process.
    process.env.ORIGIN_TIMEOUT_MS = '1500';
    try {
      const batch = await env.api.submitOk(
        customer,
        Array.from({ length: count }, (_, i) => ({ id: `s${i}`, space: 1, origin: `${env.origins.url}/slow` })),
      );
      // Every member has been tried once, as in the report: none is still untouched on the queue.
      await waitFor(async () => (await env.api.allMembers(`${B(customer, batch)}/images`)).every((m) => m.error), {
        timeoutMs: 30_000,
        description: 'every member tried once',
      });

      // Act
      const cancelled = await env.api.call('DELETE', B(customer, batch));

      // Assess: whatever was between attempts or in flight ends cancelled (an attempt in flight at the
      // DELETE at its fetch timeout), none is tried to the last receive, and the counters are exact.
      expect(cancelled.status).toBe(200);
      const [done] = await env.api.waitForFinished(customer, [batch], 60_000);
      // On the old rule: 0 cancelled and `count` errors, each 'gave up after 5 attempts'.
      expect(done).toMatchObject({ count, completed: 0, errors: 0, cancelled: count });
      const members = await env.api.allMembers(`${B(customer, batch)}/images`);
      expect(members.map((m) => m.state)).toEqual(Array(count).fill('cancelled'));
      expect(await env.api.customerQueue(customer)).toMatchObject({ size: 0, imagesWaiting: 0, batchesWaiting: 0 });
      await expectNoDrift();
    } finally {
      process.env.ORIGIN_TIMEOUT_MS = env.runtime.env.ORIGIN_TIMEOUT_MS;
    }
  });

  it('answers 409 for a batch that finished, 404 for an unknown one, and needs the manage privilege', async () => {
    const customer = 803;
    const batch = await env.api.submitOk(customer, [{ id: 'f', space: 1, origin: png(2) }]);
    await env.api.waitForFinished(customer, [batch]);
    const finished = await env.api.call('DELETE', B(customer, batch));
    expect(finished.status).toBe(409);
    expect(finished.body).toMatchObject({ '@type': 'Error', title: expect.any(String), detail: expect.stringContaining('finished') });
    expect((await env.api.call('DELETE', B(customer, 999_999))).status).toBe(404);

    const readOnly = await env.api.call('POST', `/customers/${customer}/keys`, { privileges: ['read', 'submit'] });
    const client = new QueueClient(env.runtime.apiUrl, { key: readOnly.body.key, secret: readOnly.body.secret });
    const refused = await client.call('DELETE', B(customer, batch));
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toContain('manage');
  });
});

describe('retry', () => {
  it('creates a batch of the error members on the same queue, linked both ways, and supersedes the failed members', async () => {
    // Arrange: a priority batch with 3 images and 2 failures.
    const customer = 811;
    const original = await env.api.submitOk(
      customer,
      [
        { id: 'ok1', space: 2, origin: png(2) },
        { id: 'bad1', space: 2, origin: `${env.origins.url}/missing`, string1: 'kept' },
        { id: 'ok2', space: 2, origin: png(3) },
        { id: 'bad2', space: 2, origin: `${env.origins.url}/missing`, tags: ['t'] },
        { id: 'ok3', space: 2, origin: png(4) },
      ],
      { priority: true },
    );
    const [before] = await env.api.waitForFinished(customer, [original]);
    expect(before).toMatchObject({ completed: 3, errors: 2 });

    // Act
    const retried = await env.api.call('POST', `${B(customer, original)}/retry`);

    // Assess: 201 with the new batch and its Location, linked to the original.
    expect(retried.status).toBe(201);
    const retry = retried.body;
    expect(retried.headers.get('location')).toBe(retry['@id']);
    expect(retry).toMatchObject({ count: 2, retryOf: before['@id'] });
    const members = await env.api.allMembers(`${retry['@id']}/images`);
    expect(members.map((m) => [m.id, m.space, m.origin, m.string1, m.tags])).toEqual([
      ['bad1', 2, `${env.origins.url}/missing`, 'kept', undefined],
      ['bad2', 2, `${env.origins.url}/missing`, undefined, ['t']],
    ]);
    expect((await env.api.batch(customer, original)).retries).toEqual([retry['@id']]);
    // It runs on the priority queue, like the original (its members fail again here).
    await env.api.waitForFinished(customer, [retry.id]);
    expect(await env.api.batch(customer, retry.id)).toMatchObject({ completed: 0, errors: 2 });
    // The failed members moved to the retry: the original still has its completed members current.
    await waitFor(async () => (await env.api.get(`/customers/${customer}/spaces/2/images/bad1`)).body.batch === retry['@id'], {
      timeoutMs: 10_000,
      description: 'bad1 current in the retry',
    });
    expect((await env.api.batch(customer, original)).superseded).toBe(false);

    // A second retry of the original is another batch, listed after the first.
    const second = await env.api.call('POST', `${B(customer, original)}/retry`);
    expect(second.status).toBe(201);
    expect((await env.api.batch(customer, original)).retries).toEqual([retry['@id'], second.body['@id']]);
    await env.api.waitForFinished(customer, [second.body.id]);
    await expectNoDrift();
  });

  it('supersedes a batch whose every member failed once its retry is submitted', async () => {
    const customer = 812;
    const original = await env.api.submitOk(customer, [{ id: 'x', space: 1, origin: `${env.origins.url}/missing` }]);
    await env.api.waitForFinished(customer, [original]);
    const retried = await env.api.call('POST', `${B(customer, original)}/retry`);
    expect(retried.status).toBe(201);
    await waitFor(async () => (await env.api.batch(customer, original)).superseded === true, {
      timeoutMs: 30_000,
      description: 'superseded',
    });
  });

  it('answers 409 when the batch has no error members, and 404 for an unknown batch', async () => {
    const customer = 813;
    const batch = await env.api.submitOk(customer, [{ id: 'a', space: 1, origin: png(2) }]);
    await env.api.waitForFinished(customer, [batch]);
    const none = await env.api.call('POST', `${B(customer, batch)}/retry`);
    expect(none.status).toBe(409);
    expect(none.body.detail).toContain('no error members');
    expect((await env.api.call('POST', `${B(customer, 424_242)}/retry`)).status).toBe(404);
  });
});

describe('completion notices', () => {
  it('announces a batch once, with DLCS’s fields, however many deliveries race to finish it', async () => {
    // Arrange
    const customer = 821;
    const batch = await env.api.submitOk(customer, [
      { id: 'n1', space: 1, origin: png(2) },
      { id: 'n2', space: 1, origin: `${env.origins.url}/missing` },
    ]);

    // Act: the same messages delivered three more times, two of them at once, beside the poller's.
    const records = () => [0, 1].map((i) => memberRecord(customer, batch, i, randomUUID()));
    await Promise.all([invokeProcessor(env.runtime, records()), invokeProcessor(env.runtime, records())]);
    const [done] = await env.api.waitForFinished(customer, [batch]);
    await invokeProcessor(env.runtime, records());

    // Assess
    await waitFor(async () => (await notices.of(customer, batch)).length > 0, { timeoutMs: 10_000, description: 'the notice' });
    expect(await notices.of(customer, batch)).toEqual([
      {
        '@id': done['@id'],
        Id: batch,
        Customer: customer,
        Count: 2,
        Completed: 1,
        Errors: 1,
        Cancelled: 0,
        Superseded: false,
        Submitted: done.submitted,
        Finished: done.finished,
      },
    ]);
    // Nothing is left pending for the sweeper to send again.
    expect(await dynamoQueueStore.pendingNotices(new Date(Date.now() + 60_000).toISOString())).toEqual([]);
  });

  it('sends a notice left pending (its finisher crashed before publishing) from the sweeper, once', async () => {
    // Arrange: a finished, announced batch marked pending again, as a finisher that crashed
    // between its write and the publish would have left it.
    const customer = 822;
    const batch = await env.api.submitOk(customer, [{ id: 's', space: 1, origin: png(3) }]);
    const [done] = await env.api.waitForFinished(customer, [batch]);
    await waitFor(async () => (await notices.of(customer, batch)).length === 1, { timeoutMs: 10_000, description: 'the notice' });
    const pending = keys.pendingNotice(customer, done.finished as string, batch);
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.batch(customer, batch),
        UpdateExpression: 'SET gsi2pk = :p, gsi2sk = :s',
        ExpressionAttributeValues: { ':p': pending.gsi2pk, ':s': pending.gsi2sk },
      }),
    );

    // Act
    const sweep = async () => {
      const handler = await env.runtime.loadHandler('sweep-enqueueing');
      return (await handler({ noticeGraceSeconds: 0 }, fakeContext('image-queue-sweep-enqueueing', 300))) as { notices: number };
    };
    // The sweeper finds pending notices through an index, which lags a moment behind the write.
    let swept = 0;
    await waitFor(
      async () => {
        swept += (await sweep()).notices;
        return swept > 0;
      },
      { timeoutMs: 10_000, description: 'the sweeper to send it' },
    );

    // Assess: the sweeper sent it once (the second notice here), and a later sweep finds nothing.
    expect(swept).toBe(1);
    expect(await notices.of(customer, batch)).toHaveLength(2);
    expect((await sweep()).notices).toBe(0);
    expect(await notices.of(customer, batch)).toHaveLength(2);
  });
});

describe('the caller', () => {
  it('GET /key names the key, its customer and privileges, for any valid key whatever its privileges', async () => {
    const created = await env.api.call('POST', '/customers/851/keys', { privileges: ['submit'] });
    const client = new QueueClient(env.runtime.apiUrl, { key: created.body.key, secret: created.body.secret });
    const own = await client.get('/key');
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ '@type': 'vocab:Caller', key: created.body.key, admin: false, customer: 851, privileges: ['submit'] });
    expect((await env.api.get(own.body.keyResource)).body).toMatchObject({ key: created.body.key, customer: 851 });
    expect((await env.api.get('/key')).body).toMatchObject({ admin: true, privileges: ['read', 'submit', 'manage'] });
    expect((await env.api.get('/key')).body.customer).toBeUndefined();
    const anonymous = await fetch(`${env.runtime.apiUrl}/key`);
    expect(anonymous.status).toBe(401);
  });
});

describe('long-poll', () => {
  it('answers as soon as the batch finishes when asked to wait', async () => {
    const customer = 831;
    const batch = await env.api.submitOk(customer, [{ id: 'l', space: 1, origin: delayed(1500, 2) }]);
    const waited = await env.api.get(`${B(customer, batch)}?wait=20`);
    expect(waited.status).toBe(200);
    expect(waited.body).toMatchObject({ id: batch, completed: 1, finished: expect.any(String) });
  });

  it('answers with the current state when the wait ends first', async () => {
    const customer = 832;
    const batch = await env.api.submitOk(customer, [{ id: 'm', space: 1, origin: delayed(15_000, 2) }]);
    const waited = await env.api.get(`${B(customer, batch)}?wait=1`);
    expect(waited.status).toBe(200);
    expect(waited.body.id).toBe(batch);
    expect(waited.body.finished).toBeUndefined();
  });

  it.each(['0', '21', 'x', '1.5', '', '-1'])('refuses wait=%s with 400', async (wait) => {
    const result = await env.api.get(`${B(833, 1)}?wait=${wait}`);
    expect(result.status).toBe(400);
    expect(result.body.detail).toContain('wait');
  });
});

describe('transient origin failures', () => {
  it('retries after seconds, not the queue’s visibility timeout, showing the last error meanwhile', async () => {
    // Arrange: an origin that answers 503 twice, then the image.
    const customer = 841;
    const origin = `${env.origins.url}/flaky/${randomUUID()}/2/png/5x5.png`;
    const batch = await env.api.submitOk(customer, [{ id: 'f', space: 1, origin }]);
    const image = `/customers/${customer}/spaces/1/images/f`;

    // Assess: while it waits, the image shows the last error; then it completes well before the
    // 60 s visibility timeout would have let a single retry happen.
    await waitFor(async () => String((await env.api.get(image)).body.error ?? '').includes('503'), {
      timeoutMs: 20_000,
      description: 'the last error shown',
    });
    expect((await env.api.get(image)).body).toMatchObject({ ingesting: true, state: 'waiting' });
    await env.api.waitForFinished(customer, [batch], 50_000);
    expect((await env.api.get(image)).body).toMatchObject({ ingesting: false, state: 'completed', width: 5 });
    expect((await env.api.get(image)).body.error).toBeUndefined();
  });
});
