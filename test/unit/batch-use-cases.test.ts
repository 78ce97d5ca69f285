/**
 * The batch use cases (cancel, retry, supersede, test, find) through the in-memory store, which
 * keeps the DynamoDB adapters' rules (test/support/in-memory-store.ts): each rule the use case
 * states, and counters that still add up to the members afterwards (`drift()`).
 */
import { QUEUES } from '../../lambdas/config/resources';
import { cancelBatch } from '../../lambdas/domain/cancel';
import { BatchNotFoundError, ConflictError, QueueFullError } from '../../lambdas/domain/errors';
import { findBatch } from '../../lambdas/domain/find-batch';
import { type BatchRecord, isSuperseded, type MemberRecord, type MemberState } from '../../lambdas/domain/model';
import { type IngestResult, processDelivery } from '../../lambdas/domain/processing';
import { retryBatch } from '../../lambdas/domain/retry';
import { runSupersedeTask } from '../../lambdas/domain/supersede';
import { testBatch } from '../../lambdas/domain/test-batch';
import { InMemoryQueueStore, InMemoryWorkQueue } from '../support/in-memory-store';
import { aBatch, aMember } from '../support/records';

const STARTED = '2026-01-01T00:00:05.000Z';
const FINISHED = '2026-01-01T00:01:00.000Z';
const later = () => Date.now() + 60_000;

/** Members 0…n-1 of a batch of customer 1 in these states; member i is asset `img<i>` unless `ids` says otherwise. */
function members(batch: number, states: readonly MemberState[], ids: readonly string[] = states.map((_, i) => `img${i}`)): MemberRecord[] {
  return states.map((state, index) =>
    aMember({
      batch,
      index,
      state,
      id: ids[index],
      origin: `https://example.org/${ids[index]}.png`,
      ...(state === 'error' ? { error: 'origin answered 404', finished: FINISHED } : {}),
    }),
  );
}

async function statesOf(store: InMemoryQueueStore, batch: number, customer = 1): Promise<MemberState[]> {
  return (await store.getMembers(await store.memberRefsOfBatch(customer, batch))).map((m) => m.state);
}

async function stored(store: InMemoryQueueStore, batch: number, customer = 1) {
  const found = await store.getBatch(customer, batch, true);
  if (!found) throw new Error(`no batch ${customer}/${batch}`);
  return found;
}

describe('cancelBatch', () => {
  it('cancels the members no processor has picked up, leaves those in flight, and counts each once', async () => {
    // Prepare
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 7, started: STARTED }), members(7, ['waiting', 'running', 'completed', 'waiting']));
    // Act
    const batch = await cancelBatch(store, 1, 7, later());
    // Assess
    expect(batch).toMatchObject({ count: 4, cancelled: 2, completed: 1, remaining: 1, waiting: 0 });
    expect(batch.cancelledAt).toBeDefined();
    expect(batch.finished).toBeUndefined();
    expect(await statesOf(store, 7)).toEqual(['cancelled', 'running', 'completed', 'cancelled']);
    expect(await store.getCustomer(1)).toMatchObject({ size: 1, waiting: { main: 0 }, running: { main: 1 } });
    expect(store.drift()).toEqual([]);
  });

  it('finishes a batch it leaves with nothing remaining, taking one nobody started out of batchesWaiting', async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 7 }), members(7, ['waiting', 'waiting']));
    expect(await store.getCustomer(1)).toMatchObject({ batchesWaiting: 1, size: 2 });
    const batch = await cancelBatch(store, 1, 7, later());
    expect(batch).toMatchObject({ cancelled: 2, remaining: 0 });
    expect(batch.started).toBe(batch.cancelledAt);
    expect(batch.finished).toBeDefined();
    expect(store.pendingNoticeRefs()).toEqual(['1/7']);
    expect(await store.getCustomer(1)).toMatchObject({ batchesWaiting: 0, size: 0, waiting: { main: 0 } });
    expect(store.drift()).toEqual([]);
  });

  it.each<[string, MemberState[]]>([
    ['finished by the cancel', ['waiting', 'waiting']],
    ['still running a member', ['waiting', 'running']],
  ])('is idempotent: a second cancel of a batch %s answers the same batch and counts nothing again', async (_, states) => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 7, started: STARTED }), members(7, states));
    const first = await cancelBatch(store, 1, 7, later());
    const customer = await store.getCustomer(1);
    const second = await cancelBatch(store, 1, 7, later());
    expect(second).toEqual(first);
    expect(await store.getCustomer(1)).toEqual(customer);
    expect(store.drift()).toEqual([]);
  });

  it('refuses a batch that finished before it could be cancelled with a conflict, and changes nothing', async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 7, started: STARTED, finished: FINISHED }), members(7, ['completed', 'error']));
    const before = await stored(store, 7);
    const cancelling = cancelBatch(store, 1, 7, later());
    await expect(cancelling).rejects.toThrow(ConflictError);
    await expect(cancelling).rejects.toThrow(`Batch 7 finished at ${FINISHED}; there is nothing left to cancel.`);
    expect(await stored(store, 7)).toEqual(before);
  });

  it('leaves alone a member a processor picked up between its query and its read, which then finishes normally', async () => {
    const store = new InMemoryQueueStore();
    const [picked, other] = members(7, ['waiting', 'waiting']);
    store.add(aBatch({ batch: 7, started: STARTED }), [picked!, other!]);
    const query = store.memberRefsOfBatch.bind(store);
    jest.spyOn(store, 'memberRefsOfBatch').mockImplementation(async (...args) => {
      const refs = await query(...args);
      await store.applyTransitions([{ member: picked!, to: 'running' }]);
      return refs;
    });
    const batch = await cancelBatch(store, 1, 7, later());
    expect(await statesOf(store, 7)).toEqual(['running', 'cancelled']);
    expect(batch).toMatchObject({ cancelled: 1, remaining: 1 });
    await store.applyTransitions([{ member: { ...picked!, state: 'running' }, to: 'completed' }]);
    expect(await store.finalizeBatch(1, 7)).toMatchObject({ completed: 1, cancelled: 1, remaining: 0 });
    expect(store.drift()).toEqual([]);
  });

  it("answers not found for a batch the customer does not have, even when another customer's has that id", async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ customer: 2, batch: 7 }), [aMember({ customer: 2, batch: 7 })]);
    await expect(cancelBatch(store, 1, 7, later())).rejects.toThrow(BatchNotFoundError);
    expect((await stored(store, 7, 2)).cancelledAt).toBeUndefined();
  });

  it('past its deadline leaves the waiting members to the processors, which cancel them instead of ingesting them', async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 7, started: STARTED }), members(7, ['waiting', 'waiting']));
    const batch = await cancelBatch(store, 1, 7, Date.now() - 1);
    expect(batch.cancelledAt).toBeDefined();
    expect(batch.finished).toBeUndefined();
    expect(await statesOf(store, 7)).toEqual(['waiting', 'waiting']);
    const ingest = jest.fn(async (): Promise<IngestResult> => ({ ok: false, error: 'ingested', retryable: false }));
    const failed = await processDelivery({ store, ingest, markRunningAfterMs: 10_000, maxReceiveCount: QUEUES.main.maxReceiveCount }, [
      { messageId: 'm0', member: { customer: 1, batch: 7, index: 0 }, receiveCount: 1 },
      { messageId: 'm1', member: { customer: 1, batch: 7, index: 1 }, receiveCount: 1 },
    ]);
    expect(failed).toEqual([]);
    expect(ingest).not.toHaveBeenCalled();
    expect(await statesOf(store, 7)).toEqual(['cancelled', 'cancelled']);
    const after = await stored(store, 7);
    expect(after).toMatchObject({ cancelled: 2, remaining: 0 });
    expect(after.finished).toBeDefined();
    expect(store.drift()).toEqual([]);
  });
});

describe('retryBatch', () => {
  const LIMITS = { maxQueueSize: 100, replayWindowSeconds: 3600 };

  it('submits the error members of a finished batch as a new batch on its queue, linked both ways', async () => {
    // Prepare
    const store = new InMemoryQueueStore();
    const original = members(7, ['completed', 'error', 'completed', 'error']).map((m): MemberRecord => ({ ...m, queue: 'priority' }));
    original[0] = { ...original[0]!, width: 10, height: 20 };
    original[3] = { ...original[3]!, tags: ['t'], number1: 5, lastError: 'timed out' };
    store.add(aBatch({ batch: 7, queue: 'priority', started: STARTED, finished: FINISHED }), original);
    const work = new InMemoryWorkQueue();
    // Act
    const { created, batch } = await retryBatch(store, work, { customer: 1, batch: 7 }, LIMITS);
    // Assess
    expect(created).toBe(true);
    expect(batch).toMatchObject({ customer: 1, batch: 8, queue: 'priority', count: 2, retryOf: 7, enqueueing: false });
    expect((await stored(store, 7)).retries).toEqual([8]);
    const retried = await store.getMembers(await store.memberRefsOfBatch(1, 8));
    const common = { customer: 1, batch: 8, queue: 'priority', state: 'waiting', submitted: batch.submitted, space: 1 };
    // The assets as submitted: nothing processing recorded (error, lastError, finished) comes along.
    expect(retried).toEqual([
      { ...common, index: 0, id: 'img1', origin: 'https://example.org/img1.png' },
      { ...common, index: 1, id: 'img3', origin: 'https://example.org/img3.png', tags: ['t'], number1: 5 },
    ]);
    expect(work.members).toEqual([
      { queue: 'priority', message: { customer: 1, batch: 8, index: 0 } },
      { queue: 'priority', message: { customer: 1, batch: 8, index: 1 } },
    ]);
    expect(await store.getCustomer(1)).toMatchObject({ size: 2, waiting: { priority: 2 }, batchCount: 2 });
    expect(store.drift()).toEqual([]);
  });

  it('retries the errors so far of a batch still running', async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 7, started: STARTED }), members(7, ['waiting', 'error', 'running']));
    const { batch } = await retryBatch(store, new InMemoryWorkQueue(), { customer: 1, batch: 7 }, LIMITS);
    expect(batch).toMatchObject({ count: 1, retryOf: 7 });
    expect((await store.getMembers([{ customer: 1, batch: batch.batch, index: 0 }])).map((m) => m.id)).toEqual(['img1']);
    expect(await statesOf(store, 7)).toEqual(['waiting', 'error', 'running']);
  });

  it.each<[string, Partial<BatchRecord>, MemberState[], string]>([
    ['finished', { finished: FINISHED }, ['completed', 'cancelled'], 'it finished without errors'],
    ['running', {}, ['completed', 'running'], 'none of its members has failed so far'],
  ])('refuses a %s batch with no error member with a conflict, and submits nothing', async (_, head, states, why) => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 7, started: STARTED, ...head }), members(7, states));
    const work = new InMemoryWorkQueue();
    const retrying = retryBatch(store, work, { customer: 1, batch: 7 }, LIMITS);
    await expect(retrying).rejects.toThrow(ConflictError);
    await expect(retrying).rejects.toThrow(`Batch 7 has no error members to retry: ${why}.`);
    expect(await store.getCustomer(1)).toMatchObject({ batchCount: 1 });
    expect((await stored(store, 7)).retries).toBeUndefined();
    expect(work.members).toEqual([]);
  });

  it('answers not found for a batch the customer does not have', async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ customer: 2, batch: 7, finished: FINISHED }), [aMember({ customer: 2, batch: 7, state: 'error' })]);
    await expect(retryBatch(store, new InMemoryWorkQueue(), { customer: 1, batch: 7 }, LIMITS)).rejects.toThrow(BatchNotFoundError);
  });

  it('is refused by admission like any submit, linking nothing', async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 6 }), members(6, ['waiting', 'waiting']));
    store.add(aBatch({ batch: 7, started: STARTED, finished: FINISHED }), members(7, ['error', 'error']));
    const work = new InMemoryWorkQueue();
    await expect(retryBatch(store, work, { customer: 1, batch: 7 }, { ...LIMITS, maxQueueSize: 3 })).rejects.toThrow(QueueFullError);
    expect((await stored(store, 7)).retries).toBeUndefined();
    expect(work.members).toEqual([]);
    expect(store.drift()).toEqual([]);
  });
});

describe('runSupersedeTask', () => {
  /** Batches 1, 2 and 3 of customer 1, each holding asset img0 (batch 1 also img1). */
  function threeBatches(store: InMemoryQueueStore) {
    store.add(aBatch({ batch: 1, started: STARTED, finished: FINISHED }), members(1, ['completed', 'completed'], ['img0', 'img1']));
    store.add(aBatch({ batch: 2, started: STARTED, finished: FINISHED }), members(2, ['completed'], ['img0']));
    store.add(aBatch({ batch: 3 }), members(3, ['waiting'], ['img0']));
  }
  const supersededBy = async (store: InMemoryQueueStore) =>
    (await store.getMembers([1, 2, 3].flatMap((batch) => [0, 1].map((index) => ({ customer: 1, batch, index }))))).map(
      (m) => `${m.batch}/${m.index}:${m.supersededBy ?? 'current'}`,
    );

  it("marks the asset's older members superseded by its newest batch, each once, and supersedes a batch with none current", async () => {
    // Prepare
    const store = new InMemoryQueueStore();
    threeBatches(store);
    // Act
    const changed = await runSupersedeTask(store, { customer: 1, batch: 3, from: 0, to: 1 });
    const again = await runSupersedeTask(store, { customer: 1, batch: 3, from: 0, to: 1 });
    // Assess
    expect([changed, again]).toEqual([2, 0]);
    expect(await supersededBy(store)).toEqual(['1/0:3', '1/1:current', '2/0:3', '3/0:current']);
    expect([(await stored(store, 1)).current, (await stored(store, 2)).current, (await stored(store, 3)).current]).toEqual([1, 0, 1]);
    expect([isSuperseded(await stored(store, 1)), isSuperseded(await stored(store, 2))]).toEqual([false, true]);
    expect(store.drift()).toEqual([]);
  });

  it("converges whatever order the tasks run in: an older batch's task marks by the newest batch it sees", async () => {
    const store = new InMemoryQueueStore();
    threeBatches(store);
    expect(await runSupersedeTask(store, { customer: 1, batch: 2, from: 0, to: 1 })).toBe(2);
    expect(await runSupersedeTask(store, { customer: 1, batch: 3, from: 0, to: 1 })).toBe(0);
    expect(await supersededBy(store)).toEqual(['1/0:3', '1/1:current', '2/0:3', '3/0:current']);
  });

  it('counts its own batch as the newest when the asset index does not show it yet', async () => {
    const store = new InMemoryQueueStore({ replicationLag: true });
    store.add(aBatch({ batch: 1 }), members(1, ['completed', 'completed'], ['img0', 'img1']));
    store.add(aBatch({ batch: 2 }), members(2, ['completed'], ['img0']));
    store.replicate();
    store.add(aBatch({ batch: 3 }), members(3, ['waiting'], ['img0']));
    expect(await store.memberRefsOfAsset(1, 1, 'img0')).toHaveLength(2);
    expect(await runSupersedeTask(store, { customer: 1, batch: 3, from: 0, to: 1 })).toBe(2);
    expect(await supersededBy(store)).toEqual(['1/0:3', '1/1:current', '2/0:3', '3/0:current']);
  });

  it("checks only the assets of its member range, in the customer's own space", async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 1 }), members(1, ['completed', 'completed'], ['img0', 'img1']));
    store.add(aBatch({ batch: 2 }), members(2, ['waiting', 'waiting'], ['img0', 'img1']));
    store.add(aBatch({ batch: 3 }), [aMember({ batch: 3, id: 'img0', space: 2 })]);
    store.add(aBatch({ customer: 2, batch: 1 }), [aMember({ customer: 2, batch: 1, id: 'img0' })]);
    expect(await runSupersedeTask(store, { customer: 1, batch: 2, from: 0, to: 1 })).toBe(1);
    expect(await supersededBy(store)).toEqual(['1/0:2', '1/1:current', '2/0:current', '2/1:current', '3/0:current']);
    expect((await store.getMembers([{ customer: 2, batch: 1, index: 0 }]))[0]?.supersededBy).toBeUndefined();
  });
});

describe('testBatch', () => {
  it('supersedes a batch whose assets were all submitted again later, and says so once', async () => {
    // Prepare
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 1, started: STARTED, finished: FINISHED }), members(1, ['completed', 'error']));
    store.add(aBatch({ batch: 2 }), members(2, ['waiting', 'waiting']));
    // Act
    const first = await testBatch(store, await findBatch(store, 1, 1));
    const second = await testBatch(store, first.batch);
    // Assess
    expect(first.changed).toBe(true);
    expect(first.batch).toMatchObject({ current: 0 });
    expect(isSuperseded(first.batch)).toBe(true);
    expect(second).toEqual({ changed: false, batch: first.batch });
    expect(store.drift()).toEqual([]);
  });

  it('marks only older batches: the newest holder of an asset stays current', async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 1, started: STARTED, finished: FINISHED }), members(1, ['completed']));
    store.add(aBatch({ batch: 2 }), members(2, ['waiting']));
    const { changed, batch } = await testBatch(store, await findBatch(store, 1, 2));
    expect(changed).toBe(false);
    expect(batch.current).toBe(1);
    expect(isSuperseded(await stored(store, 1))).toBe(true);
  });

  it('finishes a batch whose members have all ended but that nobody finished', async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 1, started: STARTED }), members(1, ['completed', 'error']));
    const { changed, batch } = await testBatch(store, await findBatch(store, 1, 1));
    expect(changed).toBe(true);
    expect(batch.finished).toBeDefined();
    expect(store.pendingNoticeRefs()).toEqual(['1/1']);
    expect(store.drift()).toEqual([]);
  });

  it('leaves a current, unfinished batch as it is', async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ batch: 1, started: STARTED }), members(1, ['completed', 'waiting']));
    const before = await findBatch(store, 1, 1);
    expect(await testBatch(store, before)).toEqual({ changed: false, batch: before });
  });

  it('checks every member of a large batch, page after page', async () => {
    const store = new InMemoryQueueStore();
    const states = Array.from({ length: 250 }, (): MemberState => 'completed');
    store.add(aBatch({ batch: 1, started: STARTED, finished: FINISHED }), members(1, states));
    store.add(aBatch({ batch: 2 }), members(2, states));
    const { changed, batch } = await testBatch(store, await findBatch(store, 1, 1));
    expect(changed).toBe(true);
    expect(batch).toMatchObject({ count: 250, current: 0 });
  });
});

describe('findBatch', () => {
  it('finds a batch just created, before eventually consistent reads can see it', async () => {
    const store = new InMemoryQueueStore({ replicationLag: true });
    const result = await store.createBatch({ customer: 1, queue: 'main', count: 1, submitted: STARTED }, 10);
    if (!('created' in result)) throw new Error(`not created: ${JSON.stringify(result)}`);
    expect(await store.getBatch(1, result.created.batch)).toBeUndefined();
    expect(await findBatch(store, 1, result.created.batch)).toEqual(result.created);
  });

  it("answers BatchNotFoundError for a batch the customer does not have, even when another customer's has that id", async () => {
    const store = new InMemoryQueueStore();
    store.add(aBatch({ customer: 2, batch: 7 }), [aMember({ customer: 2, batch: 7 })]);
    const finding = findBatch(store, 1, 7);
    await expect(finding).rejects.toThrow(BatchNotFoundError);
    await expect(finding).rejects.toMatchObject({ kind: 'notFound', customer: 1, batch: 7, message: 'Customer 1 has no batch 7.' });
    expect(await findBatch(store, 2, 7)).toMatchObject({ customer: 2, batch: 7 });
  });
});
