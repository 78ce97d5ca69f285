/**
 * The local runtime against services it did not start (what `AWS_ENDPOINT_URL=… npm start` does
 * with LocalStack): a DynamoDB Local and an SQS emulator started here play the external services.
 * The runtime must start no Java process of its own, create the table and queues there (again
 * without failing, when they exist), serve the API, and leave the external services alone on stop.
 * Also: the strict DynamoDB proxy's wiring (on by default for DynamoDB Local, off by default for an
 * external DynamoDB, STRICT_DYNAMODB, every client on the proxy's endpoint, stopped on stop()).
 */
import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { SERVICE_ENDPOINT_ENV } from '../../lambdas/adapters/aws-clients';
import { ENV, QUEUES } from '../../lambdas/config/resources';
import { type DynamoDbLocal, isProcessAlive, type SqsEmulator, startDynamoDbLocal, startSqsEmulator } from '../../local/emulators';
import { silentLogger } from '../../local/handlers';
import { DLQ_URL_ENV, type LocalCredentials, localDynamoClient, localSqsClient, queueNameFor } from '../../local/provision';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../local/runtime';
import { DEFAULT_STRICT_OPTIONS, STRICT_DYNAMODB_ENV } from '../../local/strict-dynamodb';

jest.setTimeout(120_000);

const ADMIN = `Basic ${Buffer.from('admin:local-admin-secret').toString('base64')}`;

let dynamoDb: DynamoDbLocal;
let sqsEmulator: SqsEmulator;
const started: LocalRuntime[] = [];

beforeAll(async () => {
  [dynamoDb, sqsEmulator] = await Promise.all([startDynamoDbLocal(), startSqsEmulator()]);
}, 60_000);

// The developer's STRICT_DYNAMODB must not decide what these tests see: each sets its own.
const shellStrict = process.env[STRICT_DYNAMODB_ENV];
beforeEach(() => {
  delete process.env[STRICT_DYNAMODB_ENV];
});

afterEach(async () => {
  // stop() is idempotent: runtimes a test already stopped are stopped again harmlessly.
  for (const r of started.splice(0)) await r.stop();
  if (shellStrict === undefined) delete process.env[STRICT_DYNAMODB_ENV];
  else process.env[STRICT_DYNAMODB_ENV] = shellStrict;
});

afterAll(async () => {
  await Promise.all([dynamoDb?.stop(), sqsEmulator?.stop()]);
});

async function start(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const runtime = await startLocalRuntime({
    // What each runtime starts (or not) and stops is what this suite checks: no shared DynamoDB Local.
    sharedDynamoDbLocal: false,
    port: 0,
    pollers: false,
    schedules: false,
    logger: silentLogger,
    ...options,
  });
  started.push(runtime);
  return runtime;
}

async function tables(region = 'us-east-1', credentials?: LocalCredentials): Promise<string[]> {
  const client = localDynamoClient(dynamoDb.endpoint, region, credentials);
  try {
    return (await client.send(new ListTablesCommand({}))).TableNames ?? [];
  } finally {
    client.destroy();
  }
}

async function queueUrls(prefix: string, region = 'us-east-1', credentials?: LocalCredentials): Promise<string[]> {
  const client = localSqsClient(sqsEmulator.endpoint, region, credentials);
  try {
    return (await client.send(new ListQueuesCommand({ QueueNamePrefix: prefix }))).QueueUrls ?? [];
  } finally {
    client.destroy();
  }
}

async function visibilityTimeout(queueUrl: string, region = 'us-east-1', credentials?: LocalCredentials): Promise<string | undefined> {
  const client = localSqsClient(sqsEmulator.endpoint, region, credentials);
  try {
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['VisibilityTimeout'] }));
    return Attributes?.VisibilityTimeout;
  } finally {
    client.destroy();
  }
}

/** The API answers: the public route and an admin-authenticated read of the table. */
async function expectApiAnswers(runtime: LocalRuntime): Promise<void> {
  const queue = await fetch(`${runtime.apiUrl}/queue`);
  expect(queue.status).toBe(200);
  expect(await queue.json()).toMatchObject({ '@type': 'vocab:Queue' });
  const customerQueue = await fetch(`${runtime.apiUrl}/customers/1/queue`, { headers: { Authorization: ADMIN } });
  expect(customerQueue.status).toBe(200);
  expect(await customerQueue.json()).toMatchObject({ '@type': 'vocab:CustomerQueue' });
  const anonymous = await fetch(`${runtime.apiUrl}/customers/1/queue`);
  expect(anonymous.status).toBe(401);
}

const allQueueNames = (prefix: string) =>
  (Object.keys(QUEUES) as Array<keyof typeof QUEUES>).flatMap((q) => [queueNameFor(prefix, q), queueNameFor(prefix, q, true)]).sort();

describe('external DynamoDB and SQS', () => {
  const prefix = 'ext-both';
  let firstUrls: Record<string, string>;

  it('starts no emulator, creates the table and queues there and serves the API', async () => {
    // STRICT_DYNAMODB unset: no strict proxy in front of an external DynamoDB.
    const runtime = await start({ dynamoEndpoint: dynamoDb.endpoint, sqsEndpoint: sqsEmulator.endpoint, prefix });
    expect(runtime.strict).toBeUndefined();
    expect(runtime.dynamoUpstreamEndpoint).toBe(dynamoDb.endpoint);
    expect(runtime.dynamoPid).toBeUndefined();
    expect(runtime.dynamoExternal).toBe(true);
    expect(runtime.sqsExternal).toBe(true);
    expect(runtime.dynamoEndpoint).toBe(dynamoDb.endpoint);
    expect(runtime.sqsEndpoint).toBe(sqsEmulator.endpoint);
    expect(runtime.env[SERVICE_ENDPOINT_ENV.dynamodb]).toBe(dynamoDb.endpoint);
    expect(runtime.env[SERVICE_ENDPOINT_ENV.sqs]).toBe(sqsEmulator.endpoint);
    expect(runtime.env[ENV.tableName]).toBe(prefix);

    expect(await tables()).toContain(prefix);
    const urls = await queueUrls(prefix);
    expect(urls.map((u) => u.split('/').pop()).sort()).toEqual(allQueueNames(prefix));
    for (const q of Object.values(QUEUES)) expect(urls).toContain(runtime.env[q.urlEnv]);
    for (const name of Object.values(DLQ_URL_ENV)) expect(urls).toContain(runtime.env[name]);
    firstUrls = { ...runtime.env };

    await expectApiAnswers(runtime);

    await runtime.stop();
    // The external services are left alone: still up, table and queues still there.
    expect(await tables()).toContain(prefix);
    expect(await queueUrls(prefix)).toHaveLength(allQueueNames(prefix).length);
    expect(isProcessAlive(dynamoDb.pid)).toBe(true);
    expect(process.env[SERVICE_ENDPOINT_ENV.dynamodb]).toBeUndefined();
  });

  it('starts again against the same services (existing table and queues, other queue attributes)', async () => {
    expect(firstUrls).toBeDefined();
    // Other visibility timeouts: CreateQueue answers QueueNameExists, the attributes are updated.
    const runtime = await start({
      dynamoEndpoint: dynamoDb.endpoint,
      sqsEndpoint: sqsEmulator.endpoint,
      prefix,
      strict: false,
      visibilityTimeoutSeconds: 7,
    });
    for (const q of Object.values(QUEUES)) {
      expect(runtime.env[q.urlEnv]).toBe(firstUrls[q.urlEnv]);
      expect(await visibilityTimeout(runtime.env[q.urlEnv] as string)).toBe('7');
    }
    for (const name of Object.values(DLQ_URL_ENV)) {
      expect(runtime.env[name]).toBe(firstUrls[name]);
      expect(await visibilityTimeout(runtime.env[name] as string)).toBe('7');
    }
    expect(await queueUrls(prefix)).toHaveLength(allQueueNames(prefix).length);
    await expectApiAnswers(runtime);
    await runtime.stop();

    // And once more with the same attributes (CreateQueue itself succeeds).
    const third = await start({
      dynamoEndpoint: dynamoDb.endpoint,
      sqsEndpoint: sqsEmulator.endpoint,
      prefix,
      strict: false,
      visibilityTimeoutSeconds: 7,
    });
    expect(third.env[QUEUES.main.urlEnv]).toBe(firstUrls[QUEUES.main.urlEnv]);
    await third.stop();
  });

  it('provisions with the region and credentials it is given (as LocalStack namespaces them)', async () => {
    const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
    const runtime = await start({
      dynamoEndpoint: dynamoDb.endpoint,
      sqsEndpoint: sqsEmulator.endpoint,
      prefix: 'ext-region',
      strict: false,
      region: 'eu-west-1',
      credentials,
    });
    expect(runtime.region).toBe('eu-west-1');
    expect(process.env.AWS_REGION).toBe('eu-west-1');
    expect(process.env.AWS_ACCESS_KEY_ID).toBe('test');
    const urls = await queueUrls('ext-region', 'eu-west-1', credentials);
    expect(urls).toHaveLength(allQueueNames('ext-region').length);
    for (const url of urls) expect(url).toContain('eu-west-1'); // fauxqs: the region of the request's signature
    expect(await tables('eu-west-1', credentials)).toContain('ext-region');
    // DynamoDB Local keeps one database per access key and region: the same ones must be used everywhere.
    expect(await tables()).not.toContain('ext-region');
    await expectApiAnswers(runtime);
    await runtime.stop();
  });
});

describe('mixed', () => {
  it('external DynamoDB with the embedded SQS emulator', async () => {
    const runtime = await start({ dynamoEndpoint: dynamoDb.endpoint, prefix: 'mixed-dynamo', strict: false });
    expect(runtime.dynamoPid).toBeUndefined();
    expect(runtime.dynamoExternal).toBe(true);
    expect(runtime.sqsExternal).toBe(false);
    expect(runtime.sqsEndpoint).not.toBe(sqsEmulator.endpoint);
    expect(await tables()).toContain('mixed-dynamo');
    expect(await queueUrls('mixed-dynamo')).toHaveLength(0); // not in the external SQS
    await expectApiAnswers(runtime);
    const embeddedSqs = runtime.sqsEndpoint;
    await runtime.stop();
    expect(isProcessAlive(dynamoDb.pid)).toBe(true);
    expect(await tables()).toContain('mixed-dynamo');
    await expect(fetch(embeddedSqs)).rejects.toThrow(); // the embedded emulator is stopped
  });

  it('embedded DynamoDB Local with an external SQS', async () => {
    process.env[STRICT_DYNAMODB_ENV] = 'off';
    const runtime = await start({ sqsEndpoint: sqsEmulator.endpoint, prefix: 'mixed-sqs' });
    expect(runtime.strict).toBeUndefined();
    expect(runtime.dynamoEndpoint).toBe(runtime.dynamoUpstreamEndpoint);
    expect(runtime.dynamoExternal).toBe(false);
    expect(runtime.sqsExternal).toBe(true);
    const pid = runtime.dynamoPid;
    expect(pid).toBeDefined();
    expect(isProcessAlive(pid)).toBe(true);
    expect(runtime.dynamoEndpoint).not.toBe(dynamoDb.endpoint);
    expect(await tables()).not.toContain('mixed-sqs'); // not in the external DynamoDB
    expect(await queueUrls('mixed-sqs')).toHaveLength(allQueueNames('mixed-sqs').length);
    await expectApiAnswers(runtime);
    await runtime.stop();
    expect(isProcessAlive(pid)).toBe(false);
    expect(await queueUrls('mixed-sqs')).toHaveLength(allQueueNames('mixed-sqs').length);
  });
});

describe('table readiness', () => {
  it('refuses an existing table that lacks the indexes, naming the prefix variable', async () => {
    const client = localDynamoClient(dynamoDb.endpoint);
    try {
      const { CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
      await client.send(
        new CreateTableCommand({
          TableName: 'old-layout',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
      expect((await client.send(new DescribeTableCommand({ TableName: 'old-layout' }))).Table?.TableStatus).toBe('ACTIVE');
    } finally {
      client.destroy();
    }
    await expect(
      start({ dynamoEndpoint: dynamoDb.endpoint, sqsEndpoint: sqsEmulator.endpoint, prefix: 'old-layout', strict: false }),
    ).rejects.toThrow(/LOCAL_PREFIX/);
    expect(process.env[SERVICE_ENDPOINT_ENV.dynamodb]).toBeUndefined();
  });
});

describe('strict DynamoDB mode', () => {
  it('is on by default in front of DynamoDB Local: every client uses the proxy, stop() stops it', async () => {
    const runtime = await start({ sqsEndpoint: sqsEmulator.endpoint, prefix: 'strict-default' });
    const proxy = runtime.strict;
    expect(proxy).toBeDefined();
    expect(proxy?.options).toEqual(DEFAULT_STRICT_OPTIONS);
    expect(runtime.dynamoEndpoint).toBe(proxy?.endpoint);
    expect(runtime.dynamoUpstreamEndpoint).not.toBe(runtime.dynamoEndpoint);
    expect(runtime.env[SERVICE_ENDPOINT_ENV.dynamodb]).toBe(proxy?.endpoint);
    expect(process.env[SERVICE_ENDPOINT_ENV.dynamodb]).toBe(proxy?.endpoint);
    // The table was provisioned upstream and is seen through the proxy.
    const client = localDynamoClient(runtime.dynamoEndpoint);
    try {
      expect((await client.send(new DescribeTableCommand({ TableName: 'strict-default' }))).Table?.TableStatus).toBe('ACTIVE');
    } finally {
      client.destroy();
    }
    const before = proxy?.stats().requests ?? 0;
    // Random throttles/500s may hit a read; the SDK retries them, so the API still answers.
    await expectApiAnswers(runtime);
    expect(proxy?.stats().requests).toBeGreaterThan(before);
    const pid = runtime.dynamoPid;
    await runtime.stop();
    await expect(fetch(runtime.dynamoEndpoint, { method: 'POST' })).rejects.toThrow();
    expect(isProcessAlive(pid)).toBe(false);
  });

  it('is off by default for an external DynamoDB, on when STRICT_DYNAMODB is set, with its settings', async () => {
    process.env[STRICT_DYNAMODB_ENV] = 'conflictWindowMs=5,throttleRate=0,errorRate=0,gsiLagMs=0';
    const runtime = await start({ dynamoEndpoint: dynamoDb.endpoint, sqsEndpoint: sqsEmulator.endpoint, prefix: 'strict-ext' });
    expect(runtime.strict?.options).toEqual({ ...DEFAULT_STRICT_OPTIONS, conflictWindowMs: 5, throttleRate: 0, errorRate: 0, gsiLagMs: 0 });
    expect(runtime.dynamoUpstreamEndpoint).toBe(dynamoDb.endpoint);
    expect(runtime.dynamoEndpoint).toBe(runtime.strict?.endpoint);
    expect(runtime.env[SERVICE_ENDPOINT_ENV.dynamodb]).toBe(runtime.strict?.endpoint);
    await expectApiAnswers(runtime);
    expect(runtime.strict?.stats().requests).toBeGreaterThan(0);
    const proxyEndpoint = runtime.dynamoEndpoint;
    await runtime.stop();
    await expect(fetch(proxyEndpoint, { method: 'POST' })).rejects.toThrow();
    expect(isProcessAlive(dynamoDb.pid)).toBe(true); // the external DynamoDB is left alone
    expect(await tables()).toContain('strict-ext');
  });

  it('explicit options win over STRICT_DYNAMODB, both ways', async () => {
    process.env[STRICT_DYNAMODB_ENV] = 'on';
    const off = await start({
      dynamoEndpoint: dynamoDb.endpoint,
      sqsEndpoint: sqsEmulator.endpoint,
      prefix: 'strict-explicit',
      strict: false,
    });
    expect(off.strict).toBeUndefined();
    await off.stop();
    process.env[STRICT_DYNAMODB_ENV] = 'off';
    const options = { ...DEFAULT_STRICT_OPTIONS, throttleRate: 0, errorRate: 0 };
    const on = await start({
      dynamoEndpoint: dynamoDb.endpoint,
      sqsEndpoint: sqsEmulator.endpoint,
      prefix: 'strict-explicit',
      strict: options,
    });
    expect(on.strict?.options).toEqual(options);
    await expectApiAnswers(on);
  });

  it('refuses a malformed STRICT_DYNAMODB before starting anything', async () => {
    process.env[STRICT_DYNAMODB_ENV] = 'conflictWindow=oops';
    await expect(start({ dynamoEndpoint: dynamoDb.endpoint, sqsEndpoint: sqsEmulator.endpoint, prefix: 'strict-bad' })).rejects.toThrow(
      /STRICT_DYNAMODB/,
    );
    expect(process.env[SERVICE_ENDPOINT_ENV.dynamodb]).toBeUndefined();
    // Nothing was provisioned in the external services either.
    expect(await tables()).not.toContain('strict-bad');
  });
});
