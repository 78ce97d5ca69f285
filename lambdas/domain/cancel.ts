/**
 * `DELETE …/batches/{b}`: cancelling a batch. Members no processor has picked up become
 * `cancelled` (terminal, counted in the batch's `cancelled`), and so do members waiting for a
 * retry after a transient failure; members in flight finish their attempt, and one that fails
 * transiently is then cancelled by its processor instead of tried again (processing.ts).
 * The mark on the batch comes first, so a processor that meets a waiting member of a cancelled
 * batch cancels it instead of ingesting it; then this request moves the waiting members it finds,
 * so the customer's counters drop at once, and finishes the batch when nothing remains.
 */
import { chunk, inParallel } from './async';
import { BatchNotFoundError, ConflictError } from './errors';
import type { BatchRecord } from './model';
import type { CancelStore } from './ports';

/** Members read and moved per step (four transactions' worth). */
const CANCEL_STEP = 96;

/**
 * Cancels the batch and returns it; a second call finds it cancelled and answers the same way.
 * Members left when `deadline` (epoch ms) passes are cancelled by the processors as their messages
 * arrive. A batch that had finished before it could be cancelled is a ConflictError.
 */
export async function cancelBatch(store: CancelStore, customer: number, batch: number, deadline: number): Promise<BatchRecord> {
  const marked = await store.markCancelled(customer, batch);
  if (!marked) throw new BatchNotFoundError(customer, batch);
  if (!marked.cancelledAt) throw new ConflictError(`Batch ${batch} finished at ${marked.finished}; there is nothing left to cancel.`);
  if (!marked.finished) {
    await cancelWaitingMembers(store, marked, deadline);
    await store.finalizeBatch(customer, batch);
  }
  return (await store.getBatch(customer, batch, true)) ?? marked;
}

async function cancelWaitingMembers(store: CancelStore, batch: BatchRecord, deadline: number): Promise<void> {
  const refs = await store.memberRefsOfBatch(batch.customer, batch.batch, 'waiting');
  const state = [{ ...batch, started: batch.started ?? batch.cancelledAt }];
  await inParallel(chunk(refs, CANCEL_STEP), 4, async (step) => {
    if (Date.now() > deadline) return;
    // Read again: the refs came from a query, and a member may have been picked up since.
    const waiting = (await store.getMembers(step)).filter((m) => m.state === 'waiting');
    await store.applyTransitions(
      waiting.map((member) => ({ member, to: 'cancelled' as const })),
      state,
    );
  });
}
