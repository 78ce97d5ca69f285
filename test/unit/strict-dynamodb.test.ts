/**
 * The AWS-faithful DynamoDB proxy (local/strict-dynamodb.ts) in front of a real DynamoDB Local,
 * driven by the real SDK v3 clients: transaction conflicts both ways, ClientRequestToken retries
 * after a 500 that was applied, per-partition-key ceilings (single, batch and transactional
 * writes, reads), GSI propagation lag, random throttles and 500s (option parsing is in
 * strict-dynamodb-options.test.ts). Clocks and random draws are injected wherever a test needs
 * them to be exact.
 */
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  InternalServerError,
  ListTablesCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
  TransactionInProgressException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../local/emulators';
import {
  DEFAULT_STRICT_OPTIONS,
  type StrictDynamoOptions,
  type StrictDynamoProxy,
  startStrictDynamoProxy,
} from '../../local/strict-dynamodb';

const TABLE = 'strict-proxy-test';
const INDEX = 'byG';
/** No random faults, no lag, generous ceilings: each test switches on what it examines. */
const QUIET: StrictDynamoOptions = {
  ...DEFAULT_STRICT_OPTIONS,
  throttleRate: 0,
  errorRate: 0,
  gsiLagMs: 0,
};

let dynamo: DynamoDbLocal;
const proxies: StrictDynamoProxy[] = [];
const clients: DynamoDBClient[] = [];
const cleanups: (() => Promise<void>)[] = [];

function client(endpoint: string, maxAttempts?: number): DynamoDBClient {
  const c = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  });
  clients.push(c);
  return c;
}

async function proxy(
  options: Partial<StrictDynamoOptions>,
  extra?: Parameters<typeof startStrictDynamoProxy>[2],
  target = dynamo.endpoint,
): Promise<StrictDynamoProxy> {
  const p = await startStrictDynamoProxy(target, { ...QUIET, ...options }, extra);
  proxies.push(p);
  return p;
}

/** Polls until `check` returns true (no fixed sleeps). */
async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** What a rejected promise threw. */
async function failure(promise: Promise<unknown>): Promise<Error & { $metadata?: { attempts?: number; httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

const key = (pk: string, sk = '-') => ({ pk: { S: pk }, sk: { S: sk } });
const add = (pk: string, sk = '-'): TransactWriteItem => ({
  Update: {
    TableName: TABLE,
    Key: key(pk, sk),
    UpdateExpression: 'ADD n :one',
    ExpressionAttributeValues: { ':one': { N: '1' } },
  },
});
const put = (pk: string, sk = '-', extra: Record<string, { S: string }> = {}) =>
  new PutItemCommand({ TableName: TABLE, Item: { ...key(pk, sk), ...extra } });

/** The item as stored (read from DynamoDB Local directly, bypassing the proxy). */
async function stored(pk: string, sk = '-') {
  return (await client(dynamo.endpoint).send(new GetItemCommand({ TableName: TABLE, Key: key(pk, sk), ConsistentRead: true }))).Item;
}
const counter = async (pk: string, sk = '-') => Number((await stored(pk, sk))?.n?.N ?? 0);

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  await client(dynamo.endpoint).send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'g', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        { IndexName: INDEX, KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
      ],
    }),
  );
}, 60_000);

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
  await Promise.all(cleanups.splice(0).map((stop) => stop()));
  for (const c of clients.splice(0)) c.destroy();
});

afterAll(async () => {
  await dynamo?.stop();
});

/**
 * An upstream in front of DynamoDB Local that records each operation and can hold chosen ones
 * for a while (a slow write), to see what the proxy sends upstream and to keep a write in flight.
 */
async function spyUpstream(delayMs: (op: string) => number = () => 0) {
  const ops: string[] = [];
  const bodies: { op: string; input: Record<string, unknown> }[] = [];
  const agent = new Agent({ keepAlive: true });
  const target = new URL(dynamo.endpoint);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const op = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      ops.push(op);
      bodies.push({ op, input: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown> });
      setTimeout(() => {
        const up = httpRequest(
          { hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers, agent },
          (r) => {
            res.writeHead(r.statusCode ?? 500, r.headers);
            r.pipe(res);
          },
        );
        up.on('error', () => res.destroy());
        up.end(Buffer.concat(chunks));
      }, delayMs(op));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  cleanups.push(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
        agent.destroy();
      }),
  );
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ops, bodies };
}

describe('transaction conflicts', () => {
  it('cancels a transaction on an item another one holds, refuses single and batch writes on it, and lets them through after', async () => {
    const p = await proxy({ conflictWindowMs: 500 });
    const raw = client(p.endpoint); // SDK default retries: conflicts must not be retried
    const doc = DynamoDBDocumentClient.from(raw);
    await raw.send(new GetItemCommand({ TableName: TABLE, Key: key('warm') })); // key schema cached
    p.resetStats();

    const holder = raw.send(new TransactWriteItemsCommand({ TransactItems: [add('tc-a')] }));
    await waitFor(() => p.stats().requests === 1);

    const cancelled = await failure(
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: TABLE,
                Key: { pk: 'tc-b', sk: '-' },
                UpdateExpression: 'ADD n :one',
                ExpressionAttributeValues: { ':one': 1 },
              },
            },
            {
              Update: {
                TableName: TABLE,
                Key: { pk: 'tc-a', sk: '-' },
                UpdateExpression: 'ADD n :one',
                ExpressionAttributeValues: { ':one': 1 },
              },
            },
          ],
        }),
      ),
    );
    expect(cancelled).toBeInstanceOf(TransactionCanceledException);
    expect((cancelled as TransactionCanceledException).CancellationReasons).toEqual([
      { Code: 'None' },
      { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
    ]);
    expect(cancelled.$metadata?.attempts).toBe(1);

    const conflict = await failure(
      doc.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: { pk: 'tc-a', sk: '-' },
          UpdateExpression: 'SET x = :x',
          ExpressionAttributeValues: { ':x': 1 },
        }),
      ),
    );
    expect(conflict).toBeInstanceOf(TransactionConflictException);
    expect(conflict.name).toBe('TransactionConflictException');
    expect(conflict.$metadata?.attempts).toBe(1); // the SDK does not retry it

    const batch = await raw.send(
      new BatchWriteItemCommand({
        RequestItems: { [TABLE]: [{ PutRequest: { Item: { ...key('tc-a'), x: { S: 'lost' } } } }, { PutRequest: { Item: key('tc-c') } }] },
      }),
    );
    expect(batch.UnprocessedItems).toEqual({ [TABLE]: [{ PutRequest: { Item: { ...key('tc-a'), x: { S: 'lost' } } } }] });

    // Reads never conflict.
    expect((await doc.send(new GetCommand({ TableName: TABLE, Key: { pk: 'tc-c', sk: '-' } }))).Item).toBeDefined();

    await holder;
    expect(await stored('tc-b')).toBeUndefined(); // nothing of the cancelled transaction was applied
    await raw.send(new TransactWriteItemsCommand({ TransactItems: [add('tc-b'), add('tc-a')] }));
    await raw.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: key('tc-a'),
        UpdateExpression: 'SET x = :x',
        ExpressionAttributeValues: { ':x': { N: '1' } },
      }),
    );
    expect(await stored('tc-a')).toEqual({ ...key('tc-a'), n: { N: '2' }, x: { N: '1' } });
    expect(await counter('tc-b')).toBe(1);
    expect(p.stats()).toMatchObject({ transactionConflicts: 1, writeConflicts: 2 });
  });

  it('answers a transaction no earlier than the window, so sequential transactions of one caller never conflict', async () => {
    const p = await proxy({ conflictWindowMs: 150 });
    const c = client(p.endpoint, 1);
    for (let i = 0; i < 3; i += 1) {
      const started = Date.now();
      await c.send(new TransactWriteItemsCommand({ TransactItems: [add('seq')] }));
      expect(Date.now() - started).toBeGreaterThanOrEqual(149);
    }
    expect(await counter('seq')).toBe(3);
    expect(p.stats().transactionConflicts).toBe(0);
  });

  it('cancels a transaction touching an item a single write has in flight', async () => {
    const spy = await spyUpstream((op) => (op === 'UpdateItem' ? 400 : 0));
    const p = await proxy({ conflictWindowMs: 0 }, {}, spy.endpoint);
    const c = client(p.endpoint, 1);
    await c.send(new GetItemCommand({ TableName: TABLE, Key: key('warm') }));
    const write = c.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: key('sw-a'),
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    );
    await waitFor(() => spy.ops.includes('UpdateItem'));
    const err = await failure(c.send(new TransactWriteItemsCommand({ TransactItems: [add('sw-a'), add('sw-b')] })));
    expect((err as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual(['TransactionConflict', 'None']);
    await write;
    await c.send(new TransactWriteItemsCommand({ TransactItems: [add('sw-a'), add('sw-b')] }));
    expect([await counter('sw-a'), await counter('sw-b')]).toEqual([2, 1]);
  });

  it('asks upstream for each table key schema once, and for nothing else extra', async () => {
    const spy = await spyUpstream();
    const p = await proxy({ conflictWindowMs: 0 }, {}, spy.endpoint);
    const c = client(p.endpoint, 1);
    await Promise.all([0, 1, 2].map((i) => c.send(put('once', String(i)))));
    await c.send(new TransactWriteItemsCommand({ TransactItems: [add('once', '0')] }));
    await c.send(
      new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'once' } } }),
    );
    expect(spy.ops.filter((op) => op === 'DescribeTable')).toHaveLength(1);
    expect(spy.ops.filter((op) => op !== 'DescribeTable')).toEqual(['PutItem', 'PutItem', 'PutItem', 'TransactWriteItems', 'Query']);
  });
});

describe('ClientRequestToken', () => {
  /** A random source that returns the scripted draws, then "no fault". */
  const scripted = (draws: number[]) => () => draws.shift() ?? 0.99;

  it('DynamoDB Local honours it: a retry after a 500 that was applied is applied once', async () => {
    // throttleRate 0, errorRate 0.5: draws in [0.25, 0.5) fail after applying.
    const p = await proxy({ errorRate: 0.5, conflictWindowMs: 100 }, { random: scripted([0.3]) });
    const c = client(p.endpoint); // default retries: the SDK retries the 500 by itself
    const out = await c.send(new TransactWriteItemsCommand({ ClientRequestToken: 'crt-once-1', TransactItems: [add('crt-once')] }));
    expect(out.$metadata.attempts).toBe(2);
    expect(await counter('crt-once')).toBe(1);
    expect(p.stats()).toMatchObject({ errorsAfterApply: 1, transactionConflicts: 0 });

    // Same token, other parameters: DynamoDB's IdempotentParameterMismatchException.
    const mismatch = await failure(
      c.send(new TransactWriteItemsCommand({ ClientRequestToken: 'crt-once-1', TransactItems: [add('crt-once', 'other')] })),
    );
    expect(mismatch.name).toBe('IdempotentParameterMismatchException');
  });

  it('the SDK fills in a token itself, so its own retry of a transaction is applied once; a retried UpdateItem ADD twice', async () => {
    const spy = await spyUpstream();
    const p = await proxy({ errorRate: 0.5 }, { random: scripted([0.3, 0.9, 0.3]) }, spy.endpoint);
    const c = client(p.endpoint);
    const out = await c.send(new TransactWriteItemsCommand({ TransactItems: [add('crt-auto')] }));
    expect(out.$metadata.attempts).toBe(2);
    expect(await counter('crt-auto')).toBe(1);
    const tokens = spy.bodies.filter((b) => b.op === 'TransactWriteItems').map((b) => b.input.ClientRequestToken);
    expect(tokens).toHaveLength(2);
    expect(typeof tokens[0]).toBe('string');
    expect(tokens[1]).toBe(tokens[0]);

    const update = await c.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: key('crt-twice'),
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    );
    expect(update.$metadata.attempts).toBe(2);
    expect(await counter('crt-twice')).toBe(2);
    expect(p.stats().errorsAfterApply).toBe(2);
  });

  it('a retry while the first attempt is still in progress gets TransactionInProgressException', async () => {
    const p = await proxy({ conflictWindowMs: 400 });
    const c = client(p.endpoint, 1);
    await c.send(new GetItemCommand({ TableName: TABLE, Key: key('warm') }));
    p.resetStats();
    const tx = () => new TransactWriteItemsCommand({ ClientRequestToken: 'crt-progress', TransactItems: [add('crt-progress')] });
    const first = c.send(tx());
    await waitFor(() => p.stats().requests === 1);
    expect(await failure(c.send(tx()))).toBeInstanceOf(TransactionInProgressException);
    await first;
    await c.send(tx());
    expect(await counter('crt-progress')).toBe(1);
  });
});

describe('per-partition-key ceilings', () => {
  it('throttles the 6th write to one key at 5 WCU/s, leaves other keys alone, and refills', async () => {
    let now = 1_000_000;
    const p = await proxy({ writeUnitsPerKey: 5, conflictWindowMs: 0 }, { now: () => now });
    const c = client(p.endpoint, 1);
    for (let i = 0; i < 5; i += 1) await c.send(put('wc-hot', String(i)));
    const err = await failure(c.send(put('wc-hot', '5')));
    expect(err).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(err.$metadata?.httpStatusCode).toBe(400);
    expect(await stored('wc-hot', '5')).toBeUndefined();
    await c.send(put('wc-cool', '0'));
    expect(p.stats().keyThrottles).toBe(1);

    now += 200; // one unit back
    await c.send(put('wc-hot', '5'));
    expect(await failure(c.send(put('wc-hot', '6')))).toBeInstanceOf(ProvisionedThroughputExceededException);

    // A 3 KB item costs 3 units.
    now += 1000;
    await c.send(put('wc-hot', 'big', { blob: { S: 'x'.repeat(2500) } }));
    await c.send(put('wc-hot', '7'));
    await c.send(put('wc-hot', '8'));
    await expect(c.send(put('wc-hot', '9'))).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it('cancels a transaction over the ceiling with ThrottlingError (transactional writes cost double)', async () => {
    const now = 5_000_000;
    const p = await proxy({ writeUnitsPerKey: 5, conflictWindowMs: 0 }, { now: () => now });
    const c = client(p.endpoint, 1);
    const err = await failure(
      c.send(
        new TransactWriteItemsCommand({ TransactItems: [add('tt-hot', '1'), add('tt-hot', '2'), add('tt-hot', '3'), add('tt-cool')] }),
      ),
    );
    expect(err).toBeInstanceOf(TransactionCanceledException);
    expect((err as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual([
      'ThrottlingError',
      'ThrottlingError',
      'ThrottlingError',
      'None',
    ]);
    expect(await stored('tt-cool')).toBeUndefined();
    await c.send(new TransactWriteItemsCommand({ TransactItems: [add('tt-hot', '1'), add('tt-hot', '2'), add('tt-cool')] }));
    expect(p.stats().keyThrottles).toBe(1);
    // 4 of 5 units spent: one more transactional write (2 units) does not fit, a plain one does.
    await expect(c.send(new TransactWriteItemsCommand({ TransactItems: [add('tt-hot', '4')] }))).rejects.toBeInstanceOf(
      TransactionCanceledException,
    );
    await c.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: key('tt-hot', '4'),
        UpdateExpression: 'SET x = :x',
        ExpressionAttributeValues: { ':x': { N: '1' } },
      }),
    );
  });

  it('BatchWriteItem returns only the exhausted key items as UnprocessedItems, and refuses a batch with nothing processable', async () => {
    const now = 7_000_000;
    const p = await proxy({ writeUnitsPerKey: 5 }, { now: () => now });
    const c = client(p.endpoint, 1);
    const hot = [0, 1, 2, 3, 4, 5].map((i) => ({ PutRequest: { Item: key('bw-hot', String(i)) } }));
    const cool = [0, 1].map((i) => ({ PutRequest: { Item: key('bw-cool', String(i)) } }));
    const out = await c.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: [...hot, ...cool] } }));
    expect(out.UnprocessedItems).toEqual({ [TABLE]: [hot[5]] });
    const count = async (pk: string) =>
      (
        await client(dynamo.endpoint).send(
          new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: pk } } }),
        )
      ).Count;
    expect(await count('bw-hot')).toBe(5);
    expect(await count('bw-cool')).toBe(2);
    expect(p.stats().keyThrottles).toBe(1);

    const refused = await failure(c.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: [hot[5] as (typeof hot)[number]] } })));
    expect(refused).toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it('reads: GetItem at 1 unit (0.5 eventually consistent), BatchGetItem keys as UnprocessedKeys', async () => {
    const now = 9_000_000;
    const p = await proxy({ readUnitsPerKey: 2 }, { now: () => now });
    const c = client(p.endpoint, 1);
    await c.send(new GetItemCommand({ TableName: TABLE, Key: key('rd-hot', '0'), ConsistentRead: true }));
    await c.send(new GetItemCommand({ TableName: TABLE, Key: key('rd-hot', '1') }));
    await c.send(new GetItemCommand({ TableName: TABLE, Key: key('rd-hot', '2') }));
    await expect(c.send(new GetItemCommand({ TableName: TABLE, Key: key('rd-hot', '3') }))).rejects.toBeInstanceOf(
      ProvisionedThroughputExceededException,
    );
    const keys = [0, 1, 2, 3, 4].map((i) => key('rd-warm', String(i)));
    const out = await c.send(new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: [...keys, key('rd-other')] } } }));
    expect(out.UnprocessedKeys).toEqual({ [TABLE]: { Keys: [keys[4]] } });
    expect(p.stats().keyThrottles).toBe(2);
  });
});

describe('GSI propagation lag', () => {
  const byG = (g: string) =>
    new QueryCommand({
      TableName: TABLE,
      IndexName: INDEX,
      KeyConditionExpression: '#g = :g',
      ExpressionAttributeNames: { '#g': 'g' },
      ExpressionAttributeValues: { ':g': { S: g } },
    });

  it('a GSI query misses a just-written item and sees it after the lag; the base table sees it at once', async () => {
    const lag = 800;
    const p = await proxy({ gsiLagMs: lag });
    const c = client(p.endpoint, 1);
    const before = Date.now();
    await c.send(put('lag-1', '-', { g: { S: 'lag-g1' } }));
    const first = await c.send(byG('lag-g1'));
    expect(first).toMatchObject({ Count: 0, ScannedCount: 0, Items: [] });
    expect((await c.send(new GetItemCommand({ TableName: TABLE, Key: key('lag-1') }))).Item).toBeDefined();
    const base = await c.send(
      new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'lag-1' } } }),
    );
    expect(base.Count).toBe(1);

    let seen: QueryCommandOutput | undefined;
    await waitFor(async () => {
      seen = await c.send(byG('lag-g1'));
      return seen.Count === 1;
    });
    expect(Date.now() - before).toBeGreaterThanOrEqual(lag);
    expect(seen?.Items).toEqual([{ ...key('lag-1'), g: { S: 'lag-g1' } }]);
    expect(p.stats().hiddenByLag).toBeGreaterThanOrEqual(1);
  });

  it('counts writes inside transactions and batches, and hides an item again when an update moves its index key', async () => {
    let now = 20_000_000;
    const p = await proxy({ gsiLagMs: 100, conflictWindowMs: 0 }, { now: () => now });
    const c = client(p.endpoint, 1);
    await c.send(
      new TransactWriteItemsCommand({
        TransactItems: [{ Put: { TableName: TABLE, Item: { ...key('lag-tx'), g: { S: 'lag-g2' } } } }],
      }),
    );
    await c.send(
      new BatchWriteItemCommand({ RequestItems: { [TABLE]: [{ PutRequest: { Item: { ...key('lag-batch'), g: { S: 'lag-g2' } } } }] } }),
    );
    now += 99;
    expect((await c.send(byG('lag-g2'))).Count).toBe(0);
    now += 1;
    expect((await c.send(byG('lag-g2'))).Count).toBe(2);
    // An update of other attributes leaves the KEYS_ONLY entry as it was: still visible.
    await c.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: key('lag-tx'),
        UpdateExpression: 'SET z = :z',
        ExpressionAttributeValues: { ':z': { N: '1' } },
      }),
    );
    expect((await c.send(byG('lag-g2'))).Count).toBe(2);
    // An update naming the index key (through a placeholder) moves the entry: hidden for the lag.
    await c.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: key('lag-tx'),
        UpdateExpression: 'SET #g = :g',
        ExpressionAttributeNames: { '#g': 'g' },
        ExpressionAttributeValues: { ':g': { S: 'lag-g2' } },
      }),
    );
    expect((await c.send(byG('lag-g2'))).Items).toEqual([{ ...key('lag-batch'), g: { S: 'lag-g2' } }]);
    now += 100;
    expect((await c.send(byG('lag-g2'))).Count).toBe(2);
    expect(p.stats().hiddenByLag).toBe(3);
  });
});

describe('random throttles and 500s', () => {
  it('follows the draws: throttle, 500 before applying, 500 after applying, pass; control plane untouched', async () => {
    // throttleRate 0.1, errorRate 0.2: [0, 0.1) throttle, [0.1, 0.2) 500 before, [0.2, 0.3) 500 after.
    const draws = [0.05, 0.15, 0.25, 0.5];
    const p = await proxy({ throttleRate: 0.1, errorRate: 0.2 }, { random: () => draws.shift() ?? 0.99 });
    const c = client(p.endpoint, 1);
    expect(await failure(c.send(new GetItemCommand({ TableName: TABLE, Key: key('rf') })))).toBeInstanceOf(ThrottlingException);
    const before = await failure(c.send(put('rf-before')));
    expect(before).toBeInstanceOf(InternalServerError);
    expect(before.$metadata?.httpStatusCode).toBe(500);
    const after = await failure(c.send(put('rf-after')));
    expect(after).toBeInstanceOf(InternalServerError);
    await c.send(put('rf-pass'));
    expect(await stored('rf-before')).toBeUndefined();
    expect(await stored('rf-after')).toBeDefined();
    expect(await stored('rf-pass')).toBeDefined();
    expect(p.stats()).toMatchObject({ randomThrottles: 1, errorsBeforeApply: 1, errorsAfterApply: 1 });

    draws.push(0, 0, 0); // control-plane calls draw nothing and are never failed
    await c.send(new ListTablesCommand({}));
    await c.send(new DescribeTableCommand({ TableName: TABLE }));
    expect(draws).toHaveLength(3);
  });

  it('applies the configured rates (seeded draws)', async () => {
    let seed = 42; // mulberry32
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const p = await proxy({ throttleRate: 0.05, errorRate: 0.1 }, { random });
    const c = client(p.endpoint, 1);
    const n = 400;
    const outcomes: string[] = [];
    for (let i = 0; i < n; i += 40) {
      const batch = Array.from({ length: 40 }, () =>
        c.send(new GetItemCommand({ TableName: TABLE, Key: key('rates') })).then(
          () => 'ok',
          (err: Error) => err.name,
        ),
      );
      outcomes.push(...(await Promise.all(batch)));
    }
    const count = (name: string) => outcomes.filter((o) => o === name).length;
    const stats = p.stats();
    expect(count('ThrottlingException')).toBe(stats.randomThrottles);
    expect(count('InternalServerError')).toBe(stats.errorsBeforeApply + stats.errorsAfterApply);
    // Binomial bounds (≈4 standard deviations).
    expect(stats.randomThrottles).toBeGreaterThan(n * 0.05 - 4 * Math.sqrt(n * 0.05 * 0.95));
    expect(stats.randomThrottles).toBeLessThan(n * 0.05 + 4 * Math.sqrt(n * 0.05 * 0.95));
    const errors = stats.errorsBeforeApply + stats.errorsAfterApply;
    expect(errors).toBeGreaterThan(n * 0.1 - 4 * Math.sqrt(n * 0.1 * 0.9));
    expect(errors).toBeLessThan(n * 0.1 + 4 * Math.sqrt(n * 0.1 * 0.9));
    expect(stats.errorsBeforeApply).toBeGreaterThan(0);
    expect(stats.errorsAfterApply).toBeGreaterThan(0);
  });

  it('the SDK retries 500s and throttles by itself (4 attempts for DynamoDB by default)', async () => {
    const draws = [0.15, 0.15, 0.15, 0.15, 0.15, 0.05, 0.5];
    const p = await proxy({ throttleRate: 0.1, errorRate: 0.2 }, { random: () => draws.shift() ?? 0.99 });
    const c = client(p.endpoint);
    const err = await failure(c.send(new GetItemCommand({ TableName: TABLE, Key: key('retry') })));
    expect(err).toBeInstanceOf(InternalServerError);
    expect(err.$metadata?.attempts).toBe(4);
    expect(p.stats().errorsBeforeApply).toBe(4);
    // Draws left: 0.15 (500), 0.05 (throttle), 0.5 (pass).
    const out = await c.send(new GetItemCommand({ TableName: TABLE, Key: key('retry') }));
    expect(out.$metadata.attempts).toBe(3);
    expect(p.stats()).toMatchObject({ errorsBeforeApply: 5, randomThrottles: 1 });
  });
});

describe('lifecycle', () => {
  it('stop closes the server and its kept-alive sockets', async () => {
    const p = await proxy({});
    const c = client(p.endpoint, 1);
    await c.send(new GetItemCommand({ TableName: TABLE, Key: key('life') }));
    expect(p.stats().requests).toBe(1);
    p.resetStats();
    expect(p.stats().requests).toBe(0);
    await p.stop();
    await p.stop(); // idempotent
    await expect(c.send(new GetItemCommand({ TableName: TABLE, Key: key('life') }))).rejects.toThrow();
    await expect(client(p.endpoint, 1).send(new ListTablesCommand({}))).rejects.toThrow(/ECONNREFUSED/);
  });
});
