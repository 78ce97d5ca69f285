/** processDelivery against the in-memory store: read-after-write lag and messages that cannot be processed. */
import { QUEUES } from '../../lambdas/config/resources';
import { processDelivery } from '../../lambdas/domain/processing';
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
