/**
 * The DLCS Queue and Batch API through the real handlers: counters, the batch-state collections as
 * processing proceeds, cursor paging, superseded batches, and every link the API emits resolving.
 */
import { reconcileTable } from '../../lambdas/adapters/reconcile-store';
import type { QueueClient } from '../support/queue-client';
import { waitFor } from '../support/queue-client';
import { invokeProcessor, memberRecord, startTestRuntime, type TestRuntime } from '../support/test-runtime';

jest.setTimeout(300_000);

let env: TestRuntime;
let api: QueueClient;
let origins: TestRuntime['origins'];
let runtime: TestRuntime['runtime'];

beforeAll(async () => {
  env = await startTestRuntime({ pollerConcurrency: { main: 2, priority: 1, tasks: 1 } });
  ({ api, origins, runtime } = env);
});

afterAll(() => env?.stop());

const png = (id: string, space = 1) => ({ id, space, origin: `${origins.url}/png/8x6.png` });
const ids = (members: any[]) => members.map((m) => m.id);
const same = (a: unknown[], b: unknown[]) => JSON.stringify(a) === JSON.stringify(b);
/** Ids of an index-backed collection once they are `expected` (indexes show writes after a lag). */
const listedOnce = async (path: string, expected: unknown[]) => {
  const listed = ids(await api.allMembersOnceIndexed(path, (ms) => same(ids(ms), expected)));
  expect(listed).toEqual(expected);
};

async function processDirectly(customer: number, batch: number, indexes: number[]): Promise<void> {
  const records = indexes.map((i) => memberRecord(customer, batch, i, `direct-${customer}-${batch}-${i}`));
  expect((await invokeProcessor(runtime, records)).batchItemFailures).toEqual([]);
}

async function paused<T>(queues: ('main' | 'priority' | 'tasks')[], work: () => Promise<T>): Promise<T> {
  for (const q of queues) runtime.pollers?.pause(q);
  try {
    return await work();
  } finally {
    for (const q of queues) runtime.pollers?.resume(q);
  }
}

test('counters and the batch-state collections follow a batch from waiting to active to finished', async () => {
  const customer = 21;
  const batch = await paused(['main'], async () => {
    const id = await api.submitOk(
      customer,
      ['a', 'b', 'c', 'd'].map((x) => png(x)),
    );
    // waiting: submitted, nothing picked up
    expect(await api.customerQueue(customer)).toMatchObject({ size: 4, imagesWaiting: 4, batchesWaiting: 1 });
    expect(ids((await api.get(`/customers/${customer}/queue/batches`)).body.member)).toEqual([id]);
    expect((await api.get(`/customers/${customer}/queue/active`)).body.member).toEqual([]);
    expect((await api.get(`/customers/${customer}/queue/recent`)).body.member).toEqual([]);
    await listedOnce(`/customers/${customer}/queue/images`, ['a', 'b', 'c', 'd']);
    const queued = (await api.get(`/customers/${customer}/queue/images`)).body;
    expect(queued).toMatchObject({ '@type': 'Collection', totalItems: 4 });
    expect(ids(queued.member)).toEqual(['a', 'b', 'c', 'd']);
    expect(queued.member.every((m: any) => m.ingesting === true)).toBe(true);
    expect((await api.get('/queue')).body.incoming).toBeGreaterThanOrEqual(4);

    // active: two members processed, two still waiting
    await processDirectly(customer, id, [0, 1]);
    expect(await api.customerQueue(customer)).toMatchObject({ size: 2, imagesWaiting: 2, batchesWaiting: 0 });
    await listedOnce(`/customers/${customer}/queue/active`, [id]);
    expect((await api.get(`/customers/${customer}/queue/recent`)).body.member).toEqual([]);
    const active = await api.batch(customer, id);
    expect(active).toMatchObject({ count: 4, completed: 2, errors: 0 });
    expect(active.finished).toBeUndefined();
    expect(Date.parse(active.estCompletion)).toBeGreaterThan(0);
    expect(ids((await api.get(`/customers/${customer}/queue/images`)).body.member)).toEqual(['c', 'd']);
    return id;
  });

  // finished: out of active, first in recent
  const [finished] = await api.waitForFinished(customer, [batch]);
  expect(finished).toMatchObject({ count: 4, completed: 4, errors: 0, superseded: false });
  expect(finished.estCompletion).toBeUndefined();
  await listedOnce(`/customers/${customer}/queue/active`, []);
  await listedOnce(`/customers/${customer}/queue/recent`, [batch]);
  expect(await api.customerQueue(customer)).toMatchObject({ size: 0, imagesWaiting: 0, batchesWaiting: 0 });
  await listedOnce(`/customers/${customer}/queue/images`, []);
});

test('cursor paging: batches newest first, batch images in order, the queue across both queues', async () => {
  const customer = 22;
  const submitted: number[] = [];
  for (let i = 0; i < 5; i++) submitted.push(await api.submitOk(customer, [png(`p${i}-a`), png(`p${i}-b`)]));
  const big = await api.submitOk(
    customer,
    Array.from({ length: 20 }, (_, i) => png(`big-${i}`)),
  );
  submitted.push(big);
  await api.waitForFinished(customer, submitted);

  // batches: 6 in pages of 2, most recent first
  const first = (await api.get(`/customers/${customer}/queue/batches?pageSize=2`)).body;
  expect(first).toMatchObject({ totalItems: 6, pageSize: 2, view: { '@type': 'PartialCollectionView' } });
  expect(first.view.first).toBe(`${runtime.apiUrl}/customers/${customer}/queue/batches?pageSize=2`);
  const pages: number[][] = [];
  let url: string | undefined = first['@id'];
  while (url) {
    const page: any = (await api.get(url)).body;
    pages.push(ids(page.member));
    url = page.view.next;
  }
  expect(pages).toEqual([
    [submitted[5], submitted[4]],
    [submitted[3], submitted[2]],
    [submitted[1], submitted[0]],
  ]);

  // batch images: 20 members in pages of 7, in submission order
  const batch = await api.batch(customer, big);
  const imagePages: string[][] = [];
  url = `${batch.images}?pageSize=7`;
  while (url) {
    const page: any = (await api.get(url)).body;
    expect(page.totalItems).toBe(20);
    imagePages.push(ids(page.member));
    url = page.view.next;
  }
  expect(imagePages.map((p) => p.length)).toEqual([7, 7, 6]);
  expect(imagePages.flat()).toEqual(Array.from({ length: 20 }, (_, i) => `big-${i}`));
  expect(await api.allMembers(`${batch.completedImages}?pageSize=3`)).toHaveLength(20);
  expect(await api.allMembers(batch.errorImages)).toEqual([]);

  // the queue's images across the main and priority queues, both ends
  await paused(['main', 'priority'], async () => {
    const mainBatch = await api.submitOk(
      customer,
      ['q1', 'q2', 'q3', 'q4'].map((x) => png(x, 2)),
    );
    const priorityBatch = await api.submitOk(
      customer,
      ['r1', 'r2', 'r3'].map((x) => png(x, 2)),
      { priority: true },
    );
    const top = await api.allMembersOnceIndexed(`/customers/${customer}/queue/images?pageSize=3`, (ms) => ms.length === 7);
    expect(ids(top)).toEqual(['q1', 'q2', 'q3', 'q4', 'r1', 'r2', 'r3']);
    const bottom = await api.allMembers(`/customers/${customer}/queue/images?order=desc&pageSize=3`);
    expect(ids(bottom)).toEqual(['r3', 'r2', 'r1', 'q4', 'q3', 'q2', 'q1']);
    expect((await api.get(`/customers/${customer}/queue/images?pageSize=3`)).body.totalItems).toBe(7);
    const global = (await api.get('/queue')).body;
    expect(global).toMatchObject({ '@type': 'vocab:Queue', success: 0, failed: 0 });
    expect(global.incoming).toBeGreaterThanOrEqual(4);
    expect(global.priority).toBeGreaterThanOrEqual(3);
    return [mainBatch, priorityBatch];
  }).then((batches) => api.waitForFinished(customer, batches));
});

test('the queue images page through more open batches than one index read returns, on both queues', async () => {
  const customer = 24;
  const expected: string[] = [];
  await paused(['main', 'priority'], async () => {
    // 70 open batches: more than the 50 read per queue at a time, interleaved across the queues.
    for (let i = 0; i < 70; i++) {
      const priority = i % 7 === 3;
      const member = [png(`open-${i}`, 3)];
      await api.submitOk(customer, member, { priority });
      expected.push(`open-${i}`);
    }
    expect(ids(await api.allMembers(`/customers/${customer}/queue/images?pageSize=9`))).toEqual(expected);
    expect(ids(await api.allMembers(`/customers/${customer}/queue/images?order=desc&pageSize=11`))).toEqual([...expected].reverse());
    expect(ids(await api.allMembers(`/customers/${customer}/queue/images?pageSize=500`))).toEqual(expected);
  });
  await waitFor(async () => (await api.customerQueue(customer)).size === 0, { description: 'customer 24 drained' });
});

test('a batch whose assets are all re-submitted later is superseded automatically; test re-evaluates on demand', async () => {
  const customer = 23;
  const a = await api.submitOk(customer, [png('s1'), png('s2'), png('s3')]);
  await api.waitForFinished(customer, [a]);
  const b = await api.submitOk(customer, [png('s1'), png('s2'), png('s3'), png('s4')]);
  // superseded when B is submitted (the supersede task), without anyone calling test
  await waitFor(async () => (await api.batch(customer, a)).superseded === true, { description: `batch ${a} superseded` });
  await api.waitForFinished(customer, [b]);
  expect(await api.batch(customer, b)).toMatchObject({ superseded: false });
  const recent = ids(
    await api.allMembersOnceIndexed(`/customers/${customer}/queue/recent`, (ms) => ids(ms).includes(b) && !ids(ms).includes(a)),
  );
  expect(recent).toContain(b);
  expect(recent).not.toContain(a);
  expect(ids((await api.get(`/customers/${customer}/queue/batches`)).body.member)).toEqual([b, a]);
  expect((await api.call('POST', `/customers/${customer}/queue/batches/${a}/test`)).body).toEqual({ success: false });
  // an image resolves to its current batch, and A still lists its members
  expect((await api.get(`/customers/${customer}/spaces/1/images/s1`)).body.batch).toBe(
    `${runtime.apiUrl}/customers/${customer}/queue/batches/${b}`,
  );
  expect(ids(await api.allMembers(`/customers/${customer}/queue/batches/${a}/images`))).toEqual(['s1', 's2', 's3']);

  // partly re-submitted: not superseded
  const c = await api.submitOk(customer, [png('t1'), png('t2')]);
  await api.waitForFinished(customer, [c]);
  const d = await api.submitOk(customer, [png('t1')]);
  await api.waitForFinished(customer, [d]);
  await waitFor(async () => (await api.get('/queue')).body.incoming === 0, { description: 'queues to drain' });
  expect(await api.batch(customer, c)).toMatchObject({ superseded: false });

  // with the automatic paths held back, test is what notices
  const e = await paused(['main', 'priority', 'tasks'], async () => {
    const id = await api.submitOk(customer, [png('t2'), png('t3')]);
    // Not started yet: estimated from the customer's recent throughput.
    expect(Date.parse((await api.batch(customer, id)).estCompletion)).toBeGreaterThan(Date.now() - 60_000);
    expect(await api.batch(customer, c)).toMatchObject({ superseded: false });
    // The image read shows the new batch...
    const current = `${runtime.apiUrl}/customers/${customer}/queue/batches/${id}`;
    await waitFor(async () => (await api.get(`/customers/${customer}/spaces/1/images/t2`)).body.batch === current, {
      description: 't2 read as the new batch',
    });
    // ...but `test` finds later batches through the asset index, a GSI that shows them after a
    // short lag (the strict proxy lags it as AWS does): until then it truthfully finds no change.
    await waitFor(async () => (await api.call('POST', `/customers/${customer}/queue/batches/${c}/test`)).body.success === true, {
      description: `test of batch ${c} to find it superseded once the asset index shows batch ${id}`,
    });
    expect(await api.batch(customer, c)).toMatchObject({ superseded: true });
    expect((await api.call('POST', `/customers/${customer}/queue/batches/${c}/test`)).body).toEqual({ success: false });
    return id;
  });
  await api.waitForFinished(customer, [e]);
  expect((await api.call('POST', `/customers/${customer}/queue/batches/999/test`)).status).toBe(404);
});

test('single resources: 404 for unknown batches and images, 405 for GET on the priority queue', async () => {
  const missing = await api.get('/customers/21/queue/batches/424242');
  expect(missing.status).toBe(404);
  expect(missing.body).toMatchObject({ '@type': 'Error', statusCode: 404 });
  expect((await api.get('/customers/21/spaces/1/images/nope')).status).toBe(404);
  const priority = await api.get('/customers/21/queue/priority');
  expect(priority.status).toBe(405);
  expect(priority.headers.get('allow')).toContain('POST');
  // a customer with no batches yet has an empty queue, not a 404
  expect(await api.customerQueue(29)).toMatchObject({ '@type': 'vocab:CustomerQueue', size: 0, imagesWaiting: 0, batchesWaiting: 0 });
});

test('every link and @id the API emits resolves', async () => {
  const seeds = ['/queue', ...[21, 22, 23].map((c) => `/customers/${c}/queue`)];
  const seen = new Set<string>();
  const queue = seeds.map((s) => `${runtime.apiUrl}${s}`);
  const failures: string[] = [];
  const collect = (value: unknown): string[] => {
    if (typeof value === 'string') return value.startsWith(runtime.apiUrl) ? [value] : [];
    if (Array.isArray(value)) return value.flatMap(collect);
    if (value && typeof value === 'object') return Object.values(value).flatMap(collect);
    return [];
  };
  while (queue.length > 0 && seen.size < 600) {
    const url = queue.shift() as string;
    if (seen.has(url)) continue;
    seen.add(url);
    // Two links name POST-only resources: a batch's `test` and the customer's `priority` queue.
    if (url.endsWith('/test')) {
      const result = await api.call('POST', url);
      if (result.status !== 200) failures.push(`POST ${url} -> ${result.status}`);
      continue;
    }
    if (url.endsWith('/queue/priority')) {
      const result = await api.get(url);
      if (result.status !== 405 || !result.headers.get('allow')?.includes('POST')) failures.push(`GET ${url} -> ${result.status}`);
      continue;
    }
    const result = await api.get(url);
    if (result.status !== 200) {
      failures.push(`GET ${url} -> ${result.status}`);
      continue;
    }
    queue.push(...collect(result.body).filter((link) => !seen.has(link)));
  }
  expect(failures).toEqual([]);
  expect(seen.size).toBeGreaterThan(100);
});

test('after everything, reconcile finds no drift', async () => {
  await waitFor(async () => (await api.get('/queue')).body.incoming === 0, { description: 'queues to drain' });
  const report = await reconcileTable();
  expect(report.batches).toBeGreaterThan(10);
  expect(report.drift).toEqual([]);
});
