/**
 * Marking a batch cancelled. The mark is one write on the batch head; the members still waiting
 * are then moved to `cancelled` by ordinary transitions (domain/cancel.ts), each with its counter
 * deltas, so cancelling races with processing exactly as two processors race: per member.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BatchRecord } from '../../domain/model';
import type { CancelStore } from '../../domain/ports';
import { prefixed } from './codec';
import { addToCustomerShard, batchShards, batchView } from './counters';
import { keys } from './keys';
import { getItems, tableName, writeIf } from './table';
import { runTransaction } from './transactions';

/** Conditions shared by both forms of the mark: the batch exists, is not finished, not cancelled. */
const OPEN = 'attribute_exists(pk) AND attribute_not_exists(finished) AND attribute_not_exists(cancelledAt)';

/**
 * Sets `cancelledAt` on an open batch and returns the batch as it now is (a finished or already
 * cancelled batch is returned unchanged; undefined when there is no such batch). A batch nobody
 * has started yet is started by the cancel itself, in the same transaction that takes it out of
 * the customer's `batchesWaiting`: its members are leaving, not waiting, and processors start a
 * batch only when `started` is absent, so it is counted out once.
 */
export async function markCancelled(customer: number, batch: number): Promise<BatchRecord | undefined> {
  for (let attempt = 0; ; attempt++) {
    const [[head], shards] = await Promise.all([getItems([keys.batch(customer, batch)], true), batchShards(customer, batch, true)]);
    if (!head) return undefined;
    const current = batchView(head, shards);
    if (current.finished || current.cancelledAt) return current;
    const at = new Date().toISOString();
    let applied: boolean;
    if (!current.started) {
      const outcome = await runTransaction(() => [
        {
          Update: {
            TableName: tableName(),
            Key: keys.batch(customer, batch),
            UpdateExpression: 'SET cancelledAt = :at, started = :at, gsi2pk = :ap, gsi2sk = :as',
            ConditionExpression: `${OPEN} AND attribute_not_exists(started)`,
            ExpressionAttributeValues: { ':at': at, ...prefixed(keys.batchActive(customer, batch), 'a') },
          },
        },
        addToCustomerShard(customer, { batchesWaiting: -1 })!,
      ]);
      applied = outcome.ok;
    } else {
      applied = await writeIf(
        new UpdateCommand({
          TableName: tableName(),
          Key: keys.batch(customer, batch),
          UpdateExpression: 'SET cancelledAt = :at',
          ConditionExpression: `${OPEN} AND attribute_exists(started)`,
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    }
    if (applied) return { ...current, cancelledAt: at, started: current.started ?? at };
    // Started, finished or cancelled meanwhile: read it again and decide again.
    if (attempt >= 4) throw new Error(`could not mark batch ${customer}/${batch} cancelled`);
  }
}

export const dynamoCancellation = { markCancelled } satisfies Partial<CancelStore>;
