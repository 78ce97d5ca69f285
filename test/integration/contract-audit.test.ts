/**
 * The contract audit (issue 12, parts 8 and 9) through the real handlers and emulators, as a DLCS
 * client or a new user would try it: page numbers with DLCS's PartialCollectionView, filtered
 * pages that are never empty while matches remain, estCompletion before a batch's own rate is
 * known, /queue/status semantics and paging, GET of a key's @id, HEAD on GET routes,
 * Idempotency-Key scoped by route and compared as parsed JSON, and the error body everywhere.
 */
import type { QueueClient } from '../support/queue-client';
import { waitFor } from '../support/queue-client';
import { invokeProcessor, memberRecord, startTestRuntime, type TestRuntime } from '../support/test-runtime';

jest.setTimeout(300_000);

let env: TestRuntime;
let api: QueueClient;
let origins: TestRuntime['origins'];
let runtime: TestRuntime['runtime'];

beforeAll(async () => {
  // A short origin timeout: the `/slow` origin keeps a member running until it passes.
  env = await startTestRuntime({ pollerConcurrency: { main: 4, priority: 1, tasks: 1 }, env: { ORIGIN_TIMEOUT_MS: '8000' } });
  ({ api, origins, runtime } = env);
});

afterAll(() => env?.stop());

const png = (id: string) => ({ id, space: 1, origin: `${origins.url}/png/8x6.png` });
const missing = (id: string) => ({ id, space: 1, origin: `${origins.url}/missing` });
const slow = (id: string) => ({ id, space: 1, origin: `${origins.url}/slow` });
const ids = (members: any[]) => members.map((m) => m.id);

async function paused<T>(queues: ('main' | 'priority' | 'tasks')[], work: () => Promise<T>): Promise<T> {
  for (const q of queues) runtime.pollers?.pause(q);
  try {
    return await work();
  } finally {
    for (const q of queues) runtime.pollers?.resume(q);
  }
}

/** Delivers members' messages straight to the processor (as the event source would). */
function processDirectly(customer: number, batch: number, indexes: number[]) {
  return invokeProcessor(
    runtime,
    indexes.map((i) => memberRecord(customer, batch, i, `audit-${customer}-${batch}-${i}-${Math.random()}`)),
  );
}

/** Reads a collection page until `ready` holds (index-backed listings show writes after a lag). */
async function pageOnce(path: string, ready: (body: any) => boolean, timeoutMs = 15_000): Promise<any> {
  let body: any;
  await waitFor(
    async () => {
      body = (await api.get(path)).body;
      return ready(body);
    },
    {
      timeoutMs,
      description: () => `${path}: ${JSON.stringify(body)?.slice(0, 400)}`,
    },
  );
  return body;
}

const expectErrorBody = (body: any, status: number) =>
  expect(body).toMatchObject({ '@type': 'Error', statusCode: status, title: expect.any(String), detail: expect.any(String) });

describe('DLCS page numbers', () => {
  const customer = 801;
  const batches: number[] = [];
  let batch7: number;

  beforeAll(async () => {
    await paused(['main'], async () => {
      for (let i = 0; i < 5; i++) batches.push(await api.submitOk(customer, [png(`p${i}`)]));
      batch7 = await api.submitOk(customer, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'].map(png));
    });
  });

  it('pages batches by a 1-based page number with first/previous/next/last as DLCS emits them', async () => {
    const base = `${api.apiUrl}/customers/${customer}/queue/batches`;
    const page2 = await api.get(`/customers/${customer}/queue/batches?page=2&pageSize=2`);
    expect(page2.status).toBe(200);
    const newestFirst = [batch7, ...[...batches].reverse()];
    expect(page2.body.member.map((b: any) => b.id)).toEqual(newestFirst.slice(2, 4));
    expect(page2.body).toMatchObject({ totalItems: 6, pageSize: 2, '@id': `${base}?page=2&pageSize=2` });
    expect(page2.body.view).toEqual({
      '@id': `${base}?page=2&pageSize=2`,
      '@type': 'PartialCollectionView',
      first: `${base}?page=1&pageSize=2`,
      previous: `${base}?page=1&pageSize=2`,
      next: `${base}?page=3&pageSize=2`,
      last: `${base}?page=3&pageSize=2`,
    });
    const page3 = (await api.get(page2.body.view.next)).body;
    expect(page3.member.map((b: any) => b.id)).toEqual(newestFirst.slice(4, 6));
    expect(page3.view.next).toBeUndefined();
    // Past the end: empty, pointing back to the last page.
    const page9 = (await api.get(`/customers/${customer}/queue/batches?page=9&pageSize=2`)).body;
    expect(page9.member).toEqual([]);
    expect(page9.view.previous).toBe(`${base}?page=3&pageSize=2`);
  });

  it('pages a batch’s images, queue/images, active and recent by number too', async () => {
    const images = (await api.get(`/customers/${customer}/queue/batches/${batch7}/images?page=3&pageSize=3`)).body;
    expect(ids(images.member)).toEqual(['m6']);
    expect(images.view).toMatchObject({
      previous: expect.stringContaining('page=2&pageSize=3'),
      last: expect.stringContaining('page=3&pageSize=3'),
    });
    expect(images.view.next).toBeUndefined();
    const second = (await api.get(`/customers/${customer}/queue/batches/${batch7}/images?page=2&pageSize=3`)).body;
    expect(ids(second.member)).toEqual(['m3', 'm4', 'm5']);
    for (const path of ['active', 'recent']) {
      const answer = await api.get(`/customers/${customer}/queue/${path}?page=2&pageSize=2`);
      expect(answer.status).toBe(200);
      expect(answer.body.view.first).toContain('page=1&pageSize=2');
    }
  });

  it('refuses page 0, a page beyond the deepest page number, and a forged token, with the error body', async () => {
    for (const query of ['page=0', 'page=10002&pageSize=1', 'page=abc!', 'pageSize=0']) {
      const answer = await api.get(`/customers/${customer}/queue/batches?${query}`);
      expect({ query, status: answer.status }).toEqual({ query, status: 400 });
      expectErrorBody(answer.body, 400);
    }
  });
});

describe('filtered pages hold matching items whenever they exist', () => {
  it('errorImages shows a batch’s only errors, its last members, on the first small page (and completedImages the reverse)', async () => {
    const customer = 802;
    // 250 members before the 2 that matter: more than a page's fixed read budget used to cover.
    const errorsLast = await api.submitOk(customer, [
      ...Array.from({ length: 250 }, (_, i) => png(`ok${i}`)),
      missing('bad0'),
      missing('bad1'),
    ]);
    const completedLast = await api.submitOk(customer, [
      ...Array.from({ length: 250 }, (_, i) => missing(`no${i}`)),
      png('good0'),
      png('good1'),
    ]);
    await api.waitForFinished(customer, [errorsLast, completedLast], 240_000);
    const errors = await pageOnce(`/customers/${customer}/queue/batches/${errorsLast}/errorImages?pageSize=1`, (b) => b.member?.length > 0);
    expect(errors).toMatchObject({ totalItems: 2, pageSize: 1 });
    expect(ids(errors.member)).toEqual(['bad0']);
    expect(errors.member[0].error).toEqual(expect.any(String));
    const rest = (await api.get(errors.view.next)).body;
    expect(ids(rest.member)).toEqual(['bad1']);
    expect(rest.view.next).toBeUndefined();
    const completed = (await api.get(`/customers/${customer}/queue/batches/${completedLast}/completedImages?pageSize=1`)).body;
    expect(completed).toMatchObject({ totalItems: 2 });
    expect(ids(completed.member)).toEqual(['good0']);
    expect(ids(await api.allMembers(`/customers/${customer}/queue/batches/${completedLast}/completedImages?pageSize=1`))).toEqual([
      'good0',
      'good1',
    ]);
  });

  it('queue/images shows the waiting members behind 200 finished ones', async () => {
    const customer = 803;
    await paused(['main'], async () => {
      const batch = await api.submitOk(
        customer,
        Array.from({ length: 210 }, (_, i) => png(`q${String(i).padStart(3, '0')}`)),
      );
      for (let from = 0; from < 200; from += 50) {
        const result = await processDirectly(
          customer,
          batch,
          Array.from({ length: 50 }, (_, i) => from + i),
        );
        expect(result.batchItemFailures).toEqual([]);
      }
      const page = await pageOnce(`/customers/${customer}/queue/images?pageSize=3`, (b) => b.totalItems === 10 && b.member?.length > 0);
      expect(ids(page.member)).toEqual(['q200', 'q201', 'q202']);
      expect(page.view.next).toBeDefined();
      // By number as well: page 2 of 3 is the next three.
      expect(ids((await api.get(`/customers/${customer}/queue/images?pageSize=3&page=2`)).body.member)).toEqual(['q203', 'q204', 'q205']);
    });
  });

  it('recent?pageSize=1 reaches a batch behind 21 superseded ones', async () => {
    const customer = 804;
    const kept = await api.submitOk(customer, [png('kept')]);
    await api.waitForFinished(customer, [kept]);
    const dups: number[] = [];
    for (let i = 0; i < 22; i++) dups.push(await api.submitOk(customer, [png('dup')]));
    await api.waitForFinished(customer, dups);
    const newest = dups[dups.length - 1] as number;
    await waitFor(
      async () => (await Promise.all(dups.slice(0, -1).map((b) => api.batch(customer, b)))).every((b) => b.superseded === true),
      {
        timeoutMs: 60_000,
        description: 'the 21 older batches to be superseded',
      },
    );
    const pages: any[] = [];
    await waitFor(
      async () => {
        pages.length = 0;
        let url: string | undefined = `/customers/${customer}/queue/recent?pageSize=1`;
        while (url) {
          const body: any = (await api.get(url)).body;
          pages.push(body);
          url = body.view.next;
        }
        return pages.flatMap((p) => p.member).length === 2;
      },
      {
        timeoutMs: 15_000,
        description: () => `recent to list 2 batches: ${JSON.stringify(pages.map((p) => p.member.map((b: any) => b.id)))}`,
      },
    );
    // No page is empty while a batch remains: each holds one.
    expect(pages.map((p) => p.member.map((b: any) => b.id))).toEqual([[newest], [kept]]);
    expect((await api.get(`/customers/${customer}/queue/recent?pageSize=1&page=2`)).body.member.map((b: any) => b.id)).toEqual([kept]);
  });
});

describe('estCompletion and /queue/status before a batch has a rate of its own', () => {
  const customer = 805;

  it('estimates a batch waiting behind another and one picked up with nothing done; status counts waiting members only', async () => {
    runtime.pollers?.pause('main');
    runtime.pollers?.pause('priority');
    const running: Promise<unknown>[] = [];
    try {
      // A: one member completes, one stays running (the origin never answers); nothing waits in A.
      const a = await api.submit(customer, [png('a0'), slow('a1')]);
      const b = await api.submit(customer, [png('b0'), png('b1')]);
      expect([a.status, b.status]).toEqual([201, 201]);
      expect((await processDirectly(customer, a.body.id, [0])).batchItemFailures).toEqual([]);
      // No batch of this customer has finished: B's estimate comes from A's observed rate (once
      // the active-batch index, which lags as on AWS, shows A).
      let waiting: any;
      await waitFor(
        async () => {
          waiting = await api.batch(customer, b.body.id);
          return waiting.estCompletion !== undefined;
        },
        {
          timeoutMs: 15_000,
          description: () => `an estCompletion on ${JSON.stringify(waiting)}`,
        },
      );
      expect(Date.parse(waiting.estCompletion)).toBeGreaterThan(Date.now() - 1_000);
      expect(waiting.finished ?? null).toBeNull();
      // B in a listing too.
      const listed = (await api.get(`/customers/${customer}/queue/batches`)).body.member.find((x: any) => x.id === b.body.id);
      expect(listed.estCompletion).toEqual(expect.any(String));

      running.push(processDirectly(customer, a.body.id, [1]));
      const e = await api.submit(customer, [slow('e0')], { priority: true });
      running.push(processDirectly(customer, e.body.id, [0]));
      await waitFor(async () => (await api.customerQueue(customer)).size - (await api.customerQueue(customer)).imagesWaiting === 2, {
        timeoutMs: 20_000,
        description: 'the two slow members to be running',
      });
      // E was picked up and nothing of it is done: estimated from the queue's throughput.
      const started = await api.batch(customer, e.body.id);
      expect(started).toMatchObject({ completed: 0, errors: 0, estCompletion: expect.any(String) });

      // /queue/status: main has B's 2 waiting members (A's running one is not queued), oldest B's.
      const rows = (await api.get('/queue/status?page_size=500')).body.results.filter((r: any) => r.customer === customer);
      expect(rows).toEqual([{ customer, queue: 'main', count: 2, longest_queued: b.body.submitted, highest_priority: 1 }]);
    } finally {
      runtime.pollers?.resume('main');
      runtime.pollers?.resume('priority');
      await Promise.allSettled(running);
    }
  });

  it('pages /queue/status by page and page_size and refuses page_size=0', async () => {
    // Two groups at least while these wait.
    await paused(['main', 'priority'], async () => {
      await api.submitOk(806, [png('s0')]);
      await api.submitOk(807, [png('s1')], { priority: true });
      // New customers join the customer index a moment later (a GSI, lagging as on AWS).
      await waitFor(
        async () => {
          const customers = (await api.get('/queue/status')).body.results.map((r: any) => r.customer);
          return customers.includes(806) && customers.includes(807);
        },
        { timeoutMs: 15_000, description: 'customers 806 and 807 in /queue/status' },
      );
      const first = await api.get('/queue/status?page_size=1');
      expect(first.status).toBe(200);
      expect(first.body.count).toBeGreaterThanOrEqual(2);
      expect(first.body.results).toHaveLength(1);
      expect(first.body.previous).toBeNull();
      expect(first.body.next).toBe(`${api.apiUrl}/queue/status?page_size=1&page=2`);
      const second = (await api.get(first.body.next)).body;
      expect(second.results).toHaveLength(1);
      expect(second.results[0]).not.toEqual(first.body.results[0]);
      expect(second.previous).toBe(`${api.apiUrl}/queue/status?page_size=1&page=1`);
      for (const query of ['page_size=0', 'page=0', 'page_size=501', 'page=x']) {
        const answer = await api.get(`/queue/status?${query}`);
        expect({ query, status: answer.status }).toEqual({ query, status: 400 });
        expectErrorBody(answer.body, 400);
      }
    });
  });
});

describe('every emitted link resolves; HEAD answers every GET route', () => {
  it('GET of a created key’s @id answers the key without its secret; an unknown key 404', async () => {
    const created = await api.call('POST', '/customers/808/keys', { privileges: ['read'] });
    expect(created.status).toBe(201);
    const got = await api.get(created.body['@id']);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({
      '@context': created.body['@context'],
      '@id': created.body['@id'],
      '@type': 'vocab:Key',
      key: created.body.key,
      customer: 808,
      privileges: ['read'],
      created: created.body.created,
    });
    const unknown = await api.get('/customers/808/keys/no-such-key');
    expect(unknown.status).toBe(404);
    expectErrorBody(unknown.body, 404);
    // Another customer's key is not this customer's.
    expect((await api.get(created.body['@id'].replace('/customers/808/', '/customers/809/'))).status).toBe(404);
  });

  it('HEAD answers with the GET’s status and headers and no body, for admin and customer keys, and 405s list it', async () => {
    const customer = 810;
    const batch = await api.submitOk(customer, [png('h0')]);
    const key = await api.call('POST', `/customers/${customer}/keys`, { privileges: ['read'] });
    const own = new (api.constructor as typeof QueueClient)(api.apiUrl, { key: key.body.key, secret: key.body.secret });
    const paths = [
      '/queue',
      `/customers/${customer}/queue`,
      `/customers/${customer}/queue/batches?pageSize=1`,
      `/customers/${customer}/queue/batches/${batch}`,
      `/customers/${customer}/queue/batches/${batch}/images`,
      `/customers/${customer}/spaces/1/images/h0`,
      `/customers/${customer}/queue/batches/999999`,
    ];
    for (const client of [api, own]) {
      for (const path of paths) {
        const [get, head] = [await client.call('GET', path), await client.call('HEAD', path)];
        expect({ path, status: head.status, type: head.headers.get('content-type'), body: head.body }).toEqual({
          path,
          status: get.status,
          type: get.headers.get('content-type'),
          body: undefined,
        });
      }
    }
    expect((await own.call('HEAD', '/customers/1/queue')).status).toBe(403);
    expect((await api.call('HEAD', `/customers/${customer}/keys`)).status).toBe(200);
    const notAllowed = await api.call('PUT', `/customers/${customer}/queue/batches`);
    expect(notAllowed.status).toBe(405);
    expect(notAllowed.headers.get('allow')).toBe('GET, HEAD');
    expectErrorBody(notAllowed.body, 405);
  });
});

describe('Idempotency-Key', () => {
  const customer = 811;
  const collection = () => ({ '@type': 'Collection', member: [png('i0'), png('i1')] });

  it('is scoped by route: the same key on /queue/priority makes a batch of its own', async () => {
    const body = collection();
    const main = await api.call('POST', `/customers/${customer}/queue`, body, { 'idempotency-key': 'scoped-1' });
    const priority = await api.call('POST', `/customers/${customer}/queue/priority`, body, { 'idempotency-key': 'scoped-1' });
    expect([main.status, priority.status]).toEqual([201, 201]);
    expect(priority.body.id).not.toBe(main.body.id);
    const again = await api.call('POST', `/customers/${customer}/queue/priority`, body, { 'idempotency-key': 'scoped-1' });
    expect([again.status, again.body.id]).toEqual([200, priority.body.id]);
  });

  it('compares the parsed body: other whitespace and key order replay; another body is 422', async () => {
    const body = collection();
    const first = await api.call('POST', `/customers/${customer}/queue`, body, { 'idempotency-key': 'parsed-1' });
    expect(first.status).toBe(201);
    const members = body.member.map((m) => `    {"origin": ${JSON.stringify(m.origin)}, "space": 1, "id": ${JSON.stringify(m.id)}}`);
    const reordered = `{\n  "member": [\n${members.join(',\n')}\n  ],\n  "@type": "Collection"\n}`;
    const replay = await api.call('POST', `/customers/${customer}/queue`, reordered, { 'idempotency-key': 'parsed-1' });
    expect([replay.status, replay.body.id]).toEqual([200, first.body.id]);
    const other = await api.call(
      'POST',
      `/customers/${customer}/queue`,
      { ...body, member: [png('i0')] },
      { 'idempotency-key': 'parsed-1' },
    );
    expect(other.status).toBe(422);
    expectErrorBody(other.body, 422);
  });
});
