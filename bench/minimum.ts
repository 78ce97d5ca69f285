/**
 * The least a submit of n members can cost in AWS calls, and what the current handler is expected
 * to issue, so the benchmark can print calls / minimum.
 *
 * Minimum (issue 6): every member item must be written (BatchWriteItem takes 25), every member
 * message sent (SendMessageBatch takes 10), plus the constant writes any design needs:
 *   1 UpdateItem        allocate the batch id (per-customer sequence)
 *   1 TransactWriteItems batch item + customer counters (admission condition included)
 *   1 TransactWriteItems end of the enqueueing phase (batch flag + pending counters)
 * Reads (the admission GetItem, the finalize check) and the supersede tasks are extras of the
 * design: they count against the ratio.
 */

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

/**
 * What the submit handler issues today (lambdas/domain/submit.ts): admission GetItem, id UpdateItem,
 * create TransactWriteItems, the member BatchWriteItems, member and supersede-task
 * SendMessageBatches, end-of-enqueueing TransactWriteItems, finalize-check GetItem.
 */
export function expectedHandlerCalls(n: number): CallPlan {
  return plan(
    {
      GetItem: 2,
      UpdateItem: 1,
      TransactWriteItems: 2,
      BatchWriteItem: Math.ceil(n / BATCH_WRITE_LIMIT),
    },
    { SendMessageBatch: Math.ceil(n / SEND_BATCH_LIMIT) + Math.ceil(n / MEMBERS_PER_TASK_BATCH) },
  );
}
