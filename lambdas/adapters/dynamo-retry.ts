/**
 * DynamoDB write helpers shared by the stores: chunked BatchWriteItem with retries of
 * `UnprocessedItems`, and transactions that report which actions failed their condition.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { backoffMs, chunk, inParallel, sleep } from '../domain/async';
import { dynamoDocument } from './aws-clients';

/** BatchWriteItem takes at most 25 requests. */
export const BATCH_WRITE_LIMIT = 25;
/** TransactWriteItems takes at most 100 actions. */
export const TRANSACTION_LIMIT = 100;

/** Puts items with BatchWriteItem, 25 at a time, retrying unprocessed items with backoff. */
export async function putAll(tableName: string, items: readonly Record<string, unknown>[], parallelism = 8): Promise<void> {
  await inParallel(chunk(items, BATCH_WRITE_LIMIT), parallelism, async (group) => {
    let requests = group.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      if (attempt > 10) throw new Error(`BatchWriteItem left ${requests.length} items unprocessed after ${attempt} attempts`);
      const result = await dynamoDocument().send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  });
}

export type TransactionOutcome =
  | { ok: true }
  /** Indexes of the actions whose condition failed. */
  | { ok: false; conditionFailed: number[]; conflict: boolean };

/**
 * Runs one transaction. A cancellation is returned, not thrown, with the indexes of the actions
 * whose condition failed and whether another transaction conflicted, so callers can re-read and
 * retry only what needs it.
 */
export async function transact(input: TransactWriteCommandInput): Promise<TransactionOutcome> {
  try {
    await dynamoDocument().send(new TransactWriteCommand(input));
    return { ok: true };
  } catch (error) {
    if (error instanceof TransactionCanceledException || (error as Error).name === 'TransactionCanceledException') {
      const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
      const conditionFailed = reasons.flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : []));
      const conflict = reasons.some((r) => r.Code === 'TransactionConflict');
      if (conditionFailed.length === 0 && !conflict) throw error;
      return { ok: false, conditionFailed, conflict };
    }
    if ((error as Error).name === 'TransactionConflictException') return { ok: false, conditionFailed: [], conflict: true };
    throw error;
  }
}

/**
 * `transact`, retried with backoff while the only reason for cancelling is a conflict with another
 * transaction on the same items (DynamoDB's TransactionConflict); condition failures return at once.
 */
export async function transactRetryingConflicts(input: TransactWriteCommandInput, attempts = 8): Promise<TransactionOutcome> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await transact(input);
    if (outcome.ok || outcome.conditionFailed.length > 0 || attempt + 1 >= attempts) return outcome;
    await sleep(backoffMs(attempt + 1));
  }
}
