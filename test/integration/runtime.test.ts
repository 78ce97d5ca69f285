/**
 * The local runtime itself (not the handlers): API Gateway emulation, the TOKEN authorizer flow,
 * the proxy event's shape, the SQS event source (batches, partial failures, redelivery, DLQ, the
 * tasks DLQ that nothing consumes) and a clean stop. Every handler is a fake injected through the registry.
 */
import { request } from 'node:http';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { APIGatewayAuthorizerResult, APIGatewayProxyEvent, APIGatewayTokenAuthorizerEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import { SERVICE_ENDPOINT_ENV } from '../../lambdas/adapters/aws-clients';
import { ENV, QUEUES } from '../../lambdas/config/resources';
import type { HandlerRegistry } from '../../local/handlers';
import { silentLogger } from '../../local/handlers';
import { policyAllows, wildcardMatch } from '../../local/http-adapter';
import { POLLER_NAMES, recordsToDelete } from '../../local/pollers';
import { DLQ_URL_ENV, localDynamoClient } from '../../local/provision';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';

// Starting DynamoDB Local takes seconds and redelivery tests wait for visibility timeouts.
jest.setTimeout(60_000);

const MAX_BODY = 1024;

async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Delivery {
  queue: string;
  record: SQSRecord;
  batch: string[];
}

const deliveries: Delivery[] = [];
const deadLetters: SQSRecord[] = [];
const authorizerCalls: APIGatewayTokenAuthorizerEvent[] = [];

const bodyOf = (r: SQSRecord): { id: string; fail?: boolean; throwUntil?: number; bogus?: boolean } => JSON.parse(r.body);
const receiveCount = (r: SQSRecord) => Number(r.attributes.ApproximateReceiveCount);

function policy(effect: 'Allow' | 'Deny', resource: string | string[]): APIGatewayAuthorizerResult['policyDocument'] {
  return { Version: '2012-10-17', Statement: [{ Effect: effect, Action: 'execute-api:Invoke', Resource: resource }] };
}

const echo = async (event: APIGatewayProxyEvent) => ({
  statusCode: 200,
  headers: { 'Content-Type': 'application/json', 'X-Echo': 'yes' },
  multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
  body: JSON.stringify(event),
});

const handlers: HandlerRegistry = {
  authorizer: async (event: APIGatewayTokenAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    authorizerCalls.push(event);
    const base = event.methodArn.split('/').slice(0, 2).join('/'); // arn:…:local/local
    switch (event.authorizationToken) {
      case 'Bearer good':
        return {
          principalId: 'customer-1',
          policyDocument: policy('Allow', `${base}/*`),
          context: { customer: 1, admin: false, name: 'one' },
        };
      case 'Bearer limited':
        return {
          principalId: 'customer-1',
          policyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'execute-api:*', Resource: `${base}/GET/customers/?/*` },
              { Effect: 'Deny', Action: 'execute-api:Invoke', Resource: `${base}/GET/customers/3/*` },
            ],
          },
        };
      case 'Bearer deny':
        return { principalId: 'nobody', policyDocument: policy('Deny', `${base}/*`) };
      case 'Bearer broken':
        throw new Error('database down');
      default:
        throw new Error('Unauthorized');
    }
  },
  'api-read': echo,
  'api-submit': async (event: APIGatewayProxyEvent) => {
    if (event.body?.includes('explode')) throw new Error('boom');
    if (event.body?.includes('malformed')) return { nope: true };
    return echo(event);
  },
  'process-images': async (event: SQSEvent) => {
    const batch = event.Records.map((r) => r.messageId);
    for (const record of event.Records) deliveries.push({ queue: record.eventSourceARN, record, batch });
    const thrower = event.Records.find((r) => {
      const b = bodyOf(r);
      return b.throwUntil !== undefined && receiveCount(r) < b.throwUntil;
    });
    if (thrower) throw new Error(`failing ${bodyOf(thrower).id} on purpose`);
    if (event.Records.some((r) => bodyOf(r).bogus && receiveCount(r) === 1)) {
      return { batchItemFailures: [{ itemIdentifier: 'not-a-message-id' }] };
    }
    return {
      batchItemFailures: event.Records.filter((r) => bodyOf(r).fail).map((r) => ({ itemIdentifier: r.messageId })),
    };
  },
  'run-tasks': async (event: SQSEvent) => {
    const batch = event.Records.map((r) => r.messageId);
    for (const record of event.Records) deliveries.push({ queue: record.eventSourceARN, record, batch });
    return { batchItemFailures: event.Records.filter((r) => bodyOf(r).fail).map((r) => ({ itemIdentifier: r.messageId })) };
  },
  'record-dead-letters': async (event: SQSEvent) => {
    deadLetters.push(...event.Records);
  },
  'sweep-enqueueing': async () => ({ swept: 0 }),
  'sample-load': async () => ({ sampled: 0 }),
};

let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    // Many requests with one key: the per-key limits have a suite of their own (keys-and-limits).
    usageLimits: false,
    port: 0,
    handlers,
    visibilityTimeoutSeconds: 1,
    pollerConcurrency: { main: 2, priority: 1, tasks: 1 },
    env: { [ENV.maxBodyBytes]: String(MAX_BODY), [ENV.adminKey]: 'root' },
    schedules: false,
    logger: silentLogger,
  });
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
});

async function call(path: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('Authorization', init.token);
  const res = await fetch(`${runtime.apiUrl}${path}`, { ...init, headers });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

describe('environment', () => {
  it('gives the handlers the table, queue URLs, endpoints and local settings', () => {
    const env = runtime.env;
    expect(env[ENV.tableName]).toBe('image-queue');
    for (const q of Object.values(QUEUES)) expect(process.env[q.urlEnv]).toMatch(/^http:\/\//);
    for (const name of Object.values(DLQ_URL_ENV)) expect(env[name]).toMatch(/-dlq$/);
    expect(process.env[SERVICE_ENDPOINT_ENV.dynamodb]).toBe(runtime.dynamoEndpoint);
    expect(process.env[SERVICE_ENDPOINT_ENV.sqs]).toBe(runtime.sqsEndpoint);
    expect(process.env[ENV.allowPrivateOrigins]).toBe('true');
    expect(process.env[ENV.adminKey]).toBe('root');
    expect(process.env[ENV.adminSecret]).toBe('local-admin-secret');
  });
});

describe('API Gateway emulation', () => {
  it('answers 404 JSON for an unknown path', async () => {
    for (const path of ['/', '/nope', '/customers/1/queue/unknown']) {
      const res = await call(path);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.json).toMatchObject({ '@type': 'Error', statusCode: 404 });
    }
  });

  it('answers 405 with Allow for a method the resource does not have', async () => {
    const res = await call('/customers/1/queue/priority');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    const keys = await call('/customers/1/keys', { method: 'PUT' });
    expect(keys.status).toBe(405);
    expect(keys.headers.get('allow')).toBe('GET, POST, HEAD');
    expect(keys.json).toMatchObject({ statusCode: 405 });
  });

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const big = 'x'.repeat(MAX_BODY + 1);
    const declared = await call('/customers/1/queue', { method: 'POST', body: big, token: 'Bearer good' });
    expect(declared.status).toBe(413);
    expect(declared.json).toMatchObject({ statusCode: 413 });

    // Chunked, no Content-Length: the limit is enforced while reading.
    const streamed = await new Promise<{ status: number; body: string }>((done, fail) => {
      const url = new URL('/customers/1/queue', runtime.apiUrl);
      const req = request(url, { method: 'POST', headers: { Authorization: 'Bearer good', 'Content-Type': 'application/json' } });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', fail);
      req.write('x'.repeat(600));
      setImmediate(() => {
        req.write('x'.repeat(600));
        req.end();
      });
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toMatchObject({ statusCode: 413 });

    const atLimit = await call('/customers/1/queue', { method: 'POST', body: 'y'.repeat(MAX_BODY), token: 'Bearer good' });
    expect(atLimit.status).toBe(200);
  });

  it('serves public routes without calling the authorizer', async () => {
    const before = authorizerCalls.length;
    const res = await call('/queue');
    expect(res.status).toBe(200);
    expect(res.json.requestContext.authorizer).toBeNull();
    expect(authorizerCalls.length).toBe(before);
  });

  it('answers 401 with WWW-Authenticate when credentials are missing or rejected', async () => {
    for (const token of [undefined, 'Bearer wrong']) {
      const res = await call('/customers/1/queue', { token });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="image-queue", Bearer');
      expect(res.json).toMatchObject({ statusCode: 401 });
    }
  });

  it('answers 403 when the policy does not allow the method ARN (Deny wins, wildcards)', async () => {
    expect((await call('/customers/1/queue', { token: 'Bearer deny' })).status).toBe(403);
    expect((await call('/customers/1/queue', { token: 'Bearer limited' })).status).toBe(200);
    expect((await call('/customers/3/queue', { token: 'Bearer limited' })).status).toBe(403); // explicit Deny
    expect((await call('/customers/12/queue', { token: 'Bearer limited' })).status).toBe(403); // ? is one char
    expect((await call('/customers/1/queue', { method: 'POST', body: '{}', token: 'Bearer limited' })).status).toBe(403);
    const res = await call('/customers/1/queue', { token: 'Bearer deny' });
    expect(res.json).toMatchObject({ statusCode: 403 });
  });

  it('answers 500 when the authorizer fails otherwise, 502 when the handler throws or misbehaves', async () => {
    expect((await call('/customers/1/queue', { token: 'Bearer broken' })).status).toBe(500);
    const thrown = await call('/customers/1/queue', { method: 'POST', body: 'explode', token: 'Bearer good' });
    expect(thrown.status).toBe(502);
    expect(thrown.json).toMatchObject({ statusCode: 502, detail: 'Internal server error' });
    expect((await call('/customers/1/queue', { method: 'POST', body: 'malformed', token: 'Bearer good' })).status).toBe(502);
  });

  it('calls the authorizer with the TOKEN event and the method ARN', async () => {
    await call('/customers/5/queue/batches', { token: 'Bearer good' });
    expect(authorizerCalls.at(-1)).toEqual({
      type: 'TOKEN',
      authorizationToken: 'Bearer good',
      methodArn: 'arn:aws:execute-api:local:000000000000:local/local/GET/customers/5/queue/batches',
    });
  });

  it('builds a REST (v1) proxy event', async () => {
    const res = await call('/customers/7/queue/batches/42/images?page=2&tag=a&tag=b', {
      token: 'Bearer good',
      headers: { 'X-Test': 'one' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-echo')).toBe('yes');
    expect(res.headers.get('set-cookie')).toBe('a=1, b=2');
    const event = res.json as APIGatewayProxyEvent;
    expect(event).toMatchObject({
      resource: '/customers/{customer}/queue/batches/{batch}/images',
      path: '/customers/7/queue/batches/42/images',
      httpMethod: 'GET',
      pathParameters: { customer: '7', batch: '42' },
      queryStringParameters: { page: '2', tag: 'b' },
      multiValueQueryStringParameters: { page: ['2'], tag: ['a', 'b'] },
      body: null,
      isBase64Encoded: false,
      stageVariables: null,
    });
    const header = (name: string) => Object.entries(event.headers).find(([k]) => k.toLowerCase() === name)?.[1];
    expect(header('x-test')).toBe('one');
    expect(header('authorization')).toBe('Bearer good');
    expect(header('host')).toBe(new URL(runtime.apiUrl).host);
    expect(header('x-forwarded-proto')).toBe('http');
    expect(Object.entries(event.multiValueHeaders).find(([k]) => k.toLowerCase() === 'x-test')?.[1]).toEqual(['one']);
    expect(event.requestContext).toMatchObject({
      stage: 'local',
      path: '/customers/7/queue/batches/42/images',
      resourcePath: '/customers/{customer}/queue/batches/{batch}/images',
      httpMethod: 'GET',
      domainName: new URL(runtime.apiUrl).host,
      identity: { sourceIp: '127.0.0.1' },
      authorizer: { principalId: 'customer-1', customer: '1', admin: 'false', name: 'one' },
    });
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-amzn-requestid')).toBe(event.requestContext.requestId);

    const encoded = await call('/customers/7/spaces/3/images/a%20b', { token: 'Bearer good' });
    expect(encoded.json.pathParameters).toEqual({ customer: '7', space: '3', image: 'a b' });
    expect(encoded.json.queryStringParameters).toBeNull();
  });

  it('passes text bodies as strings and binary bodies as base64', async () => {
    const json = await call('/customers/7/queue', {
      method: 'POST',
      token: 'Bearer good',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ member: [] }),
    });
    expect(json.json).toMatchObject({ body: '{"member":[]}', isBase64Encoded: false, resource: '/customers/{customer}/queue' });
    const binary = await call('/customers/7/queue/priority', {
      method: 'POST',
      token: 'Bearer good',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array([0, 1, 2, 255]),
    });
    expect(binary.json).toMatchObject({ body: Buffer.from([0, 1, 2, 255]).toString('base64'), isBase64Encoded: true });
  });
});

describe('SQS event source', () => {
  const mainUrl = () => runtime.env[QUEUES.main.urlEnv] as string;

  async function queueDepth(url: string): Promise<number> {
    const { Attributes } = await runtime.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages) +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible) +
      Number(Attributes?.ApproximateNumberOfMessagesDelayed)
    );
  }

  async function waitUntilEmpty(url: string) {
    const deadline = Date.now() + 30_000;
    while ((await queueDepth(url)) > 0) {
      if (Date.now() > deadline) throw new Error(`queue ${url} did not drain`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const of = (id: string) => deliveries.filter((d) => bodyOf(d.record).id === id);

  it('delivers a message to the consumer as an SQS record', async () => {
    const { MessageId } = await runtime.sqs.send(
      new SendMessageCommand({
        QueueUrl: mainUrl(),
        MessageBody: JSON.stringify({ id: 'shape-1' }),
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'ingest' } },
      }),
    );
    const [delivery] = await waitFor('shape-1', () => of('shape-1').length > 0 && of('shape-1'));
    expect(delivery!.record).toMatchObject({
      messageId: MessageId,
      body: JSON.stringify({ id: 'shape-1' }),
      eventSource: 'aws:sqs',
      eventSourceARN: expect.stringMatching(/^arn:aws:sqs:us-east-1:\d{12}:image-queue-Main$/),
      awsRegion: 'us-east-1',
      md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/),
      messageAttributes: { kind: { dataType: 'String', stringValue: 'ingest' } },
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
      },
    });
    expect(delivery!.record.receiptHandle).toEqual(expect.any(String));
    await waitUntilEmpty(mainUrl());
  });

  it('redelivers only the failed record of a batch, then dead-letters it after maxReceiveCount', async () => {
    runtime.pollers!.pause('main');
    await runtime.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: mainUrl(),
        Entries: [
          { Id: 'ok', MessageBody: JSON.stringify({ id: 'batch-ok' }) },
          { Id: 'fail', MessageBody: JSON.stringify({ id: 'batch-fail', fail: true }) },
        ],
      }),
    );
    runtime.pollers!.resume('main');
    const dead = await waitFor('batch-fail in the DLQ', () => deadLetters.find((r) => bodyOf(r).id === 'batch-fail'));
    expect(dead.eventSourceARN).toMatch(/:image-queue-Main-dlq$/);
    expect(of('batch-ok')).toHaveLength(1);
    const failed = of('batch-fail');
    expect(failed.map((d) => receiveCount(d.record))).toEqual(Array.from({ length: QUEUES.main.maxReceiveCount }, (_, i) => i + 1));
    await waitUntilEmpty(mainUrl());
    await waitUntilEmpty(runtime.env[DLQ_URL_ENV.main] as string);
  });

  it('keeps a task message that kept failing in the tasks dead-letter queue: nothing consumes it', async () => {
    const tasksUrl = runtime.env[QUEUES.tasks.urlEnv] as string;
    const dlqUrl = runtime.env[DLQ_URL_ENV.tasks] as string;
    expect(POLLER_NAMES).not.toContain('tasks-dlq');
    const { MessageId } = await runtime.sqs.send(
      new SendMessageCommand({ QueueUrl: tasksUrl, MessageBody: JSON.stringify({ id: 'task-fail', fail: true }) }),
    );
    await waitFor('task-fail delivered maxReceiveCount times', () => of('task-fail').length >= QUEUES.tasks.maxReceiveCount);
    await waitUntilEmpty(tasksUrl);
    expect(of('task-fail').map((d) => receiveCount(d.record))).toEqual(
      Array.from({ length: QUEUES.tasks.maxReceiveCount }, (_, i) => i + 1),
    );
    expect(await queueDepth(dlqUrl)).toBe(1);
    // It stays: a consumer would take it within one long poll (1 s); watch for three.
    const watchUntil = Date.now() + 3_000;
    while (Date.now() < watchUntil) {
      expect(await queueDepth(dlqUrl)).toBe(1);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(deadLetters.some((r) => bodyOf(r).id === 'task-fail')).toBe(false);
    // A person can read it as it was sent (and redrive it).
    const { Messages = [] } = await runtime.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages.map((m) => [m.MessageId, m.Body])).toEqual([[MessageId, JSON.stringify({ id: 'task-fail', fail: true })]]);
    await runtime.sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: Messages[0]!.ReceiptHandle }));
  });

  it('deletes nothing when the handler throws: the message comes back after the visibility timeout', async () => {
    await runtime.sqs.send(new SendMessageCommand({ QueueUrl: mainUrl(), MessageBody: JSON.stringify({ id: 'throw-1', throwUntil: 3 }) }));
    await waitFor('throw-1 succeeds', () => of('throw-1').some((d) => receiveCount(d.record) === 3));
    await waitUntilEmpty(mainUrl());
    expect(of('throw-1').map((d) => receiveCount(d.record))).toEqual([1, 2, 3]);
    expect(deadLetters.some((r) => bodyOf(r).id === 'throw-1')).toBe(false);
  });

  it('treats an unknown itemIdentifier as a failure of the whole batch', async () => {
    runtime.pollers!.pause('main');
    await runtime.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: mainUrl(),
        Entries: [
          { Id: 'a', MessageBody: JSON.stringify({ id: 'bogus-1', bogus: true }) },
          { Id: 'b', MessageBody: JSON.stringify({ id: 'bogus-peer' }) },
        ],
      }),
    );
    runtime.pollers!.resume('main');
    await waitFor('bogus batch redelivered', () => of('bogus-1').length >= 2 && of('bogus-peer').length >= 2);
    await waitUntilEmpty(mainUrl());
    const first = of('bogus-1')[0]!;
    // Both were in the first batch (the poller was paused while they were sent) and both came back.
    expect(first.batch).toHaveLength(2);
    expect(of('bogus-peer').map((d) => receiveCount(d.record))).toEqual([1, 2]);
  });
});

describe('pure rules', () => {
  const records = ['a', 'b', 'c'].map((messageId) => ({ messageId }) as SQSRecord);
  it('applies ReportBatchItemFailures semantics', () => {
    expect(recordsToDelete(records, undefined)).toHaveLength(3);
    expect(recordsToDelete(records, { batchItemFailures: [] })).toHaveLength(3);
    expect(recordsToDelete(records, { batchItemFailures: null })).toHaveLength(3);
    expect(recordsToDelete(records, { batchItemFailures: [{ itemIdentifier: 'b' }] }).map((r) => r.messageId)).toEqual(['a', 'c']);
    expect(recordsToDelete(records, { batchItemFailures: [{ itemIdentifier: '' }] })).toEqual([]);
    expect(recordsToDelete(records, { batchItemFailures: [{ itemIdentifier: 'zzz' }] })).toEqual([]);
    expect(recordsToDelete(records, { batchItemFailures: [{}] })).toEqual([]);
  });
  it('evaluates IAM wildcards', () => {
    expect(wildcardMatch('a*c', 'abbbc')).toBe(true);
    expect(wildcardMatch('a?c', 'abbc')).toBe(false);
    expect(wildcardMatch('a.c', 'abc')).toBe(false);
    const arn = 'arn:aws:execute-api:local:000000000000:local/local/GET/queue';
    expect(policyAllows({ Version: '2012-10-17', Statement: [] }, arn)).toBe(false);
    expect(
      policyAllows(
        { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: ['arn:aws:execute-api:*'] }] },
        arn,
      ),
    ).toBe(true);
  });
});

describe('stop', () => {
  // The runtime uses the run's shared DynamoDB Local (test/support/integration-setup.ts); that a
  // runtime's own Java process stops with it is external-endpoints.test.ts's to check.
  it('stops everything and drops its tables from the shared DynamoDB Local', async () => {
    expect(runtime.dynamoPid).toBeUndefined();
    const tables = async () => {
      const client = localDynamoClient(runtime.dynamoUpstreamEndpoint, runtime.region, runtime.credentials);
      try {
        return (await client.send(new ListTablesCommand({}))).TableNames ?? [];
      } finally {
        client.destroy();
      }
    };
    expect(await tables()).toEqual(['image-queue', 'image-queue-credentials']);
    expect(await runtime.schedules.runNow('sampleLoad')).toEqual({ sampled: 0 });
    await runtime.stop();
    expect(await tables()).toEqual([]);
    expect(process.env[SERVICE_ENDPOINT_ENV.dynamodb]).toBeUndefined();
    expect(process.env[ENV.tableName]).toBeUndefined();
    await expect(fetch(`${runtime.apiUrl}/queue`)).rejects.toThrow();
    await runtime.stop(); // idempotent
  });
});
