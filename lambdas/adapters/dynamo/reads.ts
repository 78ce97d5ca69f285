/**
 * Reads: a customer's counters, batches (all, active, recent), the members of a batch, the
 * customer's queue in submission order, and an asset's current member. Counters are summed from a
 * head and a fixed number of shards; collections read one page of an index or partition plus the
 * page's items, and a page ends at its item count or its byte budget, whichever comes first.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../config/resources';
import {
  batchIdFromKey,
  keys,
  MEMBER_PARTITIONS,
  memberIndexFromKey,
  type BatchRecord,
  type CustomerCounters,
  type MemberRecord,
  type MemberState,
} from '../../domain/model';
import type { MemberRef, Page, PageBudget, PageRequest, QueueReader } from '../../domain/ports';
import { BATCH_SK, customerOf, decodeCursor, encodeCursor, MEMBER_SK, toMember, withNext } from './codec';
import { batchShards, batchView, batchViews, customerViews, QUEUE_NAMES, readCustomer } from './counters';
import { recentMemberRefs } from './asset-digests';
import { memberRefsOfBatch } from './submit-writes';
import { memberRefsOfAsset } from './supersession';
import { getMembers } from './transitions';
import { db, getItems, pick, queryAll, tableName, type Item } from './table';

/**
 * Counts a page's items against its byte budget (`PageRequest.budget`). The first item of a page
 * always fits, so a page never comes back empty with a cursor pointing where it started; one
 * instance follows a whole page, across the batches a queue listing walks through.
 */
export class ByteBudget<T> {
  private used = 0;
  private taken = 0;

  constructor(private readonly budget: PageBudget<T> | undefined) {}

  /** Whether `item` still fits; if so it is counted as taken. */
  admit(item: T): boolean {
    if (!this.budget) return true;
    const size = this.budget.sizeOf(item);
    if (this.taken > 0 && this.used + size > this.budget.bytes) return false;
    this.used += size;
    this.taken += 1;
    return true;
  }
}

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

export async function listBatches(customer: number, page: PageRequest<BatchRecord>): Promise<Page<BatchRecord>> {
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
  const views = await batchViews(items);
  const bytes = new ByteBudget(page.budget);
  const fitting = views.findIndex((view) => !bytes.admit(view));
  // Cut short by bytes: the next page starts at the first batch left out.
  if (fitting > 0) return withNext(views.slice(0, fitting), pick(items[fitting - 1] as Item, ['pk', 'sk']));
  const more = (result.Items ?? []).length > page.limit;
  return withNext(views, more ? pick(items[items.length - 1] as Item, ['pk', 'sk']) : undefined);
}

export async function listActiveBatches(customer: number, page: PageRequest<BatchRecord>): Promise<Page<BatchRecord>> {
  const { gsi2pk } = keys.batchActive(customer, 0);
  return batchesFromIndex(TABLE.indexes.gsi2.name, 'gsi2pk', 'gsi2sk', gsi2pk, page, () => true);
}

export async function listRecentBatches(customer: number, page: PageRequest<BatchRecord>): Promise<Page<BatchRecord>> {
  const { gsi1pk } = keys.batchFinished(customer, '', 0);
  return batchesFromIndex(TABLE.indexes.gsi1.name, 'gsi1pk', 'gsi1sk', gsi1pk, page, (b) => b.current > 0);
}

/** Pages a KEYS_ONLY batch index newest first, fetching the batches and keeping those that pass. */
async function batchesFromIndex(
  indexName: string,
  pkName: string,
  skName: string,
  partition: string,
  page: PageRequest<BatchRecord>,
  keep: (batch: BatchRecord) => boolean,
): Promise<Page<BatchRecord>> {
  const cursorNames = [pkName, skName, 'pk', 'sk'];
  const bytes = new ByteBudget(page.budget);
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
      // The page is full (by count or bytes) and another batch follows: the next page starts
      // after the last one taken.
      if (out.length === page.limit || !bytes.admit(batch)) return withNext(out, last);
      out.push(batch);
      last = pick(ref, cursorNames);
    }
    if (!result.LastEvaluatedKey) return withNext(out, undefined);
    start = result.LastEvaluatedKey;
  }
  return withNext(out, last);
}

export async function listMembers(
  customer: number,
  batch: number,
  state: MemberState | 'any',
  page: PageRequest<MemberRecord>,
): Promise<Page<MemberRecord>> {
  return membersOfBatch(customer, batch, state === 'any' ? undefined : [state], 'asc', page, page.cursor, new ByteBudget(page.budget));
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
 * Members of one batch in index order, optionally filtered by state, up to `page.limit` and as
 * many as `bytes` admits: the batch's member partitions (`keys.member`) are read in parallel, a
 * few items at a time each, and merged. A cursor is the sort key of the last member returned;
 * every partition resumes after it.
 */
async function membersOfBatch(
  customer: number,
  batch: number,
  states: MemberState[] | undefined,
  order: 'asc' | 'desc',
  page: PageRequest,
  cursor: string | undefined,
  bytes: ByteBudget<MemberRecord>,
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
  // Where the next page resumes when this one ends on bytes: after the last member taken or, if
  // none of this batch fitted (a queue page already full of earlier batches), where it started.
  const resumeAfter = (taken: readonly Item[]) =>
    taken.length > 0 ? skOf(taken[taken.length - 1] as Item) : (after ?? (order === 'asc' ? 'M#' : 'M#999999~'));
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
    // The page is full (by count or bytes) and another member follows: the next page starts
    // after the last one taken.
    const lane = ready.reduce((a, b) => (sooner(skOf(b.buffer[0] as Item), skOf(a.buffer[0] as Item)) ? b : a));
    if (out.length === page.limit || !bytes.admit(toMember(lane.buffer[0] as Item))) {
      return withNext(out.map(toMember), { pk: cursorPk, sk: resumeAfter(out) });
    }
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
  let full = false;
  for (const item of seen) {
    full = out.length === page.limit || !bytes.admit(toMember(item));
    if (full) break;
    out.push(item);
  }
  const resumeAt = full || out.length === page.limit ? resumeAfter(out) : frontier;
  return withNext(out.map(toMember), { pk: cursorPk, sk: resumeAt });
}

export async function listQueuedMembers(customer: number, order: 'asc' | 'desc', page: PageRequest<MemberRecord>): Promise<Page<MemberRecord>> {
  // Queue order is submission order across both queues: walk the open batches (an index that
  // holds only unfinished batches) and take their waiting or running members.
  const cursor = decodeQueueCursor(page.cursor, customer);
  const { batches: openBatches, more } = await openBatchesOf(customer, order, cursor?.at);
  const out: MemberRecord[] = [];
  // One budget for the whole page, whichever batches its members come from.
  const bytes = new ByteBudget(page.budget);
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
      bytes,
    );
    out.push(...pageOfBatch.items);
    // More of this batch to read (the page filled by count or bytes, or the reads for one page
    // ran out): resume here.
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

/** Index entries read before looking further. */
const ASSET_CANDIDATES = 2;

/**
 * The member of an asset's newest batch. The asset index (GSI4) is eventually consistent: right
 * after a submit it may miss the new member, or show only the previous batch's. So the batches
 * above the newest one it shows, up to the customer's latest batch id (read consistently from its
 * head item), are looked up in their asset digests (asset-digests.ts, written with the members):
 * together the newest batch of either source is the current one. A candidate whose member is
 * missing (a submit that died between digest and member, a batch shrunk by the sweeper) is passed
 * over. Cost: one index Query, one GetItem, one BatchGetItem of small items, and usually one
 * consistent read of the member.
 */
export async function currentMember(customer: number, space: number, id: string): Promise<MemberRecord | undefined> {
  const index = {
    IndexName: TABLE.indexes.gsi4.name,
    KeyConditionExpression: 'gsi4pk = :p',
    ExpressionAttributeValues: { ':p': keys.memberAsset(customer, space, id, 0).gsi4pk },
    ScanIndexForward: false,
  };
  const fromIndex = (i: Item): MemberRef => ({ customer, batch: batchIdFromKey(String(i['pk'])), index: memberIndexFromKey(String(i['sk'])) });
  const [newest, [head]] = await Promise.all([
    db().send(new QueryCommand({ TableName: tableName(), ...index, Limit: ASSET_CANDIDATES })),
    getItems([keys.customer(customer)], true),
  ]);
  const indexed = (newest.Items ?? []).map(fromIndex);
  const newestIndexed = Math.max(0, ...indexed.map((r) => r.batch));
  const recent = await recentMemberRefs(customer, space, id, newestIndexed, Number(head?.['batchSeq'] ?? 0));
  const found = await newestMemberOf([...recent, ...indexed]);
  // Index entries not read are older than those read: the answer stands if it is at least as new.
  if (!newest.LastEvaluatedKey || (found !== undefined && found.batch >= Math.min(...indexed.map((r) => r.batch)))) return found;
  return newestMemberOf([...recent, ...(await queryAll(index)).map(fromIndex)]);
}

/** The existing member of the newest batch among `refs` (consistent reads: it may be seconds old). */
async function newestMemberOf(refs: readonly MemberRef[]): Promise<MemberRecord | undefined> {
  // One member per batch: an asset appears at most once in a batch.
  const newestFirst = [...new Map(refs.map((r) => [r.batch, r])).values()].sort((a, b) => b.batch - a.batch);
  // The newest candidate is almost always there: read it alone, then the rest if it is not.
  for (const group of [newestFirst.slice(0, 1), newestFirst.slice(1)]) {
    if (group.length === 0) continue;
    const members = await getMembers(group, true);
    if (members.length > 0) return members.reduce((a, b) => (b.batch > a.batch ? b : a));
  }
  return undefined;
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
  currentMember,
} satisfies QueueReader;
