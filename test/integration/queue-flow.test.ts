/**
 * A batch all the way through the real handlers and emulators: submit, process (real origins from
 * a local HTTP server, good and broken), read back every member's recorded result.
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
  env = await startTestRuntime({
    pollerConcurrency: { main: 4, priority: 2, tasks: 1 },
    env: { ORIGIN_MAX_BYTES: String(1024 * 1024) },
  });
  ({ api, origins, runtime } = env);
});

afterAll(() => env?.stop());

/** What each kind of origin must end as. */
type Expected = { state: 'completed'; width: number; height: number; mediaType: string } | { state: 'error'; error: RegExp };

function asset(i: number, space = 1): { member: Record<string, unknown>; expected: Expected } {
  const w = (i % 37) + 1;
  const h = (i % 23) + 2;
  const id = `img-${i}`;
  switch (i % 10) {
    case 0:
      return { member: { id, space, origin: `${origins.url}/missing` }, expected: { state: 'error', error: /HTTP 404/ } };
    case 1:
      return { member: { id, space, origin: `${origins.url}/text` }, expected: { state: 'error', error: /not a recognised image/ } };
    case 2:
      return { member: { id, space, origin: `${origins.url}/huge` }, expected: { state: 'error', error: /larger than/ } };
    case 3:
      return {
        member: { id, space, origin: 'http://169.254.169.254/latest/meta-data/' },
        expected: { state: 'error', error: /not allowed/ },
      };
    case 4:
      return {
        member: { id, space, origin: `${origins.url}/jpeg/${w}x${h}.jpg`, string1: `s${i}`, tags: ['t'] },
        expected: { state: 'completed', width: w, height: h, mediaType: 'image/jpeg' },
      };
    case 5:
      return {
        member: { id, space, origin: `${origins.url}/gif/${w}x${h}.gif`, number1: i },
        expected: { state: 'completed', width: w, height: h, mediaType: 'image/gif' },
      };
    default:
      return {
        member: { id, space, origin: `${origins.url}/png/${w}x${h}.png` },
        expected: { state: 'completed', width: w, height: h, mediaType: 'image/png' },
      };
  }
}

function checkMember(image: any, expected: Expected): void {
  expect(image.ingesting).toBe(false);
  expect(image.finished).toEqual(expect.any(String));
  if (expected.state === 'completed') {
    expect(image).toMatchObject({ width: expected.width, height: expected.height, mediaType: expected.mediaType });
    expect(image.contentLength).toBeGreaterThan(0);
    expect(image.error).toBeUndefined();
  } else {
    expect(image.error).toMatch(expected.error);
    expect(image.width).toBeUndefined();
  }
}

test('a 3-image collection returns 201 with a Location and the batch finishes', async () => {
  const members = [0, 4, 6].map((i) => asset(i, 9).member);
  const result = await api.submit(1, members);
  expect(result.status).toBe(201);
  expect(result.headers.get('location')).toBe(result.body['@id']);
  expect(result.body).toMatchObject({ '@type': 'vocab:Batch', count: 3, completed: 0, errors: 0, superseded: false });
  const [batch] = await api.waitForFinished(1, [result.body.id]);
  expect(batch).toMatchObject({ count: 3, completed: 2, errors: 1 });
  expect(batch.estCompletion).toBeUndefined();
});

test('a 1,000-member batch and a priority batch finish with exact counters and recorded results', async () => {
  const main = Array.from({ length: 1000 }, (_, i) => asset(i));
  const priority = Array.from({ length: 20 }, (_, i) => asset(i + 5000, 2));
  const [mainId, priorityId] = await Promise.all([
    api.submitOk(
      2,
      main.map((a) => a.member),
    ),
    api.submitOk(
      2,
      priority.map((a) => a.member),
      { priority: true },
    ),
  ]);
  const [mainBatch, priorityBatch] = await api.waitForFinished(2, [mainId, priorityId], 240_000);

  const expectedErrors = (list: typeof main) => list.filter((a) => a.expected.state === 'error').length;
  expect(mainBatch).toMatchObject({ count: 1000, completed: 1000 - expectedErrors(main), errors: expectedErrors(main), superseded: false });
  expect(priorityBatch).toMatchObject({ count: 20, completed: 20 - expectedErrors(priority), errors: expectedErrors(priority) });
  expect(Date.parse(mainBatch.finished)).toBeGreaterThanOrEqual(Date.parse(mainBatch.submitted));

  const images = await api.allMembers(`${mainBatch.images}?pageSize=500`);
  expect(images.map((m) => m.id)).toEqual(main.map((a) => a.member.id));
  for (const [i, image] of images.entries()) checkMember(image, (main[i] as (typeof main)[number]).expected);
  const completed = await api.allMembers(`${mainBatch.completedImages}?pageSize=500`);
  const errors = await api.allMembers(`${mainBatch.errorImages}?pageSize=500`);
  expect(completed).toHaveLength(mainBatch.completed);
  expect(errors).toHaveLength(mainBatch.errors);
  expect(errors.every((m) => typeof m.error === 'string')).toBe(true);

  const queue = await api.customerQueue(2);
  expect(queue).toMatchObject({ size: 0, imagesWaiting: 0, batchesWaiting: 0 });
  expect((await reconcileTable()).drift).toEqual([]);
});

test('a processor that sees the same message twice counts it once', async () => {
  runtime.pollers?.pause('main');
  try {
    const members = Array.from({ length: 5 }, (_, i) => asset(i + 3, 3).member); // one refused origin, four images
    const batch = await api.submitOk(3, members);
    // The same member twice in one delivery, then the whole delivery again.
    const records = [0, 1, 2, 3, 4, 0, 2].map((i, n) => memberRecord(3, batch, i, `m-${i}-${n}`));
    expect((await invokeProcessor(runtime, records)).batchItemFailures).toEqual([]);
    expect((await invokeProcessor(runtime, records)).batchItemFailures).toEqual([]);
    expect(await api.batch(3, batch)).toMatchObject({ count: 5, completed: 4, errors: 1, finished: expect.any(String) });
    expect(await api.customerQueue(3)).toMatchObject({ size: 0, imagesWaiting: 0 });
  } finally {
    runtime.pollers?.resume('main');
  }
  // The original messages are still on the queue: delivered now, they must not count again.
  await waitFor(async () => (await api.get('/queue')).body.incoming === 0, { description: 'main queue to drain' });
  const batches = (await api.get('/customers/3/queue/batches')).body.member;
  expect(batches[0]).toMatchObject({ count: 5, completed: 4, errors: 1 });
  expect((await reconcileTable()).drift).toEqual([]);
});
