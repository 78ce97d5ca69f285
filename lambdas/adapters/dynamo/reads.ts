/**
 * Reads: a customer's counters, batches (all, active, recent), the members of a batch and the
 * customer's queue in submission order. Counters are summed from a head and a fixed number of
 * shards; collections read one page of an index or partition plus the page's items.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../config/resources';
import { batchIdFromKey, keys, type BatchRecord, type CustomerCounters, type MemberRecord, type MemberState } from '../../domain/model';
import type { Page, PageRequest, QueueReader } from '../../domain/ports';
import { BATCH_SK, customerOf, decodeCursor, encodeCursor, MEMBER_SK, toMember, withNext } from './codec';
import { batchViews, customerViews, QUEUES, readCustomer } from './counters';
import { memberRefsOfBatch } from './submit-writes';
import { memberRefsOfAsset } from './supersession';
import { getMembers } from './transitions';
import { db, getItems, pick, queryAll, tableName, type Item } from './table';

export async function getCustomer(customer: number): Promise<CustomerCounters | undefined> {
  return readCustomer(customer, true);
}

export async function listCustomers(): Promise<CustomerCounters[]> {
  const refs = await queryAll({
    IndexName: TABLE.indexes.gsi3.name,
    KeyConditionExpression: 'gsi3pk = :p',
    ExpressionAttributeValues: { ':p': 'CUSTOMERS' },
  });
  return customerViews(await getItems(refs.map((r) => pick(r, ['pk', 'sk']))), false);
}

export async function getBatch(customer: number, batch: number, consistent = false): Promise<BatchRecord | undefined> {
  const [head] = await getItems([keys.batch(customer, batch)], consistent);
  return head ? (await batchViews([head], consistent))[0] : undefined;
}

export async function getBatches(refs: readonly { customer: number; batch: number }[]): Promise<BatchRecord[]> {
  return batchViews(await getItems(refs.map((r) => keys.batch(r.customer, r.batch)), true), true);
}

export async function listBatches(customer: number, page: PageRequest): Promise<Page<BatchRecord>> {
  const { pk } = keys.customer(customer);
  const result = await db().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': pk, ':prefix': keys.batchPrefix },
      ScanIndexForward: false,
      // One more than the page: a next link only when there is a next item.
      Limit: page.limit + 1,
      ExclusiveStartKey: decodeCursor(page.cursor, { pk }, ['pk', 'sk'], { sk: BATCH_SK }),
    }),
  );
  const items = (result.Items ?? []).slice(0, page.limit);
  const more = (result.Items ?? []).length > page.limit;
  return withNext(await batchViews(items), more ? pick(items[items.length - 1] as Item, ['pk', 'sk']) : undefined);
}

export async function listActiveBatches(customer: number, page: PageRequest): Promise<Page<BatchRecord>> {
  const { gsi2pk } = keys.batchActive(customer, 0);
  return batchesFromIndex(TABLE.indexes.gsi2.name, 'gsi2pk', 'gsi2sk', gsi2pk, page, () => true);
}

export async function listRecentBatches(customer: number, page: PageRequest): Promise<Page<BatchRecord>> {
  const { gsi1pk } = keys.batchFinished(customer, '', 0);
  return batchesFromIndex(TABLE.indexes.gsi1.name, 'gsi1pk', 'gsi1sk', gsi1pk, page, (b) => b.current > 0);
}

/** Pages a KEYS_ONLY batch index newest first, fetching the batches and keeping those that pass. */
async function batchesFromIndex(
  indexName: string,
  pkName: string,
  skName: string,
  partition: string,
  page: PageRequest,
  keep: (batch: BatchRecord) => boolean,
): Promise<Page<BatchRecord>> {
  const cursorNames = [pkName, skName, 'pk', 'sk'];
  let start = decodeCursor(page.cursor, { [pkName]: partition, pk: `CUST#${customerOf(partition)}` }, cursorNames, { sk: BATCH_SK });
  const out: BatchRecord[] = [];
  let last: Item | undefined;
  for (let round = 0; round < 10; round++) {
    const result = await db().send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: indexName,
        KeyConditionExpression: `${pkName} = :p`,
        ExpressionAttributeValues: { ':p': partition },
        ScanIndexForward: false,
        Limit: page.limit - out.length + 1,
        ExclusiveStartKey: start,
      }),
    );
    const refs = result.Items ?? [];
    const heads = await getItems(refs.map((r) => pick(r, ['pk', 'sk'])));
    const views = await batchViews(heads);
    const batches = new Map(heads.map((h, i) => [String(h['sk']), views[i] as BatchRecord]));
    for (const ref of refs) {
      const batch = batches.get(String(ref['sk']));
      if (!batch || !keep(batch)) {
        last = pick(ref, cursorNames);
        continue;
      }
      // The page is full and another batch follows: the next page starts after the last one taken.
      if (out.length === page.limit) return withNext(out, last);
      out.push(batch);
      last = pick(ref, cursorNames);
    }
    if (!result.LastEvaluatedKey) return withNext(out, undefined);
    start = result.LastEvaluatedKey;
  }
  return withNext(out, last);
}

export async function listMembers(customer: number, batch: number, state: MemberState | 'any', page: PageRequest): Promise<Page<MemberRecord>> {
  const { pk } = keys.member(customer, batch, 0);
  return membersOfPartition(pk, state === 'any' ? undefined : [state], 'asc', page, page.cursor);
}

/** Members of one batch partition, optionally filtered by state, collecting up to `page.limit`. */
async function membersOfPartition(
  pk: string,
  states: MemberState[] | undefined,
  order: 'asc' | 'desc',
  page: PageRequest,
  cursor: string | undefined,
): Promise<Page<MemberRecord>> {
  let start = decodeCursor(cursor, { pk }, ['pk', 'sk'], { sk: MEMBER_SK });
  const out: MemberRecord[] = [];
  let lastTaken: Item | undefined;
  // Reads stop after 20 queries (a filtered page may skip many members); the token then resumes.
  for (let round = 0; round < 20; round++) {
    const filter = states
      ? {
          FilterExpression: `#state IN (${states.map((_, i) => `:s${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#state': 'state' },
        }
      : {};
    const result = await db().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: 'pk = :pk',
        ...filter,
        ExpressionAttributeValues: { ':pk': pk, ...Object.fromEntries((states ?? []).map((s, i) => [`:s${i}`, s])) },
        ScanIndexForward: order === 'asc',
        Limit: page.limit - out.length + 1,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of result.Items ?? []) {
      // The page is full and another member follows: the next page starts after the last taken.
      if (out.length === page.limit) return withNext(out, lastTaken);
      out.push(toMember(item));
      lastTaken = pick(item, ['pk', 'sk']);
    }
    if (!result.LastEvaluatedKey) return withNext(out, undefined);
    start = result.LastEvaluatedKey;
  }
  return withNext(out, out.length === page.limit ? lastTaken : start);
}

export async function listQueuedMembers(customer: number, order: 'asc' | 'desc', page: PageRequest): Promise<Page<MemberRecord>> {
  // Queue order is submission order across both queues: walk the open batches (an index that
  // holds only unfinished batches) and take their waiting or running members.
  const cursor = decodeQueueCursor(page.cursor, customer);
  const { batches: openBatches, more } = await openBatchesOf(customer, order, cursor?.at);
  const out: MemberRecord[] = [];
  const token = (at: string, member: string) => encodeCursor({ c: String(customer), at, m: member });
  for (const [i, open] of openBatches.entries()) {
    const memberCursor = cursor && open.at === cursor.at ? cursor.member : undefined;
    const pageOfBatch = await membersOfPartition(
      keys.member(customer, open.batch, 0).pk,
      ['waiting', 'running'],
      order,
      { limit: page.limit - out.length },
      memberCursor,
    );
    out.push(...pageOfBatch.items);
    // More of this batch to read (the page filled, or the reads for one page ran out): resume here.
    if (pageOfBatch.next) return { items: out, next: token(open.at, pageOfBatch.next) };
    if (out.length >= page.limit) {
      const following = openBatches[i + 1];
      if (following) return { items: out, next: token(following.at, startOf(customer, following.batch, order)) };
      return more ? { items: out, next: token(open.at, endOf(customer, open.batch, order)) } : { items: out };
    }
  }
  const last = openBatches[openBatches.length - 1];
  return more && last ? { items: out, next: token(last.at, endOf(customer, last.batch, order)) } : { items: out };
}

/**
 * Open batches of both queues merged in submission order, from `from` on. Each queue is read in
 * pages; the merged list stops where the first truncated queue stops, so no batch is skipped.
 */
async function openBatchesOf(customer: number, order: 'asc' | 'desc', from: string | undefined) {
  const PER_QUEUE = 50;
  const lists = await Promise.all(
    QUEUES.map(async (queue) => {
      const { gsi1pk } = keys.batchOpen(customer, queue, '', 0);
      const condition = from ? (order === 'asc' ? ' AND gsi1sk >= :from' : ' AND gsi1sk <= :from') : '';
      const result = await db().send(
        new QueryCommand({
          TableName: tableName(),
          IndexName: TABLE.indexes.gsi1.name,
          KeyConditionExpression: `gsi1pk = :p${condition}`,
          ExpressionAttributeValues: { ':p': gsi1pk, ...(from ? { ':from': from } : {}) },
          ScanIndexForward: order === 'asc',
          Limit: PER_QUEUE,
        }),
      );
      const batches = (result.Items ?? []).map((i) => ({ at: String(i['gsi1sk']), batch: batchIdFromKey(String(i['sk'])) }));
      return { batches, truncatedAt: result.LastEvaluatedKey ? batches[batches.length - 1]?.at : undefined };
    }),
  );
  const before = (a: string, b: string) => (order === 'asc' ? a <= b : a >= b);
  const limits = lists.flatMap((l) => (l.truncatedAt ? [l.truncatedAt] : []));
  const horizon = limits.length === 0 ? undefined : limits.reduce((a, b) => (before(a, b) ? a : b));
  const merged = lists
    .flatMap((l) => l.batches)
    .filter((b) => horizon === undefined || before(b.at, horizon))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return { batches: order === 'asc' ? merged : merged.reverse(), more: horizon !== undefined };
}

function decodeQueueCursor(cursor: string | undefined, customer: number): { at: string; member?: string } | undefined {
  if (cursor === undefined) return undefined;
  let names = ['c', 'at'];
  try {
    // Within a batch the token also carries the member cursor.
    if (typeof JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))?.m === 'string') names = ['c', 'at', 'm'];
  } catch {
    // not JSON: decodeCursor rejects it
  }
  const key = decodeCursor(cursor, { c: String(customer) }, names, { at: /^\d{4}-\d\d-\d\dT[\d:.]+Z#\d{12}$/ }) as Item;
  return { at: String(key['at']), ...(typeof key['m'] === 'string' ? { member: key['m'] } : {}) };
}

/** A member cursor before every member of a batch, in the order read. */
function startOf(customer: number, batch: number, order: 'asc' | 'desc'): string {
  const { pk } = keys.member(customer, batch, 0);
  return order === 'asc' ? encodeCursor({ pk, sk: 'M#' }) : encodeCursor({ pk, sk: 'M#999999~' });
}

/** A member cursor after every member of a batch, in the order read. */
function endOf(customer: number, batch: number, order: 'asc' | 'desc'): string {
  const { pk } = keys.member(customer, batch, 0);
  return encodeCursor({ pk, sk: order === 'asc' ? 'M#999999~' : 'M#' });
}

export const dynamoReads = {
  getCustomer,
  listCustomers,
  getBatch,
  getBatches,
  getMembers,
  listBatches,
  listActiveBatches,
  listRecentBatches,
  listMembers,
  listQueuedMembers,
  memberRefsOfAsset,
  memberRefsOfBatch,
} satisfies QueueReader;
