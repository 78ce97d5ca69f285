/**
 * Submit-side writes: a batch id with admission, the batch head, its members with their asset
 * digests, and the end of the enqueueing phase; plus the sweeper's view of batches whose submit
 * handler died.
 */
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../config/resources';
import { inParallel } from '../../domain/async';
import { keys, MEMBER_PARTITIONS, memberIndexFromKey, type BatchRecord, type MemberRecord, type MemberState } from '../../domain/model';
import type { CreateBatchResult, MemberRef, NewBatch, SubmitStore } from '../../domain/ports';
import { memberItem, prefixed } from './codec';
import { addToCustomerShard, batchViews, cap, customerShards } from './counters';
import { digestItems } from './asset-digests';
import { putAll, runTransaction, type TransactItems } from './transactions';
import { db, getItems, isConditionFailure, pick, queryAll, tableName } from './table';

/** Members that left the customer's queue, summed over its shards (only ever grows). */
async function releasedByShards(customer: number): Promise<number> {
  return (await customerShards(customer)).reduce((sum, s) => sum + Number(s['released'] ?? 0), 0);
}

type Allocation = { batch: number } | { full: { admitted: number } };

/**
 * Takes the next batch id and admits `count` members, in one conditional UpdateItem on the
 * customer's head item (no transaction ever touches it, so concurrent submits never conflict: they
 * are serialised by DynamoDB). `admitted` counts every member ever admitted and the shards'
 * `released` every member that left, so admission holds `admitted + count − released ≤ limit`
 * exactly; `released` only grows, so a stale read can refuse early but never admit too many.
 * The request's token is stored with the id: when the SDK retries a call that was applied (a 500
 * after the write), the condition fails on the token and the old item gives back the same id.
 */
async function allocate(customer: number, count: number, limit: number, released: number, token: string): Promise<Allocation> {
  try {
    const { Attributes } = await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.customer(customer),
        UpdateExpression: 'ADD batchSeq :one, admitted :n SET lastAllocation = :token, customer = :c, #type = :t, gsi3pk = :lp, gsi3sk = :ls',
        ConditionExpression: '(attribute_not_exists(lastAllocation) OR lastAllocation <> :token) AND (attribute_not_exists(admitted) OR admitted <= :limit)',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: {
          ':one': 1,
          ':n': count,
          ':token': token,
          ':c': customer,
          ':t': 'customer',
          ':limit': limit - count + released,
          ...prefixed(keys.customerList(customer), 'l'),
        },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { batch: Number(Attributes?.['batchSeq']) };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const old = (error as ConditionalCheckFailedException).Item;
    // Our own earlier attempt was applied: the id it took is ours.
    if (old?.['lastAllocation']?.S === token) return { batch: Number(old['batchSeq']?.N) };
    return { full: { admitted: Number(old?.['admitted']?.N ?? 0) } };
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
  const token = randomUUID();
  let allocation = await allocate(customer, count, maxQueueSize, 0, token);
  if ('full' in allocation) {
    // Refused against the head alone: count the members that left since, and try once more.
    const released = await releasedByShards(customer);
    if (released > 0) allocation = await allocate(customer, count, maxQueueSize, released, token);
    if ('full' in allocation) return { queueFull: { size: allocation.full.admitted - released, limit: maxQueueSize } };
  }
  const { batch } = allocation;
  const record: BatchRecord = {
    customer,
    batch,
    queue,
    submitted,
    count,
    completed: 0,
    errors: 0,
    remaining: count,
    waiting: count,
    current: count,
    enqueueing: true,
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
  ];
  let outcome;
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
  return Item ? { batch: Number(Item['batch']), hash: String(Item['hash']) } : undefined;
}

/** Members and their batch's asset digests (asset-digests.ts), in the same BatchWriteItem calls. */
export async function putMembers(members: readonly MemberRecord[]): Promise<void> {
  await putAll(tableName(), [...members.map(memberItem), ...digestItems(members)]);
}

export async function putMembersIfAbsent(members: readonly MemberRecord[]): Promise<void> {
  await inParallel(members, 16, async (member) => {
    try {
      await db().send(new PutCommand({ TableName: tableName(), Item: memberItem(member), ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (error) {
      // Stored already (or by the first attempt of an SDK retry): it may have moved on since.
      if (!isConditionFailure(error)) throw error;
    }
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
          UpdateExpression: `REMOVE enqueueing, gsi3pk, gsi3sk${missing > 0 ? ' ADD #count :shrink, remaining :shrink, waiting :shrink, #current :shrink' : ''}`,
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
  const heads = (await getItems(refs.map((r) => pick(r, ['pk', 'sk'])), true)).filter((h) => h['enqueueing']);
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
    .map((i) => ({ customer, batch, index: memberIndexFromKey(String(i['sk'])) }))
    .sort((a, b) => a.index - b.index);
}

export const dynamoSubmitWrites = { createBatch, findIdempotent, putMembers, putMembersIfAbsent, markEnqueued, staleEnqueueing, memberRefsOfBatch } satisfies Partial<SubmitStore>;
