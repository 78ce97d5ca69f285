/**
 * Member state transitions and the counters they change. Every change of member state runs in a
 * transaction together with the counter deltas it implies (on one customer shard and one shard per
 * batch), conditioned on the member's previous state, so a redelivered or duplicated message can
 * never count twice. A batch is finished by whoever, after committing, reads its counters summing
 * to no remaining member: the last transaction to commit always sees every earlier one.
 */
import { randomUUID } from 'node:crypto';
import type { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { TABLE } from '../../config/resources';
import { batchRef, deltasFor, isAllowed, isTerminal, type Transition } from '../../domain/accounting';
import { chunk } from '../../domain/async';
import type { BatchRecord, MemberRecord } from '../../domain/model';
import type { BatchState, MemberRef, NoticeStore, ProcessingStore, TransitionResult } from '../../domain/ports';
import { prefixed, stripKeys, toMember } from './codec';
import { addToBatchShard, addToCustomerShard, batchShards, batchView, batchViews, cap, QUEUE_NAMES, remainingOf } from './counters';
import { keys, memberErrorIndex } from './keys';
import { db, getItems, type Item, isConditionFailure, tableName, writeIf } from './table';
import { runTransaction, type TransactItems } from './transactions';

const now = () => new Date().toISOString();
/**
 * Members per grouped transaction. Each may add a start and a shard update for its batch, plus one
 * customer shard: 24 × 3 + 1 stays within TransactWriteItems' 100 actions.
 */
const MEMBERS_PER_TRANSACTION = 24;
const memberRef = (m: MemberRef) => `${m.customer}/${m.batch}/${m.index}`;

export async function getMembers(refs: readonly MemberRef[], consistent = true): Promise<MemberRecord[]> {
  const items = await getItems(
    refs.map((r) => keys.member(r.customer, r.batch, r.index)),
    consistent,
  );
  return items.map(toMember);
}

/** Batch head items by batch ref (consistent: a start or finish must be seen at once). */
async function headsOf(refs: readonly { customer: number; batch: number }[]): Promise<Map<string, Item>> {
  const items = await getItems(
    refs.map((r) => keys.batch(r.customer, r.batch)),
    true,
  );
  return new Map(items.map((h) => [batchRef(Number(h.customer), Number(h.batch)), h]));
}

/** Head-like records from batch states just read. */
function headsFromStates(states: readonly BatchState[]): Map<string, Item> {
  return new Map(states.map((b) => [batchRef(b.customer, b.batch), { ...b }]));
}

export async function getBatchStates(refs: readonly { customer: number; batch: number }[]): Promise<BatchState[]> {
  return [...(await headsOf(refs)).values()].map((h) => stripKeys<BatchState>(h));
}

const startActions = (customer: number, batch: number, at: string) => ({
  Update: {
    TableName: tableName(),
    Key: keys.batch(customer, batch),
    UpdateExpression: 'SET started = :now, gsi2pk = :ap, gsi2sk = :as',
    ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(started)',
    ExpressionAttributeValues: { ':now': at, ...prefixed(keys.batchActive(customer, batch), 'a') },
  },
});

/** Records the first pick-up of batches not yet started (the condition makes it happen once). */
export async function startBatches(batches: readonly BatchState[]): Promise<void> {
  await Promise.all(
    batches
      .filter((b) => !b.started)
      .map((b) =>
        runTransaction(() => [startActions(b.customer, b.batch, now()), addToCustomerShard(b.customer, { batchesWaiting: -1 })!]),
      ),
  );
}

/** Applies transitions and their counter deltas atomically; members already past them are skipped. */
export async function applyTransitions(transitions: readonly Transition[], known?: readonly BatchState[]): Promise<TransitionResult> {
  const applied: Transition[] = [];
  const skipped: MemberRecord[] = [];
  let pending = [...transitions];
  let groupSize = MEMBERS_PER_TRANSACTION;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= 12) throw new Error(`could not apply ${pending.length} transitions after ${attempt} attempts`);
    const heads = attempt === 0 && known ? headsFromStates(known) : await headsOf(pending.map((t) => t.member));
    const retry: Transition[] = [];
    for (const group of chunk(pending, groupSize)) {
      const outcome = await runTransaction(() => transitionActions(group, heads));
      if (outcome.ok) applied.push(...group);
      else retry.push(...group);
    }
    if (retry.length === 0) break;
    // A condition failed (another delivery of the same message got there first, or a batch was
    // started meanwhile): re-read the members and go on one member per transaction, so one stale
    // member cannot hold back the others.
    groupSize = 1;
    const fresh = new Map((await getMembers(retry.map((t) => t.member))).map((m) => [memberRef(m), m]));
    pending = [];
    for (const t of retry) {
      const latest = fresh.get(memberRef(t.member));
      if (!latest || !isAllowed(latest.state, t.to)) skipped.push(latest ?? t.member);
      else pending.push({ ...t, member: latest });
    }
  }
  return { applied, skipped };
}

function transitionActions(group: readonly Transition[], heads: ReadonlyMap<string, Item>): TransactItems {
  const at = now();
  const started = new Map([...heads].map(([ref, h]) => [ref, { started: h.started as string | undefined }]));
  const { batchDeltas, customerDeltas } = deltasFor(group, started);
  const actions: TransactItems = [];
  for (const { member, to, outcome, lastError } of group) {
    const fields: Record<string, unknown> = { state: to };
    if (isTerminal(to)) fields.finished = at;
    if (lastError !== undefined) fields.lastError = lastError;
    for (const field of ['width', 'height', 'mediaType', 'contentLength', 'error'] as const) {
      if (outcome?.[field] !== undefined) fields[field] = outcome[field];
    }
    // The sparse error index (keys.ts memberErrorIndex, read by errorImages): error members only.
    if (to === 'error') Object.assign(fields, memberErrorIndex(member.customer, member.batch, member.index));
    const names = Object.keys(fields);
    actions.push({
      Update: {
        TableName: tableName(),
        Key: keys.member(member.customer, member.batch, member.index),
        UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}`,
        ConditionExpression: '#state = :from',
        ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
        ExpressionAttributeValues: { ...Object.fromEntries(names.map((n) => [`:${n}`, fields[n]])), ':from': member.state },
      },
    });
  }
  for (const d of batchDeltas) {
    if (d.start) actions.push(startActions(d.customer, d.batch, at));
    const update = addToBatchShard(d.customer, d.batch, {
      waiting: d.waiting,
      remaining: d.remaining,
      completed: d.completed,
      errors: d.errors,
      cancelled: d.cancelled,
    });
    if (update) actions.push(update);
  }
  for (const d of customerDeltas) {
    const update = addToCustomerShard(d.customer, {
      size: d.size,
      // Members that reached a terminal state leave the queue for good (admission counts them).
      released: -d.size,
      batchesWaiting: d.batchesWaiting,
      ...Object.fromEntries(
        QUEUE_NAMES.flatMap((q) => [
          [`waiting${cap(q)}`, d.waiting[q]],
          [`running${cap(q)}`, d.running[q]],
        ]),
      ),
    });
    if (update) actions.push(update);
  }
  return actions;
}

/** A member that has moved on (ended meanwhile) is left as it is. */
export async function noteTransientFailure(member: MemberRecord, error: string): Promise<void> {
  await writeIf(
    new UpdateCommand({
      TableName: tableName(),
      Key: keys.member(member.customer, member.batch, member.index),
      UpdateExpression: 'SET lastError = :e',
      ConditionExpression: '#state IN (:waiting, :running)',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':e': error, ':waiting': 'waiting', ':running': 'running' },
    }),
  );
}

/**
 * Sets `finished` once the batch's counters sum to no remaining member, and returns the finished
 * batch if this call finished it (exactly one call does: the notice is sent by that caller).
 * A batch's `remaining` starts at its `count` (recovery shrinks both together) and its shards take
 * the members that ended away. With `count` known (read at the start of the delivery) one Query of
 * the shards decides: a stale, larger count can only delay the finish to a later check, never
 * finish early, and an already finished batch fails the update's condition. The finish also marks
 * the completion notice as pending (`keys.pendingNotice`).
 */
export async function finalizeBatch(customer: number, batch: number, count?: number): Promise<BatchRecord | undefined> {
  let total = count;
  if (total === undefined) {
    const [head] = await getItems([keys.batch(customer, batch)], true);
    if (!head || head.finished) return undefined;
    total = Number(head.count);
  }
  const shards = await batchShards(customer, batch, true);
  if (remainingOf(total, shards) > 0) return undefined;
  const finished = now();
  // Identifies this call's update: when the SDK repeats an update that was applied (a 500 after
  // the write), the repeat fails the condition, and the token says the finish was ours.
  const token = randomUUID();
  try {
    const { Attributes } = await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.batch(customer, batch),
        UpdateExpression: 'SET finished = :f, finishedBy = :token, gsi1pk = :fp, gsi1sk = :fs, gsi2pk = :np, gsi2sk = :ns',
        // `finished` is set exactly once. A batch may finish while still enqueueing: `remaining`
        // counts all `count` members, and members never written (a crashed submit) keep it above 0.
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(finished)',
        ExpressionAttributeValues: {
          ':f': finished,
          ':token': token,
          ...prefixed(keys.batchFinished(customer, finished, batch), 'f'),
          ...prefixed(keys.pendingNotice(customer, finished, batch), 'n'),
        },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return batchView(Attributes ?? {}, shards);
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const old = (error as ConditionalCheckFailedException).Item;
    return old?.finishedBy?.S === token ? batchView(unmarshall(old), shards) : undefined;
  }
}

/** Batches whose completion notice is still pending and that finished before `before` (ISO time). */
export async function pendingNotices(before: string, limit = 100): Promise<BatchRecord[]> {
  const { Items = [] } = await db().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: TABLE.indexes.gsi2.name,
      KeyConditionExpression: 'gsi2pk = :p AND gsi2sk < :before',
      ExpressionAttributeValues: { ':p': keys.pendingNotice(0, '', 0).gsi2pk, ':before': before },
      Limit: limit,
    }),
  );
  const heads = await getItems(
    Items.map((i) => ({ pk: i.pk, sk: i.sk })),
    true,
  );
  return batchViews(
    heads.filter((h) => h.gsi2pk === keys.pendingNotice(0, '', 0).gsi2pk),
    true,
  );
}

/**
 * The completion notice of a batch was published: it leaves the pending notices (unless the
 * sweeper, or the first attempt of an SDK retry, cleared it already).
 */
export async function noticeSent(customer: number, batch: number): Promise<void> {
  await writeIf(
    new UpdateCommand({
      TableName: tableName(),
      Key: keys.batch(customer, batch),
      UpdateExpression: 'REMOVE gsi2pk, gsi2sk',
      ConditionExpression: 'gsi2pk = :p',
      ExpressionAttributeValues: { ':p': keys.pendingNotice(0, '', 0).gsi2pk },
    }),
  );
}

export const dynamoTransitions = {
  getMembers,
  getBatchStates,
  startBatches,
  applyTransitions,
  noteTransientFailure,
  finalizeBatch,
  pendingNotices,
  noticeSent,
} satisfies ProcessingStore & NoticeStore;
