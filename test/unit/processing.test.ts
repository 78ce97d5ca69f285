/** processDelivery against the in-memory store: read-after-write lag and messages that cannot be processed. */
import { QUEUES } from '../../lambdas/config/resources';
import { deltasFor, isAllowed, isTerminal, type Transition } from '../../lambdas/domain/accounting';
import type { MemberRecord } from '../../lambdas/domain/model';
import type { MemberRef, ProcessingStore } from '../../lambdas/domain/ports';
import { type ProcessingDeps, processDelivery } from '../../lambdas/domain/processing';
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
    const ingest = async () => ({ ok: true as const, width: 3, height: 4, mediaType: 'image/png', contentLength: 10 });
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

/**
 * A store holding one batch's members and counters, changed as the DynamoDB adapter changes them:
 * a transition applies from the member's current state if allowed (else the member is skipped),
 * with the deltas of `deltasFor`. `running` is the customer's count of members in flight.
 */
function ledger(count: number) {
  const key = (m: MemberRef) => `${m.customer}/${m.batch}/${m.index}`;
  const members = new Map(Array.from({ length: count }, (_, index) => aMember({ index })).map((m) => [key(m), m]));
  const batch = aBatch({ count, remaining: count, waiting: count, current: count, started: 'x' });
  const counters = { running: 0 };
  const store: ProcessingStore = {
    getMembers: async (refs) => refs.flatMap((r) => members.get(key(r)) ?? []),
    getBatchStates: async () => [{ ...batch }],
    startBatches: async () => undefined,
    applyTransitions: async (transitions) => {
      const applied: Transition[] = [];
      const skipped: MemberRecord[] = [];
      for (const t of transitions) {
        // As the adapter does when a condition fails: re-read, and apply from there if still allowed.
        const current = members.get(key(t.member)) as MemberRecord;
        if (!isAllowed(current.state, t.to)) {
          skipped.push(current);
          continue;
        }
        const { batchDeltas, customerDeltas } = deltasFor([{ ...t, member: current }], new Map([['1/7', batch]]));
        for (const d of batchDeltas)
          for (const f of ['waiting', 'remaining', 'completed', 'errors', 'cancelled'] as const) batch[f] += d[f];
        for (const c of customerDeltas) counters.running += c.running.main;
        members.set(key(current), { ...current, state: t.to, error: t.outcome?.error, lastError: t.lastError ?? current.lastError });
        applied.push({ ...t, member: current });
      }
      return { applied, skipped };
    },
    noteTransientFailure: async (member, error) => {
      const current = members.get(key(member)) as MemberRecord;
      if (!isTerminal(current.state)) members.set(key(member), { ...current, lastError: error });
    },
    finalizeBatch: async () => {
      if (batch.remaining > 0 || batch.finished) return undefined;
      batch.finished = 'now';
      return { ...batch };
    },
  };
  const member = (index = 0) => members.get(key(aMember({ index }))) as MemberRecord;
  return { store, batch, counters, member, members, key };
}

const deliveryOf = (index: number, receiveCount = 1, messageId = `m${index}`) => ({
  messageId,
  member: { customer: 1, batch: 7, index },
  receiveCount,
});
const timedOut = { ok: false as const, error: 'origin did not respond within 10000 ms', retryable: true };
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
    const { store, batch, counters, member } = ledger(1);
    let runningDuringAttempt = 0;
    const { deps: d, retried } = deps(store, async () => {
      await tick();
      runningDuringAttempt = counters.running;
      return timedOut;
    });
    // Act
    const failed = await processDelivery(d, [deliveryOf(0)]);
    // Assess
    expect(runningDuringAttempt).toBe(1);
    expect(failed).toEqual(['m0']);
    expect(retried).toEqual([{ ids: ['m0'], seconds: 5 }]);
    expect(member()).toMatchObject({ state: 'waiting', lastError: timedOut.error });
    expect(member().error).toBeUndefined();
    expect({ waiting: batch.waiting, remaining: batch.remaining, running: counters.running }).toEqual({
      waiting: 1,
      remaining: 1,
      running: 0,
    });
  });

  it.each([
    ['recorded running', 0, 1],
    ['not yet recorded running', 10_000, 1],
    ['on its last receive', 0, 5],
  ])(
    'cancels at once a member %s whose attempt failed after its batch was cancelled, instead of retrying it',
    async (_, markMs, receives) => {
      // Prepare: the batch is cancelled while the attempt is in flight.
      const { store, batch, counters, member } = ledger(1);
      const { deps: d, retried } = deps(
        store,
        async () => {
          await tick();
          batch.cancelledAt = 'now';
          return timedOut;
        },
        markMs,
      );
      // Act
      const failed = await processDelivery(d, [deliveryOf(0, receives)]);
      // Assess
      expect(failed).toEqual([]);
      expect(retried).toEqual([]);
      expect(member().state).toBe('cancelled');
      expect(batch).toMatchObject({ count: 1, completed: 0, errors: 0, cancelled: 1, remaining: 0, waiting: 0, finished: 'now' });
      expect(counters.running).toBe(0);
    },
  );

  it('cancels without an attempt a member waiting for its retry when the next delivery finds its batch cancelled', async () => {
    const { store, batch, member, members, key } = ledger(1);
    members.set(key(member()), { ...member(), lastError: timedOut.error });
    batch.cancelledAt = 'now';
    const ingest = jest.fn(async () => timedOut);
    const failed = await processDelivery(deps(store, ingest).deps, [deliveryOf(0, 2)]);
    expect(failed).toEqual([]);
    expect(ingest).not.toHaveBeenCalled();
    expect(member().state).toBe('cancelled');
    expect(batch).toMatchObject({ cancelled: 1, remaining: 0, finished: 'now' });
  });

  it('still gives up on the last receive of a batch not cancelled, counting the member once as an error', async () => {
    const { store, batch, counters, member } = ledger(1);
    const failed = await processDelivery(deps(store, timingOut).deps, [deliveryOf(0, 5)]);
    expect(failed).toEqual([]);
    expect(member()).toMatchObject({ state: 'error', error: `${timedOut.error} (gave up after 5 attempts)` });
    expect(batch).toMatchObject({ errors: 1, cancelled: 0, remaining: 0, waiting: 0 });
    expect(counters.running).toBe(0);
  });

  it('counts a member once when duplicate deliveries of it fail transiently around a cancel', async () => {
    // Prepare: two members, each delivered twice at once; the batch is cancelled during the attempts.
    const { store, batch, counters, members } = ledger(2);
    let attempts = 0;
    const ingest = async () => {
      await tick();
      if (++attempts === 2) batch.cancelledAt = 'now';
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
    expect([...members.values()].map((m) => m.state)).toEqual(['cancelled', 'cancelled']);
    expect(batch).toMatchObject({ count: 2, completed: 0, errors: 0, cancelled: 2, remaining: 0, waiting: 0, finished: 'now' });
    expect(counters.running).toBe(0);
  });

  it('acknowledges a member another delivery ended during the attempt, without counting it again', async () => {
    const { store, batch, member, members, key } = ledger(1);
    const ingest = async () => {
      await tick();
      members.set(key(member()), { ...member(), state: 'completed' });
      return timedOut;
    };
    const { deps: d, retried } = deps(store, ingest);
    expect(await processDelivery(d, [deliveryOf(0)])).toEqual([]);
    expect(retried).toEqual([]);
    expect(member().state).toBe('completed');
    expect(batch).toMatchObject({ completed: 0, errors: 0, cancelled: 0, remaining: 1 });
  });
});
