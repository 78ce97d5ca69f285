/**
 * The key scheme of the single table, in one place: every item's `pk`/`sk` and index keys
 * (`gsi1`…`gsi4`, config/resources.ts TABLE) composed from named parts, and the few functions that
 * read parts back out of a key. Only the DynamoDB adapters know it; the domain never sees a key.
 */
import type { QueueName } from '../../config/resources';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Partition keys a batch's members are spread over (see `keys.member`). */
export const MEMBER_PARTITIONS = 8;

function memberPartition(customer: number, batch: number, partition: number): string {
  return `CUST#${customer}#BATCH#${pad(batch, 12)}#P${partition}`;
}

/** The key scheme of the single table, in one place. */
export const keys = {
  /** The customer's head item: batch ids, and what submits add to its counters. */
  customer: (customer: number) => ({ pk: `CUST#${customer}`, sk: 'QUEUE' }),
  /**
   * Counter shards: each change adds its deltas to one shard chosen at random, so concurrent
   * processors rarely write the same item (conflicts are per item); the shards share a partition
   * key, so a reader sums them all with one Query.
   */
  customerCounters: (customer: number, shard: number) => ({ pk: `CUST#${customer}#COUNTERS`, sk: `S#${shard}` }),
  customerList: (customer: number) => ({ gsi3pk: 'CUSTOMERS', gsi3sk: pad(customer, 12) }),
  batch: (customer: number, batch: number) => ({ pk: `CUST#${customer}`, sk: `BATCH#${pad(batch, 12)}` }),
  batchPrefix: 'BATCH#',
  batchCounters: (customer: number, batch: number, shard: number) => ({
    pk: `CUST#${customer}#BATCH#${pad(batch, 12)}#COUNTERS`,
    sk: `S#${shard}`,
  }),
  batchOpen: (customer: number, queue: QueueName, submitted: string, batch: number) => ({
    gsi1pk: `CUST#${customer}#OPEN#${queue}`,
    gsi1sk: `${submitted}#${pad(batch, 12)}`,
  }),
  batchFinished: (customer: number, finished: string, batch: number) => ({
    gsi1pk: `CUST#${customer}#FINISHED`,
    gsi1sk: `${finished}#${pad(batch, 12)}`,
  }),
  batchActive: (customer: number, batch: number) => ({ gsi2pk: `CUST#${customer}#ACTIVE`, gsi2sk: pad(batch, 12) }),
  /**
   * A finished batch whose completion notice is not known to be sent: set by the finish itself,
   * removed once the notice is published; the sweeper publishes what a crashed finisher left.
   * On the active index (a finished batch has left its customer's active list), in its own partition.
   */
  pendingNotice: (customer: number, finished: string, batch: number) => ({
    gsi2pk: 'NOTICES',
    gsi2sk: `${finished}#${pad(customer, 12)}#${pad(batch, 12)}`,
  }),
  batchEnqueueing: (customer: number, submitted: string, batch: number) => ({
    gsi3pk: 'ENQUEUEING',
    gsi3sk: `${submitted}#${pad(customer, 12)}#${pad(batch, 12)}`,
  }),
  /**
   * A batch's members are spread over MEMBER_PARTITIONS partition keys by index, so no key of a
   * large batch takes more than its share of submit and processing writes (AWS: 1,000 write
   * units/s per partition key); readers merge the partitions in index order.
   */
  member: (customer: number, batch: number, index: number) => ({
    pk: memberPartition(customer, batch, index % MEMBER_PARTITIONS),
    sk: `M#${pad(index, 6)}`,
  }),
  memberPartition,
  memberAsset: (customer: number, space: number, id: string, batch: number) => ({
    gsi4pk: assetKey(customer, space, id),
    gsi4sk: pad(batch, 12),
  }),
  idempotency: (customer: number, key: string) => ({ pk: `CUST#${customer}#IDEM#${key}`, sk: 'IDEM' }),
} as const;

export function assetKey(customer: number, space: number, id: string): string {
  return `CUST#${customer}#ASSET#${space}/${id}`;
}

/** Parses the batch id back out of a batch or member sort/partition key. */
export function batchIdFromKey(key: string): number {
  const match = /BATCH#(\d+)/.exec(key);
  if (!match) throw new Error(`not a batch key: ${key}`);
  return Number(match[1]);
}

export function memberIndexFromKey(sk: string): number {
  return Number(sk.slice(2));
}

/** The submission time in a `keys.batchOpen` sort key (`<submittedISO>#<batch padded>`). */
export function submittedFromOpenKey(gsi1sk: string): string {
  const hash = gsi1sk.lastIndexOf('#');
  return hash >= 0 ? gsi1sk.slice(0, hash) : gsi1sk;
}

/** `CUST#12#ACTIVE` → 12. */
export function customerOf(partition: string): number {
  return Number(/^CUST#(\d+)/.exec(partition)?.[1]);
}

/** Shapes of sort keys a page token may carry (codec.ts decodeCursor). */
export const BATCH_SK = /^BATCH#\d{12}$/;
export const MEMBER_SK = /^M#(\d{6}~?)?$/;

/**
 * The sparse index entry of a member that ended in error: set by the transition that records the
 * error, on no other member, so `errorImages` reads only error members however few a batch has
 * (a 2,500-member batch whose 2 errors are its last members pages them at once). One partition per
 * member partition (`keys.member`), so the index spreads writes as the table does; the sort key is
 * the member's, so readers merge the partitions in index order and share the members' cursors.
 * Cost: one KEYS_ONLY index entry per error member; completed members write none.
 */
export function memberErrorIndex(customer: number, batch: number, index: number): { gsi2pk: string; gsi2sk: string } {
  const { pk, sk } = keys.member(customer, batch, index);
  return { gsi2pk: `${pk}#ERROR`, gsi2sk: sk };
}

/** The error-index partition of member partition `partitionPk` (see memberErrorIndex). */
export const errorIndexPartition = (partitionPk: string): string => `${partitionPk}#ERROR`;
