/**
 * The least a submit of n members can cost in AWS calls, and what the current handler is expected
 * to issue, so the benchmark can print calls / minimum.
 *
 * Minimum (issue 6): every member item must be written (BatchWriteItem takes 25), every member
 * message sent (SendMessageBatch takes 10), plus the constant writes any design needs:
 *   1 UpdateItem        allocate the batch id (per-customer sequence)
 *   1 TransactWriteItems batch item + customer counters (admission condition included)
 *   1 TransactWriteItems end of the enqueueing phase (batch flag + pending counters)
 * Anything else (the supersede tasks, an Idempotency-Key lookup, retried unprocessed items) is an
 * extra of the design: it counts against the ratio.
 */

import { DIGEST_SHARDS } from '../lambdas/adapters/dynamo/asset-digests';

export const BATCH_WRITE_LIMIT = 25;
export const SEND_BATCH_LIMIT = 10;
/** Members per supersede task (lambdas/domain/submit.ts SUPERSEDE_TASK_SIZE × SendMessageBatch 10). */
export const MEMBERS_PER_TASK_BATCH = 100 * SEND_BATCH_LIMIT;

export const CONSTANT_WRITES = { UpdateItem: 1, TransactWriteItems: 2 } as const;

export interface CallPlan {
  dynamodb: Record<string, number>;
  sqs: Record<string, number>;
  total: number;
}

function plan(dynamodb: Record<string, number>, sqs: Record<string, number>): CallPlan {
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return { dynamodb, sqs, total: sum(dynamodb) + sum(sqs) };
}

/** ⌈n/25⌉ BatchWriteItem + ⌈n/10⌉ SendMessageBatch + 3 constant writes. */
export function minimalSubmitCalls(n: number): CallPlan {
  return plan(
    {
      UpdateItem: CONSTANT_WRITES.UpdateItem,
      TransactWriteItems: CONSTANT_WRITES.TransactWriteItems,
      BatchWriteItem: Math.ceil(n / BATCH_WRITE_LIMIT),
    },
    { SendMessageBatch: Math.ceil(n / SEND_BATCH_LIMIT) },
  );
}

export interface HandlerCallOptions {
  /** The POST carries an Idempotency-Key (the handler then looks it up first: 1 GetItem). */
  idempotencyKey?: boolean;
}

/**
 * What the submit handler issues today (lambdas/domain/submit.ts, lambdas/adapters/dynamo/submit-writes.ts),
 * per batch:
 *   GetItem            1 with an Idempotency-Key (the key looked up), else none
 *   UpdateItem         1 batch id + admission on the customer head item
 *   TransactWriteItems 1 batch head + one customer counter shard (+ the idempotency key)
 *   BatchWriteItem     ⌈(n + min(8, n))/25⌉ the members and their batch's asset digests (up to 8
 *                      small items, so GET …/images/{id} finds a just-submitted member without
 *                      waiting for the asset index; putAll chunks the items 25 at a time)
 *   SendMessageBatch   ⌈n/10⌉ member messages + ⌈n/1000⌉ supersede tasks (100 members each, 10 a call)
 *   TransactWriteItems 1 end of the enqueueing phase (batch head + one customer counter shard)
 * A BatchWriteItem returning unprocessed items (a throttled partition key) adds calls beyond this.
 */
export function expectedHandlerCalls(n: number, options: HandlerCallOptions = {}): CallPlan {
  return plan(
    {
      ...(options.idempotencyKey ? { GetItem: 1 } : {}),
      UpdateItem: 1,
      TransactWriteItems: 2,
      BatchWriteItem: Math.ceil((n + Math.min(DIGEST_SHARDS, n)) / BATCH_WRITE_LIMIT),
    },
    { SendMessageBatch: Math.ceil(n / SEND_BATCH_LIMIT) + Math.ceil(n / MEMBERS_PER_TASK_BATCH) },
  );
}
