import type { Transition } from '../../lambdas/domain/accounting';
import type { BatchRecord, MemberRecord, TaskMessage } from '../../lambdas/domain/model';
import type { MemberRef, QueueStore } from '../../lambdas/domain/ports';
import { processDelivery } from '../../lambdas/domain/processing';

const member: MemberRecord = {
  customer: 1,
  batch: 2,
  index: 0,
  queue: 'main',
  state: 'waiting',
  submitted: '2026-01-01T00:00:00.000Z',
  id: 'a',
  space: 1,
  origin: 'https://example.org/a.png',
};

/** A store where a just-written member is invisible to eventually consistent reads. */
function laggingStore() {
  const applied: Transition[][] = [];
  const reads: { refs: readonly MemberRef[]; consistent: boolean }[] = [];
  const store = {
    getMembers: async (refs: readonly MemberRef[], consistent = true) => {
      reads.push({ refs, consistent });
      return consistent ? [member] : [];
    },
    getBatches: async () => [{ customer: 1, batch: 2, started: 'x' } as BatchRecord],
    startBatches: async () => undefined,
    applyTransitions: async (transitions: readonly Transition[]) => {
      applied.push([...transitions]);
      return { applied: [...transitions], skipped: [] };
    },
    finalizeBatch: async () => false,
    getBatch: async () => ({ customer: 1, batch: 2, count: 150 }) as BatchRecord,
  } as unknown as QueueStore;
  const tasks: TaskMessage[] = [];
  const work = { sendTasks: async (messages: readonly TaskMessage[]) => void tasks.push(...messages) };
  return { store, work, applied, reads, tasks };
}

describe('processDelivery', () => {
  it('re-reads consistently a member an eventually consistent read did not see, instead of failing it', async () => {
    // Prepare
    const { store, work, applied, reads, tasks } = laggingStore();
    const ingest = async () => ({ ok: true as const, width: 3, height: 4, mediaType: 'image/png', contentLength: 10 });
    // Act
    const failed = await processDelivery(
      { store, work, ingest, markRunningAfterMs: 10_000, maxReceiveCount: 4 },
      [{ messageId: 'm1', member: { customer: 1, batch: 2, index: 0 }, receiveCount: 1 }],
    );
    // Assess
    expect(failed).toEqual([]);
    expect(reads.map((r) => r.consistent)).toEqual([false, true]);
    expect(applied).toEqual([[{ member, to: 'completed', outcome: { width: 3, height: 4, mediaType: 'image/png', contentLength: 10 } }]]);
    expect(tasks).toEqual([]);
  });

  it('queues the supersede check of a batch when it finishes it', async () => {
    // Prepare
    const { store, work, tasks } = laggingStore();
    (store as { finalizeBatch: unknown }).finalizeBatch = async () => true;
    // Act
    await processDelivery(
      { store, work, ingest: async () => ({ ok: false, error: 'gone', retryable: false }), markRunningAfterMs: 10_000, maxReceiveCount: 4 },
      [{ messageId: 'm1', member: { customer: 1, batch: 2, index: 0 }, receiveCount: 1 }],
    );
    // Assess
    expect(tasks).toEqual([
      { type: 'supersede', customer: 1, batch: 2, from: 0, to: 100 },
      { type: 'supersede', customer: 1, batch: 2, from: 100, to: 150 },
    ]);
  });

  it('fails a message whose body is not a member message, and one whose member does not exist', async () => {
    const { store, work } = laggingStore();
    (store as { getMembers: unknown }).getMembers = async () => [];
    const failed = await processDelivery(
      { store, work, ingest: async () => ({ ok: false, error: 'x', retryable: false }), markRunningAfterMs: 10_000, maxReceiveCount: 4 },
      [
        { messageId: 'bad', member: undefined, receiveCount: 1 },
        { messageId: 'gone', member: { customer: 1, batch: 2, index: 9 }, receiveCount: 1 },
      ],
    );
    expect(failed.sort()).toEqual(['bad', 'gone']);
  });
});
