/**
 * Writes that survive AWS's DynamoDB: BatchWriteItem with retries of `UnprocessedItems`, and
 * transactions that are retried on conflicts and throttling and are idempotent across retries.
 *
 * - A cancelled transaction (`TransactionCanceledException`) applied nothing: it is retried with
 *   jittered backoff and a new `ClientRequestToken`, rebuilt by the caller (so a retry may pick
 *   other counter shards), unless a condition failed, which the caller decides about.
 * - A transaction whose outcome is unknown (the SDK gave up on 500s, or the connection dropped) is
 *   retried with the same token and the same actions: DynamoDB applies a token at most once within
 *   10 minutes, so an `InternalServerError` returned after the write was applied cannot count twice.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html
 */
import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { backoffMs, chunk, inParallel, sleep } from '../../domain/async';
import { db, type Item, RETRY_DEADLINE_MS } from './table';

/** BatchWriteItem takes at most 25 requests. */
export const BATCH_WRITE_LIMIT = 25;

export type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;
export type TransactAction = TransactItems[number];

/** Puts items with BatchWriteItem, 25 at a time, retrying unprocessed items until a deadline. */
export async function putAll(tableName: string, items: readonly Item[], parallelism = 8): Promise<void> {
  const deadline = Date.now() + RETRY_DEADLINE_MS;
  await inParallel(chunk(items, BATCH_WRITE_LIMIT), parallelism, async (group) => {
    let requests = group.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0) {
        if (Date.now() > deadline) throw new Error(`BatchWriteItem left ${requests.length} items unprocessed`);
        await sleep(backoffMs(attempt, 25, 1_000));
      }
      const result = await db().send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  });
}

export type TransactionOutcome =
  | { ok: true }
  /** Indexes of the actions whose condition failed; `conflict` when only contention cancelled it. */
  | { ok: false; conditionFailed: number[]; conflict: boolean };

/** Cancellation reasons that mean "nothing applied, try again later". */
const RETRYABLE_REASONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);
/** Errors thrown for the whole request that likewise mean nothing was applied. */
const RETRYABLE_ERRORS = new Set(['TransactionConflictException']);

/** One attempt with a given token. Cancellations are returned, not thrown. */
async function attempt(actions: TransactItems, token: string): Promise<TransactionOutcome> {
  try {
    await db().send(new TransactWriteCommand({ TransactItems: actions, ClientRequestToken: token }));
    return { ok: true };
  } catch (error) {
    const name = (error as Error).name;
    if (error instanceof TransactionCanceledException || name === 'TransactionCanceledException') {
      const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
      const conditionFailed = reasons.flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : []));
      const retryable = reasons.some((r) => RETRYABLE_REASONS.has(r.Code ?? ''));
      if (conditionFailed.length === 0 && !retryable) throw error;
      return { ok: false, conditionFailed, conflict: conditionFailed.length === 0 };
    }
    if (RETRYABLE_ERRORS.has(name)) return { ok: false, conditionFailed: [], conflict: true };
    throw error;
  }
}

/**
 * Whether an error leaves the transaction's outcome unknown (it may have been, or still be being,
 * applied): a server fault, a dropped connection or timeout, or `TransactionInProgressException`
 * (the same token is still running). All are retried with the same token, never a new one.
 * Single-item writes use it too: their own idempotence decides whether a repeat is safe.
 */
export function outcomeUnknown(error: unknown): boolean {
  const e = error as Error & { $fault?: string; $metadata?: { httpStatusCode?: number }; code?: unknown };
  if (e.$fault === 'server' || ['InternalServerError', 'TimeoutError', 'TransactionInProgressException'].includes(e.name)) return true;
  // A network error (ECONNRESET, EPIPE…) carries a system error code and no HTTP status.
  return !e.$metadata?.httpStatusCode && typeof e.code === 'string';
}

export interface TransactionOptions {
  /** false: return a conflict to the caller at once instead of retrying it. Default true. */
  retryConflicts?: boolean;
  /** Stop retrying conflicts after this long (default RETRY_DEADLINE_MS). */
  deadlineMs?: number;
}

/**
 * Runs a transaction until it commits or a condition fails. `build` makes the actions of each
 * attempt after a cancellation (it may choose other shards); an attempt whose outcome is unknown
 * is repeated as it was, with its token.
 */
export async function runTransaction(build: () => TransactItems, options: TransactionOptions = {}): Promise<TransactionOutcome> {
  const deadline = Date.now() + (options.deadlineMs ?? RETRY_DEADLINE_MS);
  for (let n = 0; ; n++) {
    const actions = build();
    const token = randomUUID();
    let outcome: TransactionOutcome | undefined;
    for (let unknown = 0; outcome === undefined; unknown++) {
      try {
        outcome = await attempt(actions, token);
      } catch (error) {
        if (!outcomeUnknown(error) || unknown >= 4) throw error;
        await sleep(backoffMs(unknown + 1, 50, 1_000));
      }
    }
    if (outcome.ok || !outcome.conflict || options.retryConflicts === false) return outcome;
    if (Date.now() > deadline) throw new Error(`transaction still conflicting after ${n + 1} attempts`);
    await sleep(backoffMs(n + 1, 10, 500));
  }
}
