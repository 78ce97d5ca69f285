/** processDelivery against the in-memory store: read-after-write lag and messages that cannot be processed. */
import { QUEUES } from '../../lambdas/config/resources';
import type { MemberRecord } from '../../lambdas/domain/model';
import type { ProcessingStore } from '../../lambdas/domain/ports';
import { type IngestResult, type ProcessingDeps, processDelivery } from '../../lambdas/domain/processing';
import { InMemoryQueueStore } from '../support/in-memory-store';
import { aBatch, aMember } from '../support/records';

const member = aMember({ batch: 2 });

/** A store holding batch 1/2 with `member`, written so recently that eventually consistent reads do not see it. */
function laggingStore() {
  const store = new InMemoryQueueStore({ replicationLag: true });
  store.add(aBatch({ batch: 2, started: 'x' }), [member]);
  return { store, applied: jest.spyOn(store, 'applyTransitions'), reads: jest.spyOn(store, 'getMembers') };
}

describe('processDelivery', () => {
  it('re-reads consistently a member an eventually consistent read did not see, instead of failing it', async () => {
    // Prepare
    const { store, applied, reads } = laggingStore();
    const ingest = async () => ({ ok: true, width: 3, height: 4, mediaType: 'image/png', contentLength: 10 }) satisfies IngestResult;
    // Act
    const failed = await processDelivery({ store, ingest, markRunningAfterMs: 10_000, maxReceiveCount: QUEUES.main.maxReceiveCount }, [
      { messageId: 'm1', member: { customer: 1, batch: 2, index: 0 }, receiveCount: 1 },
    ]);
    // Assess
    expect(failed).toEqual([]);
    expect(reads.mock.calls.map(([, consistent]) => consistent)).toEqual([false, true]);
    expect(applied.mock.calls.map(([transitions]) => transitions)).toEqual([
      [{ member, to: 'completed', outcome: { width: 3, height: 4, mediaType: 'image/png', contentLength: 10 } }],
    ]);
    expect(await store.getMembers([member])).toMatchObject([{ state: 'completed', width: 3, height: 4 }]);
    const batch = await store.getBatch(1, 2, true);
    expect(batch).toMatchObject({ completed: 1, remaining: 0 });
    expect(batch?.finished).toBeDefined();
    expect(store.drift()).toEqual([]);
  });

  it('fails a message whose body is not a member message, and one whose member does not exist', async () => {
    const { store } = laggingStore();
    const failed = await processDelivery(
      {
        store,
        ingest: async () => ({ ok: false, error: 'x', retryable: false }),
        markRunningAfterMs: 10_000,
        maxReceiveCount: QUEUES.main.maxReceiveCount,
      },
      [
        { messageId: 'bad', member: undefined, receiveCount: 1 },
        { messageId: 'gone', member: { customer: 1, batch: 2, index: 9 }, receiveCount: 1 },
      ],
    );
    expect(failed.sort()).toEqual(['bad', 'gone']);
  });
});

/** Batch 1/7, started, with `count` waiting members (`overrides` on each), and reads of what the store holds now. */
function batchOf(count: number, overrides: Partial<MemberRecord> = {}) {
  const store = new InMemoryQueueStore();
  store.add(
    aBatch({ started: 'x' }),
    Array.from({ length: count }, (_, index) => aMember({ index, ...overrides })),
  );
  return {
    store,
    member: async (index = 0) => (await store.getMembers([aMember({ index })]))[0],
    states: async () => (await store.getMembers(Array.from({ length: count }, (_, index) => aMember({ index })))).map((m) => m.state),
    batch: () => store.getBatch(1, 7, true),
    /** The customer's count of members in flight. */
    running: async () => (await store.getCustomer(1))?.running.main,
    /** What a DELETE of the batch does first (cancel.ts): the mark the processor reads. */
    cancel: () => store.markCancelled(1, 7),
  };
}

const deliveryOf = (index: number, receiveCount = 1, messageId = `m${index}`) => ({
  messageId,
  member: { customer: 1, batch: 7, index },
  receiveCount,
});
const timedOut = { ok: false, error: 'origin did not respond within 10000 ms', retryable: true } satisfies IngestResult;
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
/** An attempt that outlasts `markRunningAfterMs: 0`, then times out. */
const timingOut = async () => {
  await tick();
  return timedOut;
};

describe('processDelivery: a member between two attempts is waiting, and a cancel reaches it', () => {
  const deps = (store: ProcessingStore, ingest: ProcessingDeps['ingest'], markRunningAfterMs = 0) => {
    const retried: { ids: readonly string[]; seconds: number }[] = [];
    return {
      retried,
      deps: {
        store,
        ingest,
        markRunningAfterMs,
        maxReceiveCount: 5,
        retryDelays: { firstSeconds: 5, maxSeconds: 900 },
        retryLater: async (ids: readonly string[], seconds: number) => {
          retried.push({ ids, seconds });
        },
      },
    };
  };

  it('puts a member recorded running back to waiting when its attempt fails transiently, showing the error', async () => {
    // Prepare: the attempt outlasts markRunningAfterMs, so the member is recorded running first.
    const { store, batch, running, member } = batchOf(1);
    let runningDuringAttempt: number | undefined;
    const { deps: d, retried } = deps(store, async () => {
      await tick();
      runningDuringAttempt = await running();
      return timedOut;
    });
    // Act
    const failed = await processDelivery(d, [deliveryOf(0)]);
    // Assess
    expect(runningDuringAttempt).toBe(1);
    expect(failed).toEqual(['m0']);
    expect(retried).toEqual([{ ids: ['m0'], seconds: 5 }]);
    expect(await member()).toMatchObject({ state: 'waiting', lastError: timedOut.error });
    expect((await member())?.error).toBeUndefined();
    expect({ waiting: (await batch())?.waiting, remaining: (await batch())?.remaining, running: await running() }).toEqual({
      waiting: 1,
      remaining: 1,
      running: 0,
    });
    expect(store.drift()).toEqual([]);
  });

  it('keeps waiting a member not yet recorded running when its attempt fails transiently, showing the error', async () => {
    const { store, batch, running, member } = batchOf(1);
    const { deps: d, retried } = deps(store, async () => timedOut, 10_000);
    expect(await processDelivery(d, [deliveryOf(0, 2)])).toEqual(['m0']);
    expect(retried).toEqual([{ ids: ['m0'], seconds: 15 }]);
    expect(await member()).toMatchObject({ state: 'waiting', lastError: timedOut.error });
    expect(await batch()).toMatchObject({ waiting: 1, remaining: 1 });
    expect(await running()).toBe(0);
    expect(store.drift()).toEqual([]);
  });

  it.each([
    ['recorded running', 0, 1],
    ['not yet recorded running', 10_000, 1],
    ['on its last receive', 0, 5],
  ])(
    'cancels at once a member %s whose attempt failed after its batch was cancelled, instead of retrying it',
    async (_, markMs, receives) => {
      // Prepare: the batch is cancelled while the attempt is in flight.
      const { store, batch, running, member, cancel } = batchOf(1);
      const { deps: d, retried } = deps(
        store,
        async () => {
          await tick();
          await cancel();
          return timedOut;
        },
        markMs,
      );
      // Act
      const failed = await processDelivery(d, [deliveryOf(0, receives)]);
      // Assess
      expect(failed).toEqual([]);
      expect(retried).toEqual([]);
      expect((await member())?.state).toBe('cancelled');
      expect(await batch()).toMatchObject({
        count: 1,
        completed: 0,
        errors: 0,
        cancelled: 1,
        remaining: 0,
        waiting: 0,
        finished: expect.any(String),
      });
      expect(await running()).toBe(0);
      expect(store.drift()).toEqual([]);
    },
  );

  it('cancels without an attempt a member waiting for its retry when the next delivery finds its batch cancelled', async () => {
    const { store, batch, member, cancel } = batchOf(1, { lastError: timedOut.error });
    await cancel();
    const ingest = jest.fn(async () => timedOut);
    const failed = await processDelivery(deps(store, ingest).deps, [deliveryOf(0, 2)]);
    expect(failed).toEqual([]);
    expect(ingest).not.toHaveBeenCalled();
    expect((await member())?.state).toBe('cancelled');
    expect(await batch()).toMatchObject({ cancelled: 1, remaining: 0, finished: expect.any(String) });
    expect(store.drift()).toEqual([]);
  });

  it('still gives up on the last receive of a batch not cancelled, counting the member once as an error', async () => {
    const { store, batch, running, member } = batchOf(1);
    const failed = await processDelivery(deps(store, timingOut).deps, [deliveryOf(0, 5)]);
    expect(failed).toEqual([]);
    expect(await member()).toMatchObject({ state: 'error', error: `${timedOut.error} (gave up after 5 attempts)` });
    expect(await batch()).toMatchObject({ errors: 1, cancelled: 0, remaining: 0, waiting: 0 });
    expect(await running()).toBe(0);
    expect(store.drift()).toEqual([]);
  });

  it('counts a member once when duplicate deliveries of it fail transiently around a cancel', async () => {
    // Prepare: two members, each delivered twice at once; the batch is cancelled during the attempts.
    const { store, batch, running, states, cancel } = batchOf(2);
    let attempts = 0;
    const ingest = async () => {
      await tick();
      if (++attempts === 2) await cancel();
      await tick();
      return timedOut;
    };
    // Act
    const results = await Promise.all([
      processDelivery(deps(store, ingest).deps, [deliveryOf(0, 1, 'a0'), deliveryOf(1, 1, 'a1')]),
      processDelivery(deps(store, ingest).deps, [deliveryOf(0, 2, 'b0'), deliveryOf(1, 2, 'b1')]),
    ]);
    // Assess
    expect(results).toEqual([[], []]);
    expect(await states()).toEqual(['cancelled', 'cancelled']);
    expect(await batch()).toMatchObject({
      count: 2,
      completed: 0,
      errors: 0,
      cancelled: 2,
      remaining: 0,
      waiting: 0,
      finished: expect.any(String),
    });
    expect(await running()).toBe(0);
    expect(store.drift()).toEqual([]);
  });

  it('acknowledges a member another delivery ended during the attempt, without counting it again', async () => {
    const { store, batch, member } = batchOf(1);
    const ingest = async () => {
      await tick();
      // Another delivery of the same message completes the member (and counts it) meanwhile.
      const [current] = await store.getMembers([aMember()]);
      if (current) await store.applyTransitions([{ member: current, to: 'completed' }]);
      return timedOut;
    };
    const { deps: d, retried } = deps(store, ingest);
    expect(await processDelivery(d, [deliveryOf(0)])).toEqual([]);
    expect(retried).toEqual([]);
    expect((await member())?.state).toBe('completed');
    // Counted once, by the delivery that completed it.
    expect(await batch()).toMatchObject({ completed: 1, errors: 0, cancelled: 0, remaining: 0 });
    expect(store.drift()).toEqual([]);
  });
});
