/**
 * Reads: a customer's counters, batches (all, active, recent), the members of a batch and the
 * customer's queue in submission order. Counters are summed from a head and a fixed number of
 * shards; collections read one page of an index or partition plus the page's items.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../config/resources';
import { batchIdFromKey, keys, MEMBER_PARTITIONS, type BatchRecord, type CustomerCounters, type MemberRecord, type MemberState } from '../../domain/model';
import type { Page, PageRequest, QueueReader } from '../../domain/ports';
import { BATCH_SK, customerOf, decodeCursor, encodeCursor, MEMBER_SK, toMember, withNext } from './codec';
import { batchShards, batchView, batchViews, customerViews, QUEUE_NAMES, readCustomer } from './counters';
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
  const [[head], shards] = await Promise.all([getItems([keys.batch(customer, batch)], consistent), batchShards(customer, batch, consistent)]);
  return head ? batchView(head, shards) : undefined;
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
  return membersOfBatch(customer, batch, state === 'any' ? undefined : [state], 'asc', page, page.cursor);
}

/** The namespace of a batch's member cursors (the cursor names no partition: it is an index). */
const memberCursorPk = (customer: number, batch: number) => {
  const { pk, sk } = keys.batch(customer, batch);
  return `${pk}#${sk}`;
};

/** Queries per partition for one page before a filtered listing hands back a cursor. */
const QUERIES_PER_PARTITION = 10;

interface Lane {
  pk: string;
  buffer: Item[];
  start?: Item;
  done: boolean;
}

/**
 * Members of one batch in index order, optionally filtered by state, up to `page.limit`: the
 * batch's member partitions (`keys.member`) are read in parallel, a few items at a time each, and
 * merged. A cursor is the sort key of the last member returned; every partition resumes after it.
 */
async function membersOfBatch(
  customer: number,
  batch: number,
  states: MemberState[] | undefined,
  order: 'asc' | 'desc',
  page: PageRequest,
  cursor: string | undefined,
): Promise<Page<MemberRecord>> {
  const cursorPk = memberCursorPk(customer, batch);
  const from = decodeCursor(cursor, { pk: cursorPk }, ['pk', 'sk'], { sk: MEMBER_SK });
  const after = from ? String(from['sk']) : undefined;
  const perQuery = Math.ceil((page.limit + 1) / MEMBER_PARTITIONS) + 1;
  const lanes: Lane[] = Array.from({ length: MEMBER_PARTITIONS }, (_, k) => ({ pk: keys.memberPartition(customer, batch, k), buffer: [], done: false }));
  const filter = states
    ? { FilterExpression: `#state IN (${states.map((_, i) => `:s${i}`).join(', ')})`, ExpressionAttributeNames: { '#state': 'state' } }
    : {};
  let queries = 0;
  const fetch = async (lane: Lane) => {
    queries += 1;
    const result = await db().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: after ? `pk = :pk AND sk ${order === 'asc' ? '>' : '<'} :after` : 'pk = :pk',
        ...filter,
        ExpressionAttributeValues: {
          ':pk': lane.pk,
          ...(after ? { ':after': after } : {}),
          ...Object.fromEntries((states ?? []).map((st, i) => [`:s${i}`, st])),
        },
        ScanIndexForward: order === 'asc',
        Limit: perQuery,
        ExclusiveStartKey: lane.start,
      }),
    );
    lane.buffer.push(...(result.Items ?? []));
    lane.start = result.LastEvaluatedKey;
    lane.done = !result.LastEvaluatedKey;
  };
  const sooner = (a: string, b: string) => (order === 'asc' ? a < b : a > b);
  const skOf = (item: Item) => String(item['sk']);
  const out: Item[] = [];
  for (;;) {
    const empty = lanes.filter((l) => l.buffer.length === 0 && !l.done);
    if (empty.length > 0) {
      if (queries + empty.length > MEMBER_PARTITIONS * QUERIES_PER_PARTITION) break;
      await Promise.all(empty.map(fetch));
      continue;
    }
    const ready = lanes.filter((l) => l.buffer.length > 0);
    if (ready.length === 0) return withNext(out.map(toMember), undefined);
    // The page is full and another member follows: the next page starts after the last one taken.
    if (out.length === page.limit) return withNext(out.map(toMember), { pk: cursorPk, sk: skOf(out[out.length - 1] as Item) });
    const lane = ready.reduce((a, b) => (sooner(skOf(b.buffer[0] as Item), skOf(a.buffer[0] as Item)) ? b : a));
    out.push(lane.buffer.shift() as Item);
  }
  // The read budget ran out (a filtered listing skipping many members). Every member up to the
  // soonest point a partition stopped reading at has been seen: take those, then resume there.
  const frontier = lanes
    .filter((l) => !l.done && l.start)
    .map((l) => skOf(l.start as Item))
    .reduce((a, b) => (sooner(a, b) ? a : b));
  const seen = lanes.flatMap((l) => l.buffer).filter((i) => !sooner(frontier, skOf(i)));
  seen.sort((a, b) => (sooner(skOf(a), skOf(b)) ? -1 : 1));
  for (const item of seen) {
    if (out.length === page.limit) break;
    out.push(item);
  }
  const resumeAt = out.length === page.limit ? skOf(out[out.length - 1] as Item) : frontier;
  return withNext(out.map(toMember), { pk: cursorPk, sk: resumeAt });
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
    const pageOfBatch = await membersOfBatch(
      customer,
      open.batch,
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
    QUEUE_NAMES.map(async (queue) => {
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
  return encodeCursor({ pk: memberCursorPk(customer, batch), sk: order === 'asc' ? 'M#' : 'M#999999~' });
}

/** A member cursor after every member of a batch, in the order read. */
function endOf(customer: number, batch: number, order: 'asc' | 'desc'): string {
  return encodeCursor({ pk: memberCursorPk(customer, batch), sk: order === 'asc' ? 'M#999999~' : 'M#' });
}

export const dynamoReads = {
  getCustomer,
  listCustomers,
  getBatch,
  getMembers,
  listBatches,
  listActiveBatches,
  listRecentBatches,
  listMembers,
  listQueuedMembers,
  memberRefsOfAsset,
  memberRefsOfBatch,
} satisfies QueueReader;
