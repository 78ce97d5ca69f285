/**
 * Reads: a customer's counters, batches (all, active, recent), the members of a batch, the
 * customer's queue in submission order, and an asset's current member. Counters are summed from a
 * head and a fixed number of shards; collections read one page of an index or partition plus the
 * page's items, and a page ends at its item count or its byte budget, whichever comes first.
 * A page is never cut short for want of reads: a filtered listing reads on until the page is full
 * or nothing matching is left (errorImages from a sparse index that holds only error members; the
 * others bounded as each function says). A page number (`skip`) costs reading what precedes it.
 */
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../config/resources';
import type { BatchRecord, CustomerCounters, MemberRecord, MemberState } from '../../domain/model';
import type { MemberRef, Page, PageBudget, PageRequest, QueueReader } from '../../domain/ports';
import { recentMemberRefs } from './asset-digests';
import { decodeCursor, encodeCursor, toMember, withNext } from './codec';
import { batchShards, batchView, batchViews, customerViews, QUEUE_NAMES, readCustomer, shardsToShow } from './counters';
import { BATCH_SK, batchIdFromKey, customerOf, errorIndexPartition, keys, MEMBER_PARTITIONS, MEMBER_SK, memberIndexFromKey } from './keys';
import { memberRefsOfBatch } from './submit-writes';
import { memberRefsOfAsset } from './supersession';
import { db, getItems, type Item, pick, queryAll, tableName } from './table';
import { getMembers } from './transitions';

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
  const [[head], shards] = await Promise.all([
    getItems([keys.batch(customer, batch)], consistent),
    batchShards(customer, batch, consistent),
  ]);
  return head ? batchView(head, await shardsToShow(head, shards)) : undefined;
}

export async function listBatches(customer: number, page: PageRequest<BatchRecord>): Promise<Page<BatchRecord>> {
  const { pk } = keys.customer(customer);
  const query = {
    TableName: tableName(),
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': pk, ':prefix': keys.batchPrefix },
    ScanIndexForward: false,
  };
  let start = decodeCursor(page.cursor, { pk }, ['pk', 'sk'], { sk: BATCH_SK });
  if (page.skip) {
    // A page number: pass over the batches before it reading their keys only.
    const skipped = await skipKeys({ ...query, ProjectionExpression: 'pk, sk' }, start, page.skip, ['pk', 'sk']);
    if (skipped.exhausted) return { items: [] };
    start = skipped.start;
  }
  const result = await db().send(
    new QueryCommand({
      ...query,
      // One more than the page: a next link only when there is a next item.
      Limit: page.limit + 1,
      ExclusiveStartKey: start,
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

/**
 * Passes over `count` items of a query from `start`, reading keys only (up to 1,000 a request),
 * and returns the key to resume after; `exhausted` when fewer than `count` + 1 items were left,
 * so the page would be empty.
 */
async function skipKeys(
  query: QueryCommandInput,
  start: Item | undefined,
  count: number,
  names: readonly string[],
): Promise<{ start?: Item; exhausted: boolean }> {
  let key = start;
  let left = count;
  while (left > 0) {
    const result = await db().send(new QueryCommand({ ...query, Limit: Math.min(left, 1_000), ExclusiveStartKey: key }));
    const items = result.Items ?? [];
    left -= items.length;
    if (items.length > 0) key = pick(items[items.length - 1] as Item, names);
    if (!result.LastEvaluatedKey) return { ...(key ? { start: key } : {}), exhausted: true };
  }
  return { ...(key ? { start: key } : {}), exhausted: false };
}

export async function listActiveBatches(customer: number, page: PageRequest<BatchRecord>): Promise<Page<BatchRecord>> {
  const { gsi2pk } = keys.batchActive(customer, 0);
  return batchesFromIndex(TABLE.indexes.gsi2.name, 'gsi2pk', 'gsi2sk', gsi2pk, page, undefined);
}

/**
 * Finished batches that are not superseded, newest first. The finished index also holds superseded
 * batches, which are passed over: a page reads on until it is full, so its reads are bounded by the
 * superseded batches finished between its first and last batch (each costs its head and one shard
 * Query), not by a fixed budget that could leave the page empty while recent batches remain.
 */
export async function listRecentBatches(customer: number, page: PageRequest<BatchRecord>): Promise<Page<BatchRecord>> {
  const { gsi1pk } = keys.batchFinished(customer, '', 0);
  return batchesFromIndex(TABLE.indexes.gsi1.name, 'gsi1pk', 'gsi1sk', gsi1pk, page, (b) => b.current > 0);
}

/**
 * Pages a KEYS_ONLY batch index newest first, fetching the batches and keeping those that pass
 * `keep` (every one when undefined). Reads on until the page is full or the index ends.
 */
async function batchesFromIndex(
  indexName: string,
  pkName: string,
  skName: string,
  partition: string,
  page: PageRequest<BatchRecord>,
  keep: ((batch: BatchRecord) => boolean) | undefined,
): Promise<Page<BatchRecord>> {
  const cursorNames = [pkName, skName, 'pk', 'sk'];
  const bytes = new ByteBudget(page.budget);
  const query = {
    TableName: tableName(),
    IndexName: indexName,
    KeyConditionExpression: `${pkName} = :p`,
    ExpressionAttributeValues: { ':p': partition },
    ScanIndexForward: false,
  };
  let start = decodeCursor(page.cursor, { [pkName]: partition, pk: `CUST#${customerOf(partition)}` }, cursorNames, { sk: BATCH_SK });
  let skip = page.skip ?? 0;
  if (skip > 0 && !keep) {
    // Every indexed batch is listed: a page number passes over index keys only.
    const skipped = await skipKeys(query, start, skip, cursorNames);
    if (skipped.exhausted) return { items: [] };
    start = skipped.start;
    skip = 0;
  }
  const out: BatchRecord[] = [];
  let last: Item | undefined;
  for (;;) {
    const result = await db().send(
      new QueryCommand({
        ...query,
        // Enough for the page (and what it skips) if every batch read is kept, at most DynamoDB's 1 MB.
        Limit: Math.min(skip + page.limit - out.length + 1, 1_000),
        ExclusiveStartKey: start,
      }),
    );
    const refs = result.Items ?? [];
    const heads = await getItems(refs.map((r) => pick(r, ['pk', 'sk'])));
    const views = await batchViews(heads);
    const batches = new Map(heads.map((h, i) => [String(h.sk), views[i] as BatchRecord]));
    for (const ref of refs) {
      const batch = batches.get(String(ref.sk));
      if (!batch || (keep && !keep(batch)) || skip > 0) {
        if (batch && (!keep || keep(batch))) skip -= 1;
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
}

export async function listMembers(
  customer: number,
  batch: number,
  state: MemberState | 'any',
  page: PageRequest<MemberRecord>,
): Promise<Page<MemberRecord>> {
  const skip = { left: page.skip ?? 0 };
  return membersOfBatch(
    customer,
    batch,
    state === 'any' ? undefined : [state],
    'asc',
    page,
    page.cursor,
    new ByteBudget(page.budget),
    skip,
  );
}

/** The namespace of a batch's member cursors (the cursor names no partition: it is an index). */
const memberCursorPk = (customer: number, batch: number) => {
  const { pk, sk } = keys.batch(customer, batch);
  return `${pk}#${sk}`;
};

/** A member sort key (`keys.member`) from its index. */
const memberSk = (index: number) => `M#${String(index).padStart(6, '0')}`;

/** Items a filtered Query evaluates at most per request (DynamoDB stops at 1 MB anyway). */
const MAX_QUERY_LIMIT = 1_000;

interface Lane {
  pk: string;
  buffer: Item[];
  start?: Item;
  done: boolean;
  /** Items the next Query of this lane evaluates: grows while a filter passes over members. */
  limit: number;
}

/**
 * Members of one batch in index order, optionally filtered by state, up to `page.limit` and as
 * many as `bytes` admits, after passing over `skip.left` matching members (decremented, so a queue
 * listing can share it across batches). The batch's member partitions (`keys.member`) are read in
 * parallel and merged; a cursor is the sort key of the last member returned and every partition
 * resumes after it.
 *
 * Reads go on until the page is full or the partitions end, never giving up with an empty page:
 * - `error`: from the sparse error index (keys.ts memberErrorIndex), which holds only error
 *   members, then their items: reads are bounded by the page;
 * - `completed`, or `waiting`/`running` (the queue): a filter over the members, each Query
 *   evaluating twice as many as the last (up to 1,000), so reads are bounded by the batch's
 *   members past the cursor (at most MAX_BATCH_SIZE, 10,000 by default: about 10 MB, in a dozen
 *   rounds of parallel Queries). Completed members are the dense case (most members complete);
 *   unfinished members of an open batch are its tail, as messages are sent in member order;
 * - every member: no filter; a page number starts at its first member with nothing read, as
 *   members are numbered 0…count-1.
 */
async function membersOfBatch(
  customer: number,
  batch: number,
  states: MemberState[] | undefined,
  order: 'asc' | 'desc',
  page: PageRequest,
  cursor: string | undefined,
  bytes: ByteBudget<MemberRecord>,
  skip: { left: number } = { left: 0 },
): Promise<Page<MemberRecord>> {
  const cursorPk = memberCursorPk(customer, batch);
  const from = decodeCursor(cursor, { pk: cursorPk }, ['pk', 'sk'], { sk: MEMBER_SK });
  let after = from ? String(from.sk) : undefined;
  if (!states && order === 'asc' && skip.left > 0) {
    const numbered = after !== undefined ? /^M#(\d{6})$/.exec(after) : null;
    const first = (numbered ? Number(numbered[1]) + 1 : 0) + skip.left;
    after = memberSk(first - 1);
    skip.left = 0;
  }
  const errorsOnly = states?.length === 1 && states[0] === 'error';
  const perQuery = Math.ceil((page.limit + 1) / MEMBER_PARTITIONS) + 1;
  const lanes: Lane[] = Array.from({ length: MEMBER_PARTITIONS }, (_, k) => {
    const partition = keys.memberPartition(customer, batch, k);
    return { pk: errorsOnly ? errorIndexPartition(partition) : partition, buffer: [], done: false, limit: perQuery };
  });
  const filtered = states !== undefined && !errorsOnly;
  const filter = filtered
    ? { FilterExpression: `#state IN (${states.map((_, i) => `:s${i}`).join(', ')})`, ExpressionAttributeNames: { '#state': 'state' } }
    : {};
  const [pkName, skName] = errorsOnly ? ['gsi2pk', 'gsi2sk'] : ['pk', 'sk'];
  const fetch = async (lane: Lane) => {
    const result = await db().send(
      new QueryCommand({
        TableName: tableName(),
        ...(errorsOnly ? { IndexName: TABLE.indexes.gsi2.name } : {}),
        KeyConditionExpression: after ? `${pkName} = :pk AND ${skName} ${order === 'asc' ? '>' : '<'} :after` : `${pkName} = :pk`,
        ...filter,
        ExpressionAttributeValues: {
          ':pk': lane.pk,
          ...(after ? { ':after': after } : {}),
          ...(filtered ? Object.fromEntries(states.map((st, i) => [`:s${i}`, st])) : {}),
        },
        ScanIndexForward: order === 'asc',
        Limit: lane.limit,
        ExclusiveStartKey: lane.start,
      }),
    );
    const found = result.Items ?? [];
    // The error index is KEYS_ONLY: the members themselves, in the index's order.
    lane.buffer.push(...(errorsOnly && found.length > 0 ? await getItems(found.map((i) => pick(i, ['pk', 'sk']))) : found));
    lane.start = result.LastEvaluatedKey;
    lane.done = !result.LastEvaluatedKey;
    if (filtered) lane.limit = Math.min(lane.limit * 2, MAX_QUERY_LIMIT);
  };
  const sooner = (a: string, b: string) => (order === 'asc' ? a < b : a > b);
  const skOf = (item: Item) => String(item.sk);
  // The sort key of the last member passed (taken or skipped): the next page resumes after it. If
  // none was (a queue page already full of earlier batches), where this one started.
  let position = after;
  const resume = () => ({ pk: cursorPk, sk: position ?? (order === 'asc' ? 'M#' : 'M#999999~') });
  const out: Item[] = [];
  for (;;) {
    const empty = lanes.filter((l) => l.buffer.length === 0 && !l.done);
    if (empty.length > 0) {
      await Promise.all(empty.map(fetch));
      continue;
    }
    const ready = lanes.filter((l) => l.buffer.length > 0);
    if (ready.length === 0) return withNext(out.map(toMember), undefined);
    const lane = ready.reduce((a, b) => (sooner(skOf(b.buffer[0] as Item), skOf(a.buffer[0] as Item)) ? b : a));
    const item = lane.buffer[0] as Item;
    if (skip.left > 0) {
      lane.buffer.shift();
      skip.left -= 1;
      position = skOf(item);
      continue;
    }
    // The page is full (by count or bytes) and another member follows: the next page starts
    // after the last one taken.
    if (out.length === page.limit || !bytes.admit(toMember(item))) return withNext(out.map(toMember), resume());
    out.push(lane.buffer.shift() as Item);
    position = skOf(item);
  }
}

export async function listQueuedMembers(
  customer: number,
  order: 'asc' | 'desc',
  page: PageRequest<MemberRecord>,
): Promise<Page<MemberRecord>> {
  // Queue order is submission order across both queues: walk the open batches (an index that
  // holds only unfinished batches) and take their waiting or running members. Every open batch
  // has one at least, so a page walks at most about pageSize batches (plus those a page number
  // passes over), each read as membersOfBatch says.
  const cursor = decodeQueueCursor(page.cursor, customer);
  const out: MemberRecord[] = [];
  // One budget for the whole page, whichever batches its members come from; one count of the
  // members a page number passes over, across the batches they belong to.
  const bytes = new ByteBudget(page.budget);
  const skip = { left: page.skip ?? 0 };
  const token = (at: string, member: string) => encodeCursor({ c: String(customer), at, m: member });
  let from = cursor?.at;
  let fromMember = cursor?.member;
  for (;;) {
    const { batches: openBatches, more } = await openBatchesOf(customer, order, from);
    for (const [i, open] of openBatches.entries()) {
      const memberCursor = open.at === from ? fromMember : undefined;
      const pageOfBatch = await membersOfBatch(
        customer,
        open.batch,
        ['waiting', 'running'],
        order,
        { limit: page.limit - out.length },
        memberCursor,
        bytes,
        skip,
      );
      out.push(...pageOfBatch.items);
      // More of this batch to read (the page filled by count or bytes): resume here.
      if (pageOfBatch.next) return { items: out, next: token(open.at, pageOfBatch.next) };
      if (out.length >= page.limit) {
        const following = openBatches[i + 1];
        if (following) return { items: out, next: token(following.at, startOf(customer, following.batch, order)) };
        return more ? { items: out, next: token(open.at, endOf(customer, open.batch, order)) } : { items: out };
      }
    }
    // The page is not full and more open batches follow: read on from after the last one.
    const last = openBatches[openBatches.length - 1];
    if (!more || !last) return { items: out };
    from = last.at;
    fromMember = endOf(customer, last.batch, order);
  }
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
      const batches = (result.Items ?? []).map((i) => ({ at: String(i.gsi1sk), batch: batchIdFromKey(String(i.sk)) }));
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
  return { at: String(key.at), ...(typeof key.m === 'string' ? { member: key.m } : {}) };
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
  const fromIndex = (i: Item): MemberRef => ({
    customer,
    batch: batchIdFromKey(String(i.pk)),
    index: memberIndexFromKey(String(i.sk)),
  });
  const [newest, [head]] = await Promise.all([
    db().send(new QueryCommand({ TableName: tableName(), ...index, Limit: ASSET_CANDIDATES })),
    getItems([keys.customer(customer)], true),
  ]);
  const indexed = (newest.Items ?? []).map(fromIndex);
  const newestIndexed = Math.max(0, ...indexed.map((r) => r.batch));
  const recent = await recentMemberRefs(customer, space, id, newestIndexed, Number(head?.batchSeq ?? 0));
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
