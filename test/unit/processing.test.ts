/** processDelivery against a fake store: read-after-write lag and messages that cannot be processed. */
import { QUEUES } from '../../lambdas/config/resources';
import type { Transition } from '../../lambdas/domain/accounting';
import type { BatchRecord } from '../../lambdas/domain/model';
import type { MemberRef, QueueStore } from '../../lambdas/domain/ports';
import { processDelivery } from '../../lambdas/domain/processing';
import { aMember } from '../support/records';

const member = aMember({ batch: 2 });

/** A store where a just-written member is invisible to eventually consistent reads. */
function laggingStore() {
  const applied: Transition[][] = [];
  const reads: { refs: readonly MemberRef[]; consistent: boolean }[] = [];
  const store = {
    getMembers: async (refs: readonly MemberRef[], consistent = true) => {
      reads.push({ refs, consistent });
      return consistent ? [member] : [];
    },
    getBatchStates: async () => [{ customer: 1, batch: 2, started: 'x' } as BatchRecord],
    startBatches: async () => undefined,
    applyTransitions: async (transitions: readonly Transition[]) => {
      applied.push([...transitions]);
      return { applied: [...transitions], skipped: [] };
    },
    finalizeBatch: async () => false,
    memberRefsOfAsset: async () => [],
    supersede: async () => 0,
  } as unknown as QueueStore;
  return { store, applied, reads };
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
    expect(reads.map((r) => r.consistent)).toEqual([false, true]);
    expect(applied).toEqual([[{ member, to: 'completed', outcome: { width: 3, height: 4, mediaType: 'image/png', contentLength: 10 } }]]);
  });

  it('fails a message whose body is not a member message, and one whose member does not exist', async () => {
    const { store } = laggingStore();
    (store as { getMembers: unknown }).getMembers = async () => [];
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
