/**
 * GET /queue/load and GET /queue/status through the local runtime: the real handlers, DynamoDB
 * Local and the SQS emulator. Only the test's `runNow('sampleLoad')` calls take samples (no
 * schedule timers), so every sample time is known and every count is asserted exactly. A run in
 * which every customer is idle writes nothing, so its time is absent from the answers (zero).
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
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import { png } from '../support/images';
import { type OriginServer, startOriginServer } from '../support/origin-server';

jest.setTimeout(180_000);

const ADMIN = 'admin:local-admin-secret';
const BATCH_SIZE = 30;

let runtime: LocalRuntime;
let origin: OriginServer;
let held: HeldOrigin;
/** The sample times of this suite at which some customer had load (so they were recorded), in order. */
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

interface SampleRun {
  time: string;
  /** Customers with load (one item each). */
  samples: number;
  /** Items written: the samples and, when there were any, the all-customer sum. */
  items: number;
}

async function sample(): Promise<SampleRun> {
  const result = (await runtime.schedules.runNow('sampleLoad')) as SampleRun;
  expect(result.items).toBe(result.samples > 0 ? result.samples + 1 : 0);
  if (result.samples > 0) sampleTimes.push(result.time);
  return result;
}

const timesOf = (answer: Answer): string[] => answer.json.results.map((r: { time: string }) => r.time);

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

    // Two samples while held: the same load at two times.
    for (let i = 0; i < 2; i++) {
      const queued = await sample();
      expect(queued.samples).toBe(1); // customer 1 (both queues in one sample)
      expect(await pointAt(queued.time, 'customer=1')).toEqual({ time: queued.time, pending_count: 0, queued_count: 30, running_count: 0 });
      expect(await pointAt(queued.time)).toEqual({ time: queued.time, pending_count: 0, queued_count: 30, running_count: 0 });
      expect(await pointAt(queued.time, 'customer=1&queue=main')).toEqual({
        time: queued.time,
        pending_count: 0,
        queued_count: 30,
        running_count: 0,
      });
      // The customer was sampled (it had load on main), so its idle priority queue shows as zeros.
      expect(await pointAt(queued.time, 'customer=1&queue=priority')).toEqual({
        time: queued.time,
        pending_count: 0,
        queued_count: 0,
        running_count: 0,
      });
    }
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

    // Every customer idle: nothing is written, and the time is absent from every answer (zero).
    const done = await sample();
    expect(done).toEqual({ time: done.time, samples: 0, items: 0 });
    const t = encodeURIComponent(done.time);
    for (const filters of ['', '&customer=1', '&customer=1&customer=2', '&queue=main']) {
      expect((await load(`started=${t}&ended=${t}${filters}`)).json).toEqual({ count: 0, next: null, previous: null, results: [] });
    }
  });
});

describe('GET /queue/load range, paging and validation', () => {
  it('defaults to the past week and accepts durations and date-times', async () => {
    const all = await load('');
    expect(all.status).toBe(200);
    expect(all.json.count).toBe(sampleTimes.length);
    expect(timesOf(all)).toEqual(sampleTimes);
    // Customer 1 is the only one with load so far: its series is the all-customer one.
    expect((await load('customer=1')).json).toEqual(all.json);
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
    expect(timesOf(until)).toEqual([first]);
    // An offset (its '+' encoded) names the same instant as UTC.
    const shifted = new Date(Date.parse(first) + 3_600_000).toISOString().replace('Z', '+01:00');
    expect((await load(`started=${encodeURIComponent(shifted)}&ended=${encodeURIComponent(shifted)}`)).json.count).toBe(1);
    // An old range holds nothing.
    expect((await load('started=2015-01-01T00:00:00Z&ended=2015-01-02T00:00:00Z')).json).toEqual({
      count: 0,
      next: null,
      previous: null,
      results: [],
    });
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
    expect(timesOf(page1)).toEqual([sampleTimes[0]]);
    expect(page1.json.previous).toBeNull();
    expect(page1.json.next).toMatch(new RegExp(`^${runtime.apiUrl.replace(/[.]/g, '\\.')}/queue/load\\?`));
    const next = new URL(page1.json.next);
    expect(next.searchParams.get('page')).toBe('2');
    expect(next.searchParams.get('page_size')).toBe('1');

    const page2 = await call(page1.json.next);
    expect(page2.status).toBe(200);
    expect(page2.json.count).toBe(n);
    expect(timesOf(page2)).toEqual([sampleTimes[1]]);
    expect(page2.json.previous).not.toBeNull();
    const back = await call(page2.json.previous);
    expect(back.json.results).toEqual(page1.json.results);

    const last = await load(`started=PT1H&page_size=2&page=${Math.ceil(n / 2)}`);
    expect(last.json.results).toHaveLength(n % 2 === 0 ? 2 : 1);
    expect(last.json.next).toBeNull();

    // Every page of every size, for the all-customer series and for one customer's: together the
    // whole series in order, each page starting where the previous one ended.
    for (const filters of ['', '&customer=1', '&customer=1&queue=priority']) {
      for (const size of [1, 2, 3, n]) {
        const seen: string[] = [];
        for (let page = 1; page <= Math.ceil(n / size); page++) {
          const answer = await load(`started=PT1H&page_size=${size}&page=${page}${filters}`);
          expect(answer.json.count).toBe(n);
          seen.push(...timesOf(answer));
        }
        expect({ filters, size, seen }).toEqual({ filters, size, seen: sampleTimes });
      }
    }
    // Past the end: empty, pointing back to the last page.
    const past = await load(`started=PT1H&page_size=2&page=${Math.ceil(n / 2) + 3}`);
    expect(past.json).toMatchObject({ count: n, next: null, results: [] });
    expect(new URL(past.json.previous).searchParams.get('page')).toBe(String(Math.ceil(n / 2)));
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
    expect(samples).toBe(3); // customers 11, 12 and 13; customer 1 is idle and writes nothing
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
    // An idle customer (1) and one that never submitted (99) have no sample: absent, not zero points.
    const t = encodeURIComponent(time);
    for (const customer of [1, 99]) {
      expect((await load(`started=${t}&ended=${t}&customer=${customer}`)).json).toEqual({
        count: 0,
        next: null,
        previous: null,
        results: [],
      });
    }
    expect(await queued('customer=1&customer=12')).toBe(10);
  });

  it('merges several customers per time and pages the merged series', async () => {
    const second = await sample();
    expect(second.samples).toBe(3);
    const [earlier, later] = sampleTimes.slice(-2) as [string, string];
    expect(later).toBe(second.time);
    const range = `started=${encodeURIComponent(earlier)}&ended=${encodeURIComponent(later)}`;
    const merged = await load(`${range}&customer=12&customer=13`);
    expect(merged.json.count).toBe(2);
    expect(merged.json.results).toEqual([
      { time: earlier, pending_count: 0, queued_count: 14, running_count: 0 },
      { time: later, pending_count: 0, queued_count: 14, running_count: 0 },
    ]);
    const page2 = await load(`${range}&customer=12&customer=13&page_size=1&page=2`);
    expect(page2.json).toMatchObject({ count: 2, next: null, results: [merged.json.results[1]] });
    expect(new URL(page2.json.previous).searchParams.getAll('customer')).toEqual(['12', '13']);
    // Customer 1's load of the first describe is outside this range: the all-customer series has the same two times.
    expect(timesOf(await load(range))).toEqual([earlier, later]);
  });

  it("a customer key sees only its own customer's load", async () => {
    const time = sampleTimes[sampleTimes.length - 1] as string;
    const t = encodeURIComponent(time);
    expect(await pointAt(time, '', customerKey)).toEqual({ time, pending_count: 0, queued_count: 8, running_count: 0 });
    expect(await pointAt(time, 'customer=11', customerKey)).toEqual({ time, pending_count: 0, queued_count: 8, running_count: 0 });
    expect(await pointAt(time, 'queue=priority', customerKey)).toEqual({ time, pending_count: 0, queued_count: 3, running_count: 0 });
    // Customer 11 has load since this describe's submissions: its two sample times over the default range.
    const own = await load('', customerKey);
    expect(own.status).toBe(200);
    expect(timesOf(own)).toEqual(sampleTimes.slice(-2));
    for (const query of ['customer=12', 'customer=11&customer=12']) {
      const answer = await load(`started=${t}&ended=${t}&${query}`, customerKey);
      expect({ query, status: answer.status }).toEqual({ query, status: 403 });
    }
  });
});
