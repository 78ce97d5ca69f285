/**
 * Limits as on AWS, end to end through the local gateway and the real handlers, against strict
 * DynamoDB with a long asset-index lag: a too-large body gets the service's 413 (read to its end
 * first, up to 64 MiB, so Node's fetch sees the answer, not a reset), a body between the limit and
 * Lambda's event limit gets the submit handler's own 413, pages stop at a byte budget that keeps
 * every response inside Lambda's 6 MB, and an image reads from its newest batch right after the
 * submit.
 */
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { queueStore } from '../../lambdas/adapters';
import { digestItems } from '../../lambdas/adapters/dynamo/asset-digests';
import { tableName } from '../../lambdas/adapters/dynamo/table';
import { putAll } from '../../lambdas/adapters/dynamo/transactions';
import { DEFAULTS } from '../../lambdas/config/resources';
import { escapedJsonBytes, LAMBDA_RESPONSE_LIMIT_BYTES, PAGE_ITEMS_BUDGET_BYTES } from '../../lambdas/http/hydra';
import { MAX_DRAINED_BODY_BYTES } from '../../local/http-adapter';
import { DEFAULT_STRICT_OPTIONS } from '../../local/strict-dynamodb';
import { ADMIN, basic, type QueueClient, waitFor } from '../support/queue-client';
import { tableSnapshot } from '../support/table-snapshot';
import { startTestRuntime, type TestRuntime } from '../support/test-runtime';

jest.setTimeout(300_000);

/** Long enough that every "at once" below happens well inside it. */
const GSI_LAG_MS = 8_000;
const LIMIT = DEFAULTS.maxBodyBytes;
/** Lambda's limit on a synchronous invocation's request (the proxy event as JSON). */
const LAMBDA_REQUEST_LIMIT_BYTES = 6 * 1024 * 1024;

let env: TestRuntime;
let api: QueueClient;
let apiUrl: string;

beforeAll(async () => {
  // No pollers: members stay waiting, so the queue listing below holds them all.
  env = await startTestRuntime({ pollers: false, strict: { ...DEFAULT_STRICT_OPTIONS, gsiLagMs: GSI_LAG_MS } });
  api = env.api;
  apiUrl = env.runtime.apiUrl;
});

afterAll(() => env?.stop());

// ---- 413 ----------------------------------------------------------------------------------------

const submitUrl = () => `${apiUrl}/customers/1/queue`;
const submitHeaders = () => ({ authorization: basic(ADMIN), 'content-type': 'application/json' });

/** A body sent chunked (no Content-Length), 64 KiB at a time. */
function streamOf(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const n = Math.min(64 * 1024, bytes - sent);
      controller.enqueue(new Uint8Array(n).fill(0x78));
      sent += n;
    },
  });
}

async function expect413(response: Response): Promise<void> {
  const text = await response.text();
  expect({ status: response.status, text: text.slice(0, 300) }).toMatchObject({ status: 413 });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(JSON.parse(text)).toMatchObject({
    '@type': 'Error',
    statusCode: 413,
    title: 'Payload Too Large',
    detail: expect.stringContaining(String(LIMIT)),
  });
}

describe('a body over the limit', () => {
  const sizes: Array<[string, number]> = [
    ['just over the limit', LIMIT + 1],
    ['of about 7 MB (over Lambda’s 6 MB, under API Gateway’s 10 MB)', 7 * 1024 * 1024],
  ];

  it.each(sizes)('%s, with Content-Length, reaches fetch as a 413', async (_name, bytes) => {
    await expect413(await fetch(submitUrl(), { method: 'POST', headers: submitHeaders(), body: Buffer.alloc(bytes, 0x78) }));
  });

  it.each(sizes)('%s, streamed chunked, reaches fetch as a 413', async (_name, bytes) => {
    // `duplex` is required for a stream body (not yet in the DOM RequestInit type).
    const init = { method: 'POST', headers: submitHeaders(), body: streamOf(bytes), duplex: 'half' } as RequestInit;
    await expect413(await fetch(submitUrl(), init));
  });

  it('leaves the connection usable after a drained 413', async () => {
    await expect413(await fetch(submitUrl(), { method: 'POST', headers: submitHeaders(), body: Buffer.alloc(LIMIT + 1, 0x78) }));
    expect((await api.get('/queue')).status).toBe(200);
  });

  it('is refused at once, without reading it, when declared past what the local gateway drains', async () => {
    // Headers only: the 413 must come without the body ever being sent.
    const { port } = new URL(apiUrl);
    const answer = await new Promise<{ status: number; connection: string | undefined; body: string }>((done, fail) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/customers/1/queue',
          headers: { ...submitHeaders(), 'content-length': MAX_DRAINED_BODY_BYTES + 1 },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () => done({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
        },
      );
      req.on('error', fail);
      req.flushHeaders();
    });
    expect(answer.status).toBe(413);
    expect(answer.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 413 });
  });
});

/**
 * Node's fetch, run in a process of its own as a client of `npm start` would be: POSTs a submit of
 * exactly `bytes` bytes (members, then JSON whitespace), then GETs /queue with the same pool. In the
 * server's own process fetch read the 413 even when the connection was reset right after it, which
 * hid the failure. Prints what fetch resolved with, or its error.
 */
const FETCH_CLIENT = `
const [base, authorization, size] = process.argv.slice(1);
const bytes = Number(size);
const members = [];
let length = 64;
for (let i = 0; length < bytes - 200; i++) {
  const m = JSON.stringify({ id: 'asset-' + i, space: 1, origin: 'https://example.org/images/' + i + '.jpg' });
  members.push(m);
  length += m.length + 1;
}
let body = '{"@type":"Collection","member":[' + members.join(',') + ']}';
body += ' '.repeat(bytes - Buffer.byteLength(body));
(async () => {
  const headers = { authorization, 'content-type': 'application/json' };
  const post = await fetch(base + '/customers/63/queue', { method: 'POST', headers, body });
  const submit = {
    status: post.status,
    connection: post.headers.get('connection'),
    contentType: post.headers.get('content-type'),
    text: await post.text(),
  };
  const next = await fetch(base + '/queue');
  await next.arrayBuffer();
  console.log(JSON.stringify({ submit, next: next.status }));
})().catch((e) => console.log(JSON.stringify({ error: String(e), cause: String(e.cause) })));
`;

describe('a body API Gateway would refuse (over 10 MB), from Node’s fetch in another process', () => {
  it.each([
    ['a 200,000-member submit (16 MB)', 16_000_000],
    ['of exactly the most the local gateway drains', MAX_DRAINED_BODY_BYTES],
  ])('%s: fetch reads the 413, nothing is written, the connection stays usable', async (_name, bytes) => {
    const before = await tableSnapshot(env.runtime);
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', FETCH_CLIENT, apiUrl, basic(ADMIN), String(bytes)], {
      maxBuffer: 1024 * 1024,
    });
    const seen = JSON.parse(stdout);
    expect(seen).toMatchObject({ submit: { status: 413, connection: 'keep-alive' }, next: 200 });
    expect(seen.submit.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(seen.submit.text)).toMatchObject({
      '@type': 'Error',
      statusCode: 413,
      detail: expect.stringContaining(String(LIMIT)),
    });
    expect(await tableSnapshot(env.runtime)).toBe(before);
  });
});

describe('the submit handler (bodies API Gateway delivers past the configured limit)', () => {
  const event = (body: string): APIGatewayProxyEvent =>
    ({
      resource: '/customers/{customer}/queue',
      path: '/customers/1/queue',
      httpMethod: 'POST',
      headers: { 'Content-Type': 'application/json', Host: '127.0.0.1' },
      multiValueHeaders: { 'Content-Type': ['application/json'], Host: ['127.0.0.1'] },
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: { customer: '1' },
      stageVariables: null,
      body,
      isBase64Encoded: false,
      requestContext: { authorizer: { principalId: 'admin', key: 'admin', admin: 'true' }, path: '/customers/1/queue' },
    }) as unknown as APIGatewayProxyEvent;
  const invoke = async (body: string) => {
    const handler = (await env.runtime.loadHandler('api-submit')) as (
      e: APIGatewayProxyEvent,
      c: unknown,
    ) => Promise<APIGatewayProxyResult>;
    const e = event(body);
    return { eventBytes: Buffer.byteLength(JSON.stringify(e)), result: await handler(e, {}) };
  };

  it('answers 413 by size before parsing, for a body that still fits the Lambda event', async () => {
    // Not JSON at all: a 400 would mean it was parsed first.
    const { eventBytes, result } = await invoke('{'.repeat(LIMIT + 1_000_000));
    expect(eventBytes).toBeLessThan(LAMBDA_REQUEST_LIMIT_BYTES);
    expect(result.statusCode).toBe(413);
    expect(JSON.parse(result.body)).toMatchObject({ statusCode: 413, detail: expect.stringContaining(String(LIMIT)) });
  });

  it('is delivered a body at the limit made of the characters escaping doubles', async () => {
    // `{"member":["","",…]}`: two of every three bytes are quotes.
    const head = '{"member":[';
    const tail = ']}';
    const body = `${head}${'"",'.repeat(Math.floor((LIMIT - head.length - tail.length - 2) / 3))}""${tail}`;
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(LIMIT);
    const { eventBytes, result } = await invoke(body);
    expect(eventBytes).toBeLessThan(LAMBDA_REQUEST_LIMIT_BYTES);
    // Parsed and judged: far more members than a batch may have.
    expect(result.statusCode).toBe(422);
  });
});

// ---- pages inside 6 MB --------------------------------------------------------------------------

/** Every field at its longest, of quotes: 2 bytes each in the body, 4 in the escaped response. */
const quotes = (n: number) => '"'.repeat(n);
const heavy = (id: string) => ({
  id,
  space: 1,
  origin: `https://example.org/${id}.jpg`,
  string1: quotes(1024),
  string2: quotes(1024),
  string3: quotes(1024),
  tags: Array.from({ length: 50 }, () => quotes(200)),
  roles: Array.from({ length: 20 }, () => quotes(500)),
});
const MEMBERS_PER_BATCH = 60;

/** What the page's proxy result would weigh on Lambda (the local gateway passes the body through). */
const proxyResultBytes = (text: string) =>
  Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: text }));

interface PageSeen {
  members: number;
  resultBytes: number;
  itemBytes: number;
}

/** Follows `next` from `path`, checking every page; returns the ids in order and the pages. */
async function pageThrough(path: string): Promise<{ ids: string[]; pages: PageSeen[] }> {
  const ids: string[] = [];
  const pages: PageSeen[] = [];
  let url: string | undefined = `${apiUrl}${path}`;
  while (url) {
    const response = await fetch(url, { headers: { authorization: basic(ADMIN) } });
    const text = await response.text();
    expect(response.status).toBe(200);
    const page = JSON.parse(text) as { member: Array<{ id: string }>; view: { next?: string } };
    pages.push({ members: page.member.length, resultBytes: proxyResultBytes(text), itemBytes: escapedJsonBytes(page.member) - 2 });
    ids.push(...page.member.map((m) => m.id));
    url = page.view.next;
  }
  return { ids, pages };
}

describe('pages of large members', () => {
  const customer = 61;
  const first = Array.from({ length: MEMBERS_PER_BATCH }, (_, i) => `a${String(i).padStart(3, '0')}`);
  const second = Array.from({ length: MEMBERS_PER_BATCH }, (_, i) => `b${String(i).padStart(3, '0')}`);
  const batches: number[] = [];

  beforeAll(async () => {
    for (const ids of [first, second]) {
      const body = JSON.stringify({ '@type': 'Collection', member: ids.map(heavy) });
      // Under the body limit, yet a page of all of them would not fit a Lambda response.
      expect(Buffer.byteLength(body)).toBeLessThan(LIMIT);
      batches.push(await api.submitOk(customer, JSON.parse(body).member));
    }
  });

  it('end a batch’s page at the byte budget and continue right after it', async () => {
    const { ids, pages } = await pageThrough(`/customers/${customer}/queue/batches/${batches[0]}/images?pageSize=500`);
    expect(ids).toEqual(first);
    expect(pages.length).toBeGreaterThan(1);
    expect(pages[0]!.members).toBeLessThan(MEMBERS_PER_BATCH);
    for (const page of pages) {
      expect(page.itemBytes).toBeLessThanOrEqual(PAGE_ITEMS_BUDGET_BYTES);
      expect(page.resultBytes).toBeLessThanOrEqual(LAMBDA_RESPONSE_LIMIT_BYTES);
    }
  });

  it('share one budget across batches in the queue listing, each member once', async () => {
    const path = `/customers/${customer}/queue/images?pageSize=500`;
    // The open-batches index lags like AWS's: wait until both batches show.
    let seen: { ids: string[]; pages: PageSeen[] } = { ids: [], pages: [] };
    await waitFor(
      async () => {
        seen = await pageThrough(path);
        return seen.ids.length === 2 * MEMBERS_PER_BATCH;
      },
      {
        timeoutMs: GSI_LAG_MS + 30_000,
        description: () => `the queue listing to show both batches (${seen.ids.length} members)`,
      },
    );
    expect(seen.ids).toEqual([...first, ...second]);
    // 120 members of ~93 KB each: all at once would be over 11 MB.
    expect(seen.pages.length).toBeGreaterThanOrEqual(3);
    for (const page of seen.pages) {
      expect(page.members).toBeLessThan(2 * MEMBERS_PER_BATCH);
      expect(page.itemBytes).toBeLessThanOrEqual(PAGE_ITEMS_BUDGET_BYTES);
      expect(page.resultBytes).toBeLessThanOrEqual(LAMBDA_RESPONSE_LIMIT_BYTES);
    }
  });
});

// ---- image read-after-write ---------------------------------------------------------------------

describe('an image right after its submit', () => {
  const customer = 62;
  const space = 4;
  const asset = { id: 'raw-1', space, origin: 'https://example.org/raw-1.jpg' };
  const imagePath = `/customers/${customer}/spaces/${space}/images/raw-1`;
  const batchUrl = (b: number) => `${apiUrl}/customers/${customer}/queue/batches/${b}`;
  const indexedBatches = async () => (await queueStore().memberRefsOfAsset(customer, space, 'raw-1')).map((r) => r.batch);

  it('is its new batch’s member at once, though the asset index does not show it yet', async () => {
    const b1 = await api.submitOk(customer, [asset, { ...asset, id: 'raw-2' }]);
    const image = await api.get(imagePath);
    expect(await indexedBatches()).toEqual([]);
    expect(image.status).toBe(200);
    expect(image.body).toMatchObject({ '@type': 'vocab:Image', id: 'raw-1', space, batch: batchUrl(b1) });

    // Resubmitted in a second batch: the second at once, while the index shows at most the first.
    const b2 = await api.submitOk(customer, [{ ...asset, string1: 'second' }]);
    const again = await api.get(imagePath);
    expect(await indexedBatches()).not.toContain(b2);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: 'raw-1', string1: 'second', batch: batchUrl(b2) });

    // A digest naming a member that was never written (a submit that died between the two
    // writes), in a batch newer than any, is passed over.
    const ghost = await api.submitOk(customer, [{ ...asset, id: 'other' }]);
    await putAll(
      tableName(),
      digestItems([
        { ...asset, customer, batch: ghost, index: 7, queue: 'main', state: 'waiting', submitted: new Date().toISOString() } as never,
      ]),
    );
    expect((await api.get(imagePath)).body.batch).toBe(batchUrl(b2));

    // Once the index catches up both sources agree.
    await waitFor(async () => (await indexedBatches()).includes(b2), {
      timeoutMs: GSI_LAG_MS + 30_000,
      description: 'the asset index to show batch 2',
    });
    expect((await api.get(imagePath)).body.batch).toBe(batchUrl(b2));
    expect((await api.get(`/customers/${customer}/spaces/${space}/images/raw-2`)).body.batch).toBe(batchUrl(b1));
  });

  it('is 404 for an asset never submitted', async () => {
    expect((await api.get(`/customers/${customer}/spaces/${space}/images/never`)).status).toBe(404);
  });
});
