/** `POST …/batches/{b}/test`: re-evaluates a batch's superseded state and its finish on demand. */
import { inParallel } from './async';
import { type BatchRecord, isSuperseded } from './model';
import type { ProcessingStore, QueueReader, SupersedeStore } from './ports';
import { assetsOf, supersedeOlderMembers } from './supersede';

/** Returns the batch after the check and whether anything changed. */
export async function testBatch(
  store: SupersedeStore & Pick<QueueReader, 'getBatch' | 'memberRefsOfBatch'> & Pick<ProcessingStore, 'finalizeBatch'>,
  batch: BatchRecord,
): Promise<{ changed: boolean; batch: BatchRecord }> {
  const refs = await store.memberRefsOfBatch(batch.customer, batch.batch);
  // Check this batch's assets against later batches in pages, so a large batch stays bounded.
  const pages: (typeof refs)[] = [];
  for (let i = 0; i < refs.length; i += 100) pages.push(refs.slice(i, i + 100));
  await inParallel(pages, 4, async (page) => {
    const members = await store.getMembers(page);
    await supersedeOlderMembers(store, batch.customer, assetsOf(members), 0);
  });
  await store.finalizeBatch(batch.customer, batch.batch);
  const after = (await store.getBatch(batch.customer, batch.batch, true)) ?? batch;
  const changed = isSuperseded(after) !== isSuperseded(batch) || after.finished !== batch.finished;
  return { changed, batch: after };
}
