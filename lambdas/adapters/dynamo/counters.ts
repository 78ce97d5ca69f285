/**
 * Sharded counters: no item that every processor writes.
 *
 * A customer's counters live in CUSTOMER_COUNTER_SHARDS shard items (its head item, `keys.customer`,
 * holds only the batch id sequence and admission, see submit-writes.ts); a batch's on its head item
 * (`keys.batch`, the starting values) plus up to MAX_BATCH_COUNTER_SHARDS shards. Every change adds
 * its deltas to one shard picked at random
 * per attempt (a retry after a conflict picks again), in the same transaction as the member states
 * it summarises. A reader sums the head and the shards: a fixed number of items, whatever the
 * number or size of batches. Each transaction writes exactly one counter item per customer and per
 * batch, so any read sees each transaction wholly or not at all.
 *
 * Why: on AWS one item serialises every transaction that touches it (TransactionConflict), and one
 * partition key takes at most 1,000 write units/s; see shared/reference/aws-semantics.md.
 */
import type { QueueName } from '../../config/resources';
import { inParallel } from '../../domain/async';
import { type BatchRecord, type CustomerCounters, emptyCounters } from '../../domain/model';
import { stripKeys } from './codec';
import { keys } from './keys';
import { getItems, type Item, queryAll, tableName } from './table';
import type { TransactAction } from './transactions';

/**
 * Shards per customer and per batch. More shards mean fewer transactions meeting on one item (each
 * holds its items while it commits); they cost no more writes, and reading them stays one Query of
 * one or two read units because they share a partition key. A customer's counters are written by
 * every processor of every queue, a batch's only by those working on it.
 */
export const CUSTOMER_COUNTER_SHARDS = 32;
export const BATCH_COUNTER_SHARDS = 16;

export const QUEUE_NAMES: readonly QueueName[] = ['main', 'priority'];
export const cap = (q: QueueName) => (q === 'main' ? 'Main' : 'Priority');

/** The customer counter attributes kept in shards. */
export const CUSTOMER_FIELDS = [
  'size',
  'batchCount',
  'batchesWaiting',
  ...QUEUE_NAMES.flatMap((q) => [`waiting${cap(q)}`, `running${cap(q)}`, `pending${cap(q)}`]),
] as const;
/** The batch counter attributes kept in shards (the head holds their starting values). */
export const BATCH_FIELDS = ['completed', 'errors', 'cancelled', 'remaining', 'waiting', 'current'] as const;

const randomShard = (n: number) => Math.floor(Math.random() * n);

/** Sums numeric attributes of the head and its shards. */
function summed(head: Item, shards: readonly Item[], fields: readonly string[]): Record<string, number> {
  return Object.fromEntries(fields.map((f) => [f, [head, ...shards].reduce((sum, item) => sum + Number(item[f] ?? 0), 0)]));
}

/**
 * An update that adds `deltas` to a counter item (created on first use), or undefined when every
 * delta is zero. `extra` sets attributes alongside.
 */
function addTo(key: Item, type: string, identity: Item, deltas: Record<string, number>): TransactAction | undefined {
  const nonZero = Object.entries(deltas).filter(([, v]) => v !== 0);
  if (nonZero.length === 0) return undefined;
  const names = Object.keys(identity);
  const sets = names.map((n) => `#${n} = :${n}`).join(', ');
  const adds = nonZero.map(([f]) => `#${f} :${f}`).join(', ');
  return {
    Update: {
      TableName: tableName(),
      Key: key,
      UpdateExpression: `SET #type = :type, ${sets} ADD ${adds}`,
      ExpressionAttributeNames: {
        '#type': 'type',
        ...Object.fromEntries([...names, ...nonZero.map(([f]) => f)].map((n) => [`#${n}`, n])),
      },
      ExpressionAttributeValues: {
        ':type': type,
        ...Object.fromEntries(names.map((n) => [`:${n}`, identity[n]])),
        ...Object.fromEntries(nonZero.map(([f, v]) => [`:${f}`, v])),
      },
    },
  };
}

/** Adds deltas to one customer shard picked at random. */
export function addToCustomerShard(customer: number, deltas: Record<string, number>): TransactAction | undefined {
  const shard = randomShard(CUSTOMER_COUNTER_SHARDS);
  return addTo(keys.customerCounters(customer, shard), 'customerCounters', { customer, shard }, deltas);
}

/** Adds deltas to one of a batch's shards picked at random. */
export function addToBatchShard(customer: number, batch: number, deltas: Record<string, number>): TransactAction | undefined {
  const shard = randomShard(BATCH_COUNTER_SHARDS);
  return addTo(keys.batchCounters(customer, batch, shard), 'batchCounters', { customer, batch, shard }, deltas);
}

export function countersFromFields(customer: number, fields: Record<string, number>, batchSeq = 0): CustomerCounters {
  const n = (name: string) => fields[name] ?? 0;
  return {
    ...emptyCounters(customer),
    batchSeq,
    batchCount: n('batchCount'),
    size: n('size'),
    batchesWaiting: n('batchesWaiting'),
    waiting: { main: n('waitingMain'), priority: n('waitingPriority') },
    running: { main: n('runningMain'), priority: n('runningPriority') },
    pending: { main: n('pendingMain'), priority: n('pendingPriority') },
  };
}

export function customerView(head: Item, shards: readonly Item[]): CustomerCounters {
  const customer = Number(head.customer);
  return countersFromFields(customer, summed({}, shards, CUSTOMER_FIELDS), Number(head.batchSeq ?? 0));
}

export function batchView(head: Item, shards: readonly Item[]): BatchRecord {
  return { ...stripKeys<BatchRecord>(head), ...(summed(head, shards, BATCH_FIELDS) as Pick<BatchRecord, (typeof BATCH_FIELDS)[number]>) };
}

/** Every shard of one customer or batch: one Query on their shared partition key. */
async function shardsAt(pk: string, consistent: boolean): Promise<Item[]> {
  return queryAll({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: consistent });
}

export const customerShards = (customer: number, consistent = true) => shardsAt(keys.customerCounters(customer, 0).pk, consistent);
export const batchShards = (customer: number, batch: number, consistent = true) =>
  shardsAt(keys.batchCounters(customer, batch, 0).pk, consistent);

/** The customers' summed counters (heads as read), in the heads' order. */
export async function customerViews(heads: readonly Item[], consistent = true): Promise<CustomerCounters[]> {
  return inParallel(heads, 16, async (h) => customerView(h, await customerShards(Number(h.customer), consistent)));
}

/** Reads the customer's head and shards. */
export async function readCustomer(customer: number, consistent = true): Promise<CustomerCounters | undefined> {
  const [[head], shards] = await Promise.all([getItems([keys.customer(customer)], consistent), customerShards(customer, consistent)]);
  return head ? customerView(head, shards) : undefined;
}

/**
 * The shards to show with `head`. A finished batch's shards hold every member's result (the finish
 * is conditioned on them, `finalizeBatch`), but a shard read that raced the finish — run beside the
 * head's read, or eventually consistent — may miss the last results, and the batch would show
 * `finished` with counters that do not add up to its count. Such a read is repeated, strongly
 * consistent; an unfinished batch keeps what was read.
 */
export async function shardsToShow(head: Item, shards: Item[]): Promise<Item[]> {
  if (!head.finished || remainingOf(Number(head.count ?? 0), shards) <= 0) return shards;
  return batchShards(Number(head.customer), Number(head.batch), true);
}

/** The members of a batch of `count` that have not ended, by its shards (each takes those that ended). */
export function remainingOf(count: number, shards: readonly Item[]): number {
  return shards.reduce((sum, s) => sum + Number(s.remaining ?? 0), count);
}

/** The batches' summed counters (heads as read), in the heads' order. */
export async function batchViews(heads: readonly Item[], consistent = false): Promise<BatchRecord[]> {
  return inParallel(heads, 16, async (h) =>
    batchView(h, await shardsToShow(h, await batchShards(Number(h.customer), Number(h.batch), consistent))),
  );
}
