/** Looking a batch up for a request about it (read, test, its images). */
import { BatchNotFoundError } from './errors';
import type { BatchRecord } from './model';
import type { QueueReader } from './ports';

/**
 * The customer's batch, read consistently (the Location of a batch just created must resolve at
 * once); BatchNotFoundError when the customer has no such batch.
 */
export async function findBatch(store: Pick<QueueReader, 'getBatch'>, customer: number, batch: number): Promise<BatchRecord> {
  const found = await store.getBatch(customer, batch, true);
  if (!found) throw new BatchNotFoundError(customer, batch);
  return found;
}
