/**
 * Submit-side writes: a batch id with admission, the batch head, its members with their asset
 * digests, and the end of the enqueueing phase; plus the sweeper's view of batches whose submit
 * handler died.
 */
import { randomUUID } from 'node:crypto';
import type { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../config/resources';
import { backoffMs, inParallel, sleep } from '../../domain/async';
import type { BatchRecord, MemberRecord, MemberState } from '../../domain/model';
import type { CreateBatchResult, MemberRef, NewBatch, SubmitStore } from '../../domain/ports';
import { digestItems } from './asset-digests';
import { memberItem, prefixed } from './codec';
import { addToCustomerShard, batchViews, cap, customerShards } from './counters';
import { keys, MEMBER_PARTITIONS, memberIndexFromKey } from './keys';
import { db, getItems, isConditionFailure, pick, queryAll, tableName, writeIf } from './table';
import { outcomeUnknown, putAll, runTransaction, type TransactItems, type TransactionOutcome } from './transactions';

/** Members that left the customer's queue, summed over its shards (only ever grows). */
async function releasedByShards(customer: number): Promise<number> {
  return (await customerShards(customer)).reduce((sum, s) => sum + Number(s.released ?? 0), 0);
}

type Allocation = { batch: number } | { full: { admitted: number } } | { appliedBefore: true };

/**
 * Allocation tokens are kept in one of three string sets on the customer's head, chosen by the
 * period the request is made in; each allocation empties the set of the period after its own, so
 * a token is kept for at least one whole period (longer than any retry of its request) and the
 * head holds the tokens of two or three periods at most.
 */
export const ALLOCATION_TOKEN_PERIOD_MS = 30_000;
const TOKEN_SLOTS = 3;
const tokenSlot = (period: number) => `allocations${period % TOKEN_SLOTS}`;
/** Retries of an allocation whose outcome is unknown after the SDK's own retries (a 500, a timeout). */
const UNKNOWN_OUTCOME_RETRIES = 3;

/**
 * Takes the next batch id and admits `count` members, in one conditional UpdateItem on the
 * customer's head item (no transaction ever touches it, so concurrent submits never conflict: they
 * are serialised by DynamoDB). `admitted` counts every member ever admitted and the shards'
 * `released` every member that left, so admission holds `admitted + count − released ≤ limit`
 * exactly; `released` only grows, so a stale read can refuse early but never admit too many.
 *
 * The request's token goes into the head's token set of the current period, and the condition
 * refuses a token already there: when the SDK (or this function) repeats a call that was applied
 * (a 500 after the write), the repeat is refused instead of admitting twice, even if other
 * submits allocated in between. The refusal says the first attempt was applied but not which id
 * it took: the caller gives the members back and allocates again (`appliedBefore`).
 */
async function allocate(
  customer: number,
  count: number,
  limit: number,
  released: number,
  token: string,
  period: number,
): Promise<Allocation> {
  const command = new UpdateCommand({
    TableName: tableName(),
    Key: keys.customer(customer),
    UpdateExpression:
      'ADD batchSeq :one, admitted :n, #tokens :token SET customer = :c, #type = :t, gsi3pk = :lp, gsi3sk = :ls REMOVE #expired',
    ConditionExpression: 'NOT contains(#tokens, :tokenValue) AND (attribute_not_exists(admitted) OR admitted <= :limit)',
    ExpressionAttributeNames: { '#type': 'type', '#tokens': tokenSlot(period), '#expired': tokenSlot(period + 1) },
    ExpressionAttributeValues: {
      ':one': 1,
      ':n': count,
      ':token': new Set([token]),
      ':tokenValue': token,
      ':c': customer,
      ':t': 'customer',
      ':limit': limit - count + released,
      ...prefixed(keys.customerList(customer), 'l'),
    },
    ReturnValues: 'UPDATED_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  });
  for (let unknown = 0; ; unknown++) {
    try {
      const { Attributes } = await db().send(command);
      return { batch: Number(Attributes?.batchSeq) };
    } catch (error) {
      if (isConditionFailure(error)) {
        const old = (error as ConditionalCheckFailedException).Item;
        if (old?.[tokenSlot(period)]?.SS?.includes(token)) return { appliedBefore: true };
        return { full: { admitted: Number(old?.admitted?.N ?? 0) } };
      }
      if (!outcomeUnknown(error) || unknown >= UNKNOWN_OUTCOME_RETRIES) throw error;
      await sleep(backoffMs(unknown + 1, 50, 1_000));
    }
  }
}

/**
 * Allocates with admission: against the head alone first, then counting the members the shards
 * released since. An allocation applied by an attempt whose answer was lost is given back and
 * made again with a new token (its id stays unused).
 */
async function admit(customer: number, count: number, limit: number): Promise<{ batch: number } | { queueFull: { size: number } }> {
  let released = 0;
  for (let attempt = 0; ; attempt++) {
    const period = Math.floor(Date.now() / ALLOCATION_TOKEN_PERIOD_MS);
    const allocation = await allocate(customer, count, limit, released, randomUUID(), period);
    if ('batch' in allocation) return allocation;
    if ('appliedBefore' in allocation) {
      await release(customer, count);
      continue;
    }
    // Refused against the head alone (or a stale sum): count the members that left since, once more.
    const releasedNow = await releasedByShards(customer);
    if (releasedNow <= released || attempt >= 2) return { queueFull: { size: allocation.full.admitted - releasedNow } };
    released = releasedNow;
  }
}

/** Gives back members admitted for a batch that was not written (the id stays unused). */
async function release(customer: number, count: number): Promise<void> {
  await runTransaction(() => [addToCustomerShard(customer, { released: count })!]);
}

/**
 * Allocates the batch id with admission, then writes the batch head, its idempotency key and the
 * counters it adds (on one customer shard) in one transaction.
 */
export async function createBatch(input: NewBatch, maxQueueSize: number): Promise<CreateBatchResult> {
  const { customer, queue, count, submitted } = input;
  if (count > maxQueueSize) return { queueFull: { size: 0, limit: maxQueueSize } };
  const allocation = await admit(customer, count, maxQueueSize);
  if ('queueFull' in allocation) return { queueFull: { size: allocation.queueFull.size, limit: maxQueueSize } };
  const { batch } = allocation;
  const record: BatchRecord = {
    customer,
    batch,
    queue,
    submitted,
    count,
    completed: 0,
    errors: 0,
    cancelled: 0,
    remaining: count,
    waiting: count,
    current: count,
    enqueueing: true,
    ...(input.retryOf !== undefined ? { retryOf: input.retryOf } : {}),
  };
  const Q = cap(queue);
  const actions = (): TransactItems => [
    {
      Put: {
        TableName: tableName(),
        Item: {
          ...keys.batch(customer, batch),
          ...keys.batchOpen(customer, queue, submitted, batch),
          ...keys.batchEnqueueing(customer, submitted, batch),
          type: 'batch',
          ...record,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
    addToCustomerShard(customer, { size: count, [`waiting${Q}`]: count, [`pending${Q}`]: count, batchCount: 1, batchesWaiting: 1 })!,
    ...(input.idempotency
      ? [
          {
            Put: {
              TableName: tableName(),
              Item: {
                ...keys.idempotency(customer, input.idempotency.key),
                type: 'idempotency',
                batch,
                hash: input.idempotency.hash,
                expiresAt: Math.floor(Date.now() / 1000) + 24 * 3600,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ]
      : []),
    ...(input.retryOf !== undefined
      ? [
          {
            // The retried batch names its retries, in the write that creates the retry.
            Update: {
              TableName: tableName(),
              Key: keys.batch(customer, input.retryOf),
              UpdateExpression: 'SET retries = list_append(if_not_exists(retries, :none), :retry)',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeValues: { ':none': [], ':retry': [batch] },
            },
          },
        ]
      : []),
  ];
  let outcome: TransactionOutcome;
  try {
    outcome = await runTransaction(actions);
  } catch (error) {
    // The outcome is still unknown after retrying with the same token: the batch head tells
    // whether the transaction was applied.
    const [head] = await getItems([keys.batch(customer, batch)], true);
    if (head) return { created: record };
    await release(customer, count);
    throw error;
  }
  if (outcome.ok) return { created: record };
  await release(customer, count);
  if (outcome.conditionFailed.includes(2) && input.idempotency) {
    // A concurrent request with the same key won the race (or its item expired meanwhile: start over).
    const existing = await findIdempotent(customer, input.idempotency.key);
    return existing ? { idempotent: existing } : createBatch(input, maxQueueSize);
  }
  throw new Error(`could not create batch ${customer}/${batch}: ${JSON.stringify(outcome)}`);
}

export async function findIdempotent(customer: number, key: string) {
  const { Item } = await db().send(new GetCommand({ TableName: tableName(), Key: keys.idempotency(customer, key), ConsistentRead: true }));
  return Item ? { batch: Number(Item.batch), hash: String(Item.hash) } : undefined;
}

/** Members and their batch's asset digests (asset-digests.ts), in the same BatchWriteItem calls. */
export async function putMembers(members: readonly MemberRecord[]): Promise<void> {
  await putAll(tableName(), [...members.map(memberItem), ...digestItems(members)]);
}

export async function putMembersIfAbsent(members: readonly MemberRecord[]): Promise<void> {
  // A member stored already (or by the first attempt of an SDK retry) may have moved on since.
  await inParallel(members, 16, async (member) => {
    await writeIf(new PutCommand({ TableName: tableName(), Item: memberItem(member), ConditionExpression: 'attribute_not_exists(pk)' }));
  });
  // A digest holds only the members' asset hashes and indexes, so writing it again is harmless.
  await putAll(tableName(), digestItems(members));
}

/**
 * Ends the enqueueing phase exactly once (the condition on `enqueueing`); when only `present` of
 * the batch's members were written, the batch and the customer's counters shrink to match.
 */
export async function markEnqueued(batch: BatchRecord, present: number): Promise<boolean> {
  const missing = batch.count - present;
  const Q = cap(batch.queue);
  const shrink = missing > 0 ? ' ADD #count :shrink, remaining :shrink, waiting :shrink, #current :shrink' : '';
  const outcome = await runTransaction(() => {
    const customerUpdate = addToCustomerShard(batch.customer, {
      [`pending${Q}`]: -batch.count,
      size: -missing,
      released: missing,
      [`waiting${Q}`]: -missing,
      // A batch left with no member at all can never be started, so it stops waiting here.
      batchesWaiting: present === 0 && !batch.started ? -1 : 0,
    });
    return [
      {
        Update: {
          TableName: tableName(),
          Key: keys.batch(batch.customer, batch.batch),
          UpdateExpression: `REMOVE enqueueing, gsi3pk, gsi3sk${shrink}`,
          ConditionExpression: 'attribute_exists(enqueueing)',
          ...(missing > 0
            ? { ExpressionAttributeNames: { '#count': 'count', '#current': 'current' }, ExpressionAttributeValues: { ':shrink': -missing } }
            : {}),
        },
      },
      ...(customerUpdate ? [customerUpdate] : []),
    ];
  });
  return outcome.ok;
}

export async function staleEnqueueing(before: string): Promise<BatchRecord[]> {
  const refs = await queryAll({
    IndexName: TABLE.indexes.gsi3.name,
    KeyConditionExpression: 'gsi3pk = :p AND gsi3sk < :before',
    ExpressionAttributeValues: { ':p': 'ENQUEUEING', ':before': before },
  });
  const heads = (
    await getItems(
      refs.map((r) => pick(r, ['pk', 'sk'])),
      true,
    )
  ).filter((h) => h.enqueueing);
  return batchViews(heads, true);
}

export async function memberRefsOfBatch(customer: number, batch: number, state?: MemberState): Promise<MemberRef[]> {
  const partitions = await Promise.all(
    Array.from({ length: MEMBER_PARTITIONS }, (_, k) =>
      queryAll({
        KeyConditionExpression: 'pk = :pk',
        ProjectionExpression: 'sk',
        ...(state ? { FilterExpression: '#state = :s', ExpressionAttributeNames: { '#state': 'state' } } : {}),
        ExpressionAttributeValues: { ':pk': keys.memberPartition(customer, batch, k), ...(state ? { ':s': state } : {}) },
        ConsistentRead: true,
      }),
    ),
  );
  return partitions
    .flat()
    .map((i) => ({ customer, batch, index: memberIndexFromKey(String(i.sk)) }))
    .sort((a, b) => a.index - b.index);
}

export const dynamoSubmitWrites = {
  createBatch,
  findIdempotent,
  putMembers,
  putMembersIfAbsent,
  markEnqueued,
  staleEnqueueing,
  memberRefsOfBatch,
} satisfies Partial<SubmitStore>;
