/**
 * Admission control through the real runtime: with MAX_QUEUE_SIZE=10 and no processors running
 * (members stay waiting), a submit that would take a customer's queue above 10 answers 503 with
 * Retry-After and a JSON error, and writes nothing (table, counters, queues); a submit that brings
 * it exactly to 10 is accepted.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { ENV } from '../../lambdas/config/resources';
import { silentLogger } from '../../local/handlers';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import { tableSnapshot } from '../support/table-snapshot';

jest.setTimeout(120_000);

const MAX_QUEUE_SIZE = 10;
const CUSTOMER = 401;
const OTHER_CUSTOMER = 402;
const ADMIN = `Basic ${Buffer.from('admin:local-admin-secret').toString('base64')}`;

let runtime: LocalRuntime | undefined;
let apiUrl = '';

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { Authorization: ADMIN, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

let seq = 0;
const members = (n: number) =>
  Array.from({ length: n }, () => {
    seq += 1;
    return { id: `adm-${seq}`, space: 1, origin: `https://example.org/${seq}.jpg` };
  });
const submit = (n: number, customer = CUSTOMER, queue: 'main' | 'priority' = 'main', headers: Record<string, string> = {}) =>
  call(
    'POST',
    `/customers/${customer}/queue${queue === 'priority' ? '/priority' : ''}`,
    { '@type': 'Collection', member: members(n) },
    headers,
  );

async function counters(customer = CUSTOMER) {
  const { status, json } = await call('GET', `/customers/${customer}/queue`);
  expect(status).toBe(200);
  return { size: json.size, imagesWaiting: json.imagesWaiting, batchesWaiting: json.batchesWaiting };
}

async function batchCount(customer = CUSTOMER): Promise<number> {
  const { json } = await call('GET', `/customers/${customer}/queue/batches`);
  return Number(json.totalItems);
}

function expect503(answer: Answer): void {
  expect(answer.status).toBe(503);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  const retryAfter = answer.headers.get('retry-after');
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  expect(answer.json['@type']).toBe('Error');
  expect(answer.json.statusCode).toBe(503);
  expect(answer.json.title).toBe('Service Unavailable');
  expect(String(answer.json.detail)).toContain(String(MAX_QUEUE_SIZE));
}

/** Messages on a work queue (visible + in flight), polled until it settles on `expected` or the deadline passes. */
async function expectMessages(queue: 'main' | 'priority', expected: number, timeoutMs = 10_000): Promise<void> {
  const url = runtime!.env[queue === 'main' ? ENV.mainQueueUrl : ENV.priorityQueueUrl];
  const deadline = Date.now() + timeoutMs;
  let count = -1;
  for (;;) {
    const { Attributes } = await runtime!.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    count = Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    if (count === expected || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect({ queue, messages: count }).toEqual({ queue, messages: expected });
}

beforeAll(async () => {
  runtime = await startLocalRuntime({
    // Many requests with one key: the per-key limits have a suite of their own (keys-and-limits).
    usageLimits: false,
    port: 0,
    env: { MAX_QUEUE_SIZE: String(MAX_QUEUE_SIZE) },
    // No processors: every accepted member stays waiting, so the queue size only grows.
    pollers: false,
    schedules: false,
    logger: silentLogger,
  });
  apiUrl = runtime.apiUrl.replace(/\/$/, '');
});

afterAll(async () => {
  await runtime?.stop();
});

describe('admission control (MAX_QUEUE_SIZE=10)', () => {
  it('accepts up to the limit, refuses above it with 503 + Retry-After, and writes nothing when refusing', async () => {
    expect(await counters()).toEqual({ size: 0, imagesWaiting: 0, batchesWaiting: 0 });
    const empty = await tableSnapshot(runtime!);

    // 8 members: accepted.
    const first = await submit(8);
    expect(first.status).toBe(201);
    expect(first.json.count).toBe(8);
    const afterFirst = await tableSnapshot(runtime!);
    expect(afterFirst).not.toBe(empty); // the snapshot does see writes
    expect(await counters()).toEqual({ size: 8, imagesWaiting: 8, batchesWaiting: 1 });

    // 3 more would make 11: refused, on either queue, with or without an Idempotency-Key.
    expect503(await submit(3));
    expect503(await submit(3, CUSTOMER, 'priority'));
    expect503(await submit(3, CUSTOMER, 'main', { 'Idempotency-Key': 'admission-3' }));
    expect(await counters()).toEqual({ size: 8, imagesWaiting: 8, batchesWaiting: 1 });
    expect(await tableSnapshot(runtime!)).toBe(afterFirst);
    expect(await batchCount()).toBe(1);

    // 2 more make exactly 10: accepted.
    const second = await submit(2);
    expect(second.status).toBe(201);
    expect(second.json.count).toBe(2);
    expect(await counters()).toEqual({ size: 10, imagesWaiting: 10, batchesWaiting: 2 });
    const atLimit = await tableSnapshot(runtime!);

    // The queue is full: even 1 more is refused, on either queue.
    expect503(await submit(1));
    expect503(await submit(1, CUSTOMER, 'priority'));
    expect503(await submit(1, CUSTOMER, 'main', { 'Idempotency-Key': 'admission-1' }));
    expect(await counters()).toEqual({ size: 10, imagesWaiting: 10, batchesWaiting: 2 });
    expect(await tableSnapshot(runtime!)).toBe(atLimit);
    expect(await batchCount()).toBe(2);

    // Nothing refused reached a queue: 8 + 2 member messages on the main queue, none on priority.
    await expectMessages('main', 10);
    await expectMessages('priority', 0);
  });

  it('counts the limit per customer', async () => {
    const before = await tableSnapshot(runtime!);
    const other = await submit(MAX_QUEUE_SIZE, OTHER_CUSTOMER, 'priority');
    expect(other.status).toBe(201);
    expect(await counters(OTHER_CUSTOMER)).toEqual({ size: 10, imagesWaiting: 10, batchesWaiting: 1 });
    const full = await tableSnapshot(runtime!);
    expect(full).not.toBe(before);
    expect503(await submit(1, OTHER_CUSTOMER));
    expect(await tableSnapshot(runtime!)).toBe(full);
    // The first customer is still exactly at its limit.
    expect(await counters()).toEqual({ size: 10, imagesWaiting: 10, batchesWaiting: 2 });
  });
});
