/**
 * GET /queue/load and GET /queue/status through the local runtime: the real handlers, DynamoDB
 * Local and the SQS emulator. Only the test's `runNow('sampleLoad')` calls take samples (no
 * schedule timers), so every sample time is known and every count is asserted exactly.
 *
 * Work is held still in two ways: the pollers of a queue are paused, and an `onBeforeInvoke` gate
 * holds any delivery a long poll already in flight at the pause picked up (so a paused queue's
 * counters cannot move). Members are shown running with an origin that holds every request until
 * the test releases it (MARK_RUNNING_AFTER_MS=0 records them as running at once).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { QueueName } from '../../lambdas/config/resources';
import { silentLogger } from '../../local/handlers';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { png } from '../support/images';
import { startOriginServer, type OriginServer } from '../support/origin-server';

jest.setTimeout(180_000);

const ADMIN = 'admin:local-admin-secret';
const BATCH_SIZE = 30;

let runtime: LocalRuntime;
let origin: OriginServer;
let held: HeldOrigin;
/** Every sample time taken by this suite, in order. */
const sampleTimes: string[] = [];

// ---------------------------------------------------------------------------------------------
// Helpers

interface Answer {
  status: number;
  json: any;
  text: string;
}

const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`;

async function call(path: string, credentials = ADMIN, init: RequestInit = {}): Promise<Answer> {
  const url = path.startsWith('http') ? path : `${runtime.apiUrl}${path}`;
  const response = await fetch(url, {
    ...init,
    headers: { Authorization: basic(credentials), ...(init.body ? { 'Content-Type': 'application/json' } : {}), ...init.headers },
  });
  const text = await response.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

async function load(query: string, credentials = ADMIN): Promise<Answer> {
  return call(`/queue/load${query ? `?${query}` : ''}`, credentials);
}

/** The one aggregated point of a sample time (admin unless credentials are given). */
async function pointAt(time: string, filters = '', credentials = ADMIN) {
  const t = encodeURIComponent(time);
  const answer = await load(`started=${t}&ended=${t}${filters ? `&${filters}` : ''}`, credentials);
  expect(answer.status).toBe(200);
  expect(answer.json.count).toBe(1);
  return answer.json.results[0];
}

async function sample(): Promise<{ time: string; samples: number }> {
  const result = (await runtime.schedules.runNow('sampleLoad')) as { time: string; samples: number };
  sampleTimes.push(result.time);
  return result;
}

async function submit(customer: number, queue: QueueName, origins: string[], prefix: string) {
  const member = origins.map((o, i) => ({ id: `${prefix}-${i}`, space: 1, origin: o }));
  const path = `/customers/${customer}/queue${queue === 'priority' ? '/priority' : ''}`;
  const answer = await call(path, ADMIN, { method: 'POST', body: JSON.stringify({ member }) });
  if (answer.status !== 201) throw new Error(`submit answered ${answer.status}: ${answer.text}`);
  return answer.json as { id: number; submitted: string; count: number };
}

const images = (n: number) => Array.from({ length: n }, (_, i) => `${origin.url}/png/${10 + i}x10.png`);

async function eventually<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await probe();
    if (done(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Holding the queues still

const gates = new Map<string, { promise: Promise<void>; open: () => void }>();

function hold(queue: QueueName): void {
  runtime.pollers?.pause(queue);
  if (gates.has(queue)) return;
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  gates.set(queue, { promise, open });
}

function release(queue: QueueName): void {
  gates.get(queue)?.open();
  gates.delete(queue);
  runtime.pollers?.resume(queue);
}

// An origin that holds every request until released, then serves a PNG.

interface HeldOrigin {
  url: string;
  requests(): number;
  release(): void;
  close(): Promise<void>;
}

async function startHeldOrigin(): Promise<HeldOrigin> {
  const waiting: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  let released = false;
  let count = 0;
  const answer = (res: ServerResponse) => {
    const body = png(16, 8);
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
    res.end(body);
  };
  const server: Server = createServer((_req, res) => {
    count += 1;
    if (released) answer(res);
    else waiting.push(res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    release: () => {
      released = true;
      for (const res of waiting.splice(0)) answer(res);
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  [origin, held] = await Promise.all([startOriginServer(), startHeldOrigin()]);
  runtime = await startLocalRuntime({
    port: 0,
    schedules: false,
    env: { MARK_RUNNING_AFTER_MS: '0', ORIGIN_TIMEOUT_MS: '60000', AUTH_CACHE_SECONDS: '0' },
    // Enough loops that every member of the batch is in flight at once, however the emulator splits receives.
    pollerConcurrency: { main: BATCH_SIZE },
    pollerHooks: {
      onBeforeInvoke: async ({ poller }) => {
        await gates.get(poller)?.promise;
      },
    },
    logger: process.env.OPERATOR_VERBOSE ? undefined : silentLogger,
  });
});

afterAll(async () => {
  held?.release();
  for (const queue of [...gates.keys()]) release(queue as QueueName);
  await runtime?.stop();
  await Promise.all([origin?.close(), held?.close()]);
});

describe('GET /queue/load follows a batch', () => {
  it('queued while the pollers are paused, running while the origin is slow, zero when finished', async () => {
    hold('main');
    const batch = await submit(
      1,
      'main',
      Array.from({ length: BATCH_SIZE }, (_, i) => `${held.url}/held/${i}.png`),
      'load',
    );
    expect(batch.count).toBe(BATCH_SIZE);

    const queued = await sample();
    expect(queued.samples).toBe(2); // customer 1 × (main, priority)
    expect(await pointAt(queued.time, 'customer=1')).toEqual({ time: queued.time, pending_count: 0, queued_count: 30, running_count: 0 });
    expect(await pointAt(queued.time, 'customer=1&queue=main')).toEqual({ time: queued.time, pending_count: 0, queued_count: 30, running_count: 0 });
    expect(await pointAt(queued.time, 'customer=1&queue=priority')).toEqual({ time: queued.time, pending_count: 0, queued_count: 0, running_count: 0 });
    expect(held.requests()).toBe(0);

    // The processors pick every member up; the origin holds them all, so they are all running.
    release('main');
    const running = await eventually(
      'all 30 members to be sampled as running',
      async () => pointAt((await sample()).time, 'customer=1'),
      (p) => p.running_count === BATCH_SIZE,
    );
    expect(running).toEqual({ time: running.time, pending_count: 0, queued_count: 0, running_count: 30 });
    expect(held.requests()).toBe(BATCH_SIZE);

    held.release();
    const finished = await eventually(
      'the batch to finish',
      () => call(`/customers/1/queue/batches/${batch.id}`),
      (a) => a.status === 200 && a.json.finished !== undefined,
    );
    expect(finished.json).toMatchObject({ count: 30, completed: 30, errors: 0 });

    const done = await sample();
    expect(await pointAt(done.time)).toEqual({ time: done.time, pending_count: 0, queued_count: 0, running_count: 0 });
  });
});

describe('GET /queue/load range, paging and validation', () => {
  it('defaults to the past week and accepts durations and date-times', async () => {
    const all = await load('');
    expect(all.status).toBe(200);
    expect(all.json.count).toBe(sampleTimes.length);
    expect(all.json.results.map((r: { time: string }) => r.time)).toEqual(sampleTimes);
    expect(all.json.next).toBeNull();
    expect(all.json.previous).toBeNull();

    for (const range of ['started=PT1H', 'started=PT1H0M0S&ended=PT0S', 'started=P1D', 'started=P31D', 'started=P1W&ended=P0D']) {
      const answer = await load(range);
      expect({ range, status: answer.status, count: answer.json.count }).toEqual({ range, status: 200, count: sampleTimes.length });
    }
    const first = sampleTimes[0] as string;
    const later = await load(`started=${encodeURIComponent(new Date(Date.parse(first) + 1).toISOString())}`);
    expect(later.json.count).toBe(sampleTimes.length - 1);
    const until = await load(`started=PT1H&ended=${encodeURIComponent(first)}`);
    expect(until.json.results.map((r: { time: string }) => r.time)).toEqual([first]);
    // An offset (its '+' encoded) names the same instant as UTC.
    const shifted = new Date(Date.parse(first) + 3_600_000).toISOString().replace('Z', '+01:00');
    expect((await load(`started=${encodeURIComponent(shifted)}&ended=${encodeURIComponent(shifted)}`)).json.count).toBe(1);
    // An old range holds nothing.
    expect((await load('started=2015-01-01T00:00:00Z&ended=2015-01-02T00:00:00Z')).json).toEqual({ count: 0, next: null, previous: null, results: [] });
  });

  it('refuses ranges over 31 days, ended before started and unparseable values', async () => {
    const exactly31 = await load('started=2015-01-01T00:00:00Z&ended=2015-02-01T00:00:00Z');
    expect(exactly31.status).toBe(200);

    const cases: Array<[string, string]> = [
      ['started=2015-01-01T00:00:00Z&ended=2015-02-01T00:00:00.001Z', 'at most 31 days'],
      ['started=P32D', 'at most 31 days'],
      ['started=P1M5D', 'at most 31 days'],
      ['started=2015-01-02T00:00:00Z&ended=2015-01-01T00:00:00Z', "'ended' (2015-01-01T00:00:00.000Z) is before 'started'"],
      ['ended=2015-01-01T00:00:00Z', 'is before'],
      ['started=PT1H&ended=PT2H', 'is before'],
      ['started=yesterday', "'started' must be an ISO-8601 date-time"],
      ['ended=PT', "'ended' must be an ISO-8601 date-time"],
      ['started=2015-02-30T00:00:00Z', "'started' must be"],
      ['queue=incoming', "'queue' must be 'main' or 'priority'"],
      ['customer=abc', "'customer' must be an integer"],
      ['page_size=1001', "'page_size' must be an integer from 1 to 1000"],
      ['page=0', "'page' must be an integer"],
    ];
    for (const [query, message] of cases) {
      const answer = await load(query);
      expect({ query, status: answer.status }).toEqual({ query, status: 400 });
      expect(answer.json.detail).toContain(message);
    }
    expect((await load('page_size=1000')).status).toBe(200);
  });

  it('pages with absolute next and previous links', async () => {
    const n = sampleTimes.length;
    expect(n).toBeGreaterThanOrEqual(3);
    const page1 = await load('started=PT1H&page_size=1');
    expect(page1.json.count).toBe(n);
    expect(page1.json.results.map((r: { time: string }) => r.time)).toEqual([sampleTimes[0]]);
    expect(page1.json.previous).toBeNull();
    expect(page1.json.next).toMatch(new RegExp(`^${runtime.apiUrl.replace(/[.]/g, '\\.')}/queue/load\\?`));
    const next = new URL(page1.json.next);
    expect(next.searchParams.get('page')).toBe('2');
    expect(next.searchParams.get('page_size')).toBe('1');

    const page2 = await call(page1.json.next);
    expect(page2.status).toBe(200);
    expect(page2.json.count).toBe(n);
    expect(page2.json.results.map((r: { time: string }) => r.time)).toEqual([sampleTimes[1]]);
    expect(page2.json.previous).not.toBeNull();
    const back = await call(page2.json.previous);
    expect(back.json.results).toEqual(page1.json.results);

    const last = await load(`started=PT1H&page_size=2&page=${Math.ceil(n / 2)}`);
    expect(last.json.results).toHaveLength(n % 2 === 0 ? 2 : 1);
    expect(last.json.next).toBeNull();
  });
});

describe('GET /queue/status and the load filters with work on both queues', () => {
  const submitted: Record<string, string> = {};
  let customerKey: string;

  beforeAll(async () => {
    hold('main');
    hold('priority');
    // customer × queue → members; customer 12's main queue gets two batches (1 then 2).
    const plan: Array<[number, QueueName, number]> = [
      [11, 'main', 5],
      [11, 'priority', 3],
      [12, 'main', 1],
      [12, 'main', 2],
      [12, 'priority', 7],
      [13, 'main', 3],
      [13, 'priority', 1],
    ];
    for (const [customer, queue, n] of plan) {
      const batch = await submit(customer, queue, images(n), `status-${customer}-${queue}-${n}`);
      submitted[`${customer}/${queue}`] ??= batch.submitted;
    }
    const key = await call('/customers/11/keys', ADMIN, { method: 'POST' });
    expect(key.status).toBe(201);
    customerKey = `${key.json.key}:${key.json.secret}`;
  });

  it('groups by customer and queue, ordered by count, priority first on ties', async () => {
    const status = await call('/queue/status');
    expect(status.status).toBe(200);
    const row = (customer: number, queue: QueueName, count: number) => ({
      customer,
      queue,
      count,
      longest_queued: submitted[`${customer}/${queue}`],
      highest_priority: queue === 'priority' ? 2 : 1,
    });
    expect(status.json).toEqual({
      count: 6,
      next: null,
      previous: null,
      results: [
        row(12, 'priority', 7),
        row(11, 'main', 5),
        row(11, 'priority', 3),
        row(12, 'main', 3),
        row(13, 'main', 3),
        row(13, 'priority', 1),
      ],
    });
    // Customer 1's finished batch is not in the queue any more; 12's oldest open batch is its first.
    expect(status.json.results.find((r: { customer: number }) => r.customer === 1)).toBeUndefined();
    expect(Date.parse(status.json.results[3].longest_queued)).toBeLessThanOrEqual(Date.now());
  });

  it('status is for admin keys only', async () => {
    expect((await call('/queue/status', customerKey)).status).toBe(403);
  });

  it('load sums the selected customers and queues', async () => {
    const { time, samples } = await sample();
    expect(samples).toBe(8); // customers 1, 11, 12, 13 × 2 queues
    const queued = async (filters: string, credentials = ADMIN) => {
      const p = await pointAt(time, filters, credentials);
      expect(p.pending_count).toBe(0);
      expect(p.running_count).toBe(0);
      return p.queued_count;
    };
    expect(await queued('')).toBe(22);
    expect(await queued('queue=main')).toBe(11);
    expect(await queued('queue=priority')).toBe(11);
    expect(await queued('queue=main&queue=priority')).toBe(22);
    expect(await queued('customer=11')).toBe(8);
    expect(await queued('customer=11&queue=main')).toBe(5);
    expect(await queued('customer=12&customer=13')).toBe(14);
    expect(await queued('customer=11&customer=13&queue=priority')).toBe(4);
    expect(await queued('customer=1')).toBe(0);
    // A customer that never submitted has no samples.
    const t = encodeURIComponent(time);
    expect((await load(`started=${t}&ended=${t}&customer=99`)).json).toEqual({ count: 0, next: null, previous: null, results: [] });
  });

  it("a customer key sees only its own customer's load", async () => {
    const time = sampleTimes[sampleTimes.length - 1] as string;
    const t = encodeURIComponent(time);
    expect(await pointAt(time, '', customerKey)).toEqual({ time, pending_count: 0, queued_count: 8, running_count: 0 });
    expect(await pointAt(time, 'customer=11', customerKey)).toEqual({ time, pending_count: 0, queued_count: 8, running_count: 0 });
    expect(await pointAt(time, 'queue=priority', customerKey)).toEqual({ time, pending_count: 0, queued_count: 3, running_count: 0 });
    // Customer 11 exists since this describe's submissions: one sample time over the default range.
    const own = await load('', customerKey);
    expect(own.status).toBe(200);
    expect(own.json.count).toBe(1);
    for (const query of ['customer=12', 'customer=11&customer=12']) {
      const answer = await load(`started=${t}&ended=${t}&${query}`, customerKey);
      expect({ query, status: answer.status }).toEqual({ query, status: 403 });
    }
  });
});
