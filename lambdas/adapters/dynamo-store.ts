/**
 * The QueueStore port on one DynamoDB table (key scheme in domain/model.ts). Every change of member
 * state runs in a transaction together with the counter deltas it implies, with conditions on the
 * member's previous state, so a redelivered or duplicated message can never count twice.
 */
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { QueueName } from '../config/resources';
import { TABLE } from '../config/resources';
import { settings } from '../config/settings';
import { HttpError } from '../http/problem';
import { batchRef, deltasFor, isAllowed, isTerminal, type Transition } from '../domain/accounting';
import {
  batchIdFromKey,
  emptyCounters,
  keys,
  memberIndexFromKey,
  queueSize,
  type BatchRecord,
  type CustomerCounters,
  type MemberRecord,
  type MemberState,
} from '../domain/model';
import type { CreateBatchResult, MemberRef, NewBatch, Page, PageRequest, QueueStore, TransitionResult } from '../domain/ports';
import { dynamoDocument } from './aws-clients';
import { backoffMs, chunk, inParallel, sleep } from '../domain/async';
import { putAll, transact, transactRetryingConflicts } from './dynamo-retry';

type Item = Record<string, unknown>;
const QUEUES: QueueName[] = ['main', 'priority'];
const cap = (q: QueueName) => (q === 'main' ? 'Main' : 'Priority');
const now = () => new Date().toISOString();
/** Members per grouped transaction: leaves room for a batch and a customer action per member. */
const MEMBERS_PER_TRANSACTION = 32;

// ---------------------------------------------------------------------------------------------
// Item <-> record mapping

const KEY_ATTRIBUTES = new Set(['pk', 'sk', 'type', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk', 'gsi4pk', 'gsi4sk', 'expiresAt']);

function stripKeys<T>(item: Item): T {
  return Object.fromEntries(Object.entries(item).filter(([k]) => !KEY_ATTRIBUTES.has(k))) as T;
}

export function toCounters(item: Item | undefined, customer: number): CustomerCounters {
  const c = emptyCounters(customer);
  if (!item) return c;
  const n = (name: string) => Number(item[name] ?? 0);
  return {
    customer,
    batchSeq: n('batchSeq'),
    size: n('size'),
    batchCount: n('batchCount'),
    batchesWaiting: n('batchesWaiting'),
    waiting: { main: n('waitingMain'), priority: n('waitingPriority') },
    running: { main: n('runningMain'), priority: n('runningPriority') },
    pending: { main: n('pendingMain'), priority: n('pendingPriority') },
  };
}

const toBatch = (item: Item): BatchRecord => stripKeys<BatchRecord>(item);
const toMember = (item: Item): MemberRecord => stripKeys<MemberRecord>(item);

export function memberItem(member: MemberRecord): Item {
  return {
    ...keys.member(member.customer, member.batch, member.index),
    ...keys.memberAsset(member.customer, member.space, member.id, member.batch),
    type: 'member',
    ...member,
  };
}

// ---------------------------------------------------------------------------------------------
// Cursors: the key of the last item returned, opaque to clients, checked to stay in its partition.

function encodeCursor(key: Item): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * Decodes a page token. It must hold exactly the key attributes this collection issues (`names`),
 * with the expected partition values and sort keys of the expected shape; anything else is a
 * client mistake (400), never a key DynamoDB would reject.
 */
function decodeCursor(
  cursor: string | undefined,
  expected: Record<string, string>,
  names: readonly string[] = Object.keys(expected),
  shapes: Record<string, RegExp> = {},
): Item | undefined {
  if (cursor === undefined) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const valid =
    typeof key === 'object' &&
    key !== null &&
    !Array.isArray(key) &&
    Object.keys(key).length === names.length &&
    names.every((n) => typeof (key as Item)[n] === 'string' && ((key as Item)[n] as string).length <= 512) &&
    Object.entries(expected).every(([name, value]) => (key as Item)[name] === value) &&
    Object.entries(shapes).every(([name, shape]) => shape.test((key as Item)[name] as string));
  if (!valid) throw new HttpError(400, "The 'page' token is not one this API issued for this collection.");
  return key as Item;
}

const BATCH_SK = /^BATCH#\d{12}$/;
const MEMBER_SK = /^M#(\d{6}~?)?$/;

function pick(item: Item, names: readonly string[]): Item {
  return Object.fromEntries(names.map((n) => [n, item[n]]));
}

// ---------------------------------------------------------------------------------------------

export class DynamoQueueStore implements QueueStore {
  // Looked up per call: the local runtime and tests may re-point the clients between runs.
  private get table() {
    return settings.tableName();
  }
  private get db() {
    return dynamoDocument();
  }

  async getCustomer(customer: number): Promise<CustomerCounters | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.customer(customer), ConsistentRead: true }));
    return Item ? toCounters(Item, customer) : undefined;
  }

  async listCustomers(): Promise<CustomerCounters[]> {
    const refs = await this.queryAll({
      IndexName: TABLE.indexes.gsi3.name,
      KeyConditionExpression: 'gsi3pk = :p',
      ExpressionAttributeValues: { ':p': 'CUSTOMERS' },
    });
    const items = await this.getItems(refs.map((r) => pick(r, ['pk', 'sk'])));
    return items.map((item) => toCounters(item, Number(item['customer'])));
  }

  async createBatch(input: NewBatch, maxQueueSize: number): Promise<CreateBatchResult> {
    const { customer, queue, count, submitted } = input;
    // A batch id is a per-customer sequence number, like DLCS's integer ids, allocated by an atomic
    // increment so concurrent submits never contend on a lock. The increment carries the admission
    // check: when the queue is full the condition fails and nothing at all is written.
    if (count > maxQueueSize) return { queueFull: { size: 0, limit: maxQueueSize } };
    let allocated: Item | undefined;
    try {
      ({ Attributes: allocated } = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.customer(customer),
          UpdateExpression: 'ADD batchSeq :one SET customer = :c, #type = :t, gsi3pk = :lp, gsi3sk = :ls',
          ConditionExpression: 'attribute_not_exists(#size) OR #size <= :limit',
          ExpressionAttributeNames: { '#type': 'type', '#size': 'size' },
          ExpressionAttributeValues: {
            ':one': 1,
            ':c': customer,
            ':t': 'customer',
            ':limit': maxQueueSize - count,
            ...prefixed(keys.customerList(customer), 'l'),
          },
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ));
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') {
        const size = Number((error as ConditionalCheckFailedException).Item?.['size']?.N ?? 0);
        return { queueFull: { size, limit: maxQueueSize } };
      }
      throw error;
    }
    const batch = Number(allocated?.['batchSeq']);
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
    const actions: NonNullable<Parameters<typeof transact>[0]['TransactItems']> = [
      {
        Update: {
          TableName: this.table,
          Key: keys.customer(customer),
          UpdateExpression: `ADD #size :n, waiting${Q} :n, pending${Q} :n, batchCount :one, batchesWaiting :one`,
          ExpressionAttributeNames: { '#size': 'size' },
          // Admission is enforced here too, so concurrent submits cannot overshoot the limit.
          ConditionExpression: 'attribute_not_exists(#size) OR #size <= :limit',
          ExpressionAttributeValues: { ':n': count, ':one': 1, ':limit': maxQueueSize - count },
        },
      },
      {
        Put: {
          TableName: this.table,
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
    ];
    if (input.idempotency) {
      actions.push({
        Put: {
          TableName: this.table,
          Item: {
            ...keys.idempotency(customer, input.idempotency.key),
            type: 'idempotency',
            batch,
            hash: input.idempotency.hash,
            expiresAt: Math.floor(Date.now() / 1000) + 24 * 3600,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    }
    const outcome = await transactRetryingConflicts({ TransactItems: actions });
    if (outcome.ok) return { created: record };
    if (outcome.conditionFailed.includes(2) && input.idempotency) {
      const existing = await this.findIdempotent(customer, input.idempotency.key);
      if (existing) return { idempotent: existing };
    }
    if (outcome.conditionFailed.includes(0)) {
      const latest = await this.getCustomer(customer);
      return { queueFull: { size: latest ? queueSize(latest) : 0, limit: maxQueueSize } };
    }
    throw new Error(`could not create batch ${customer}/${batch}: ${JSON.stringify(outcome)}`);
  }

  async findIdempotent(customer: number, key: string) {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.idempotency(customer, key), ConsistentRead: true }),
    );
    return Item ? { batch: Number(Item['batch']), hash: String(Item['hash']) } : undefined;
  }

  async putMembers(members: readonly MemberRecord[]): Promise<void> {
    await putAll(this.table, members.map(memberItem));
  }

  async putMembersIfAbsent(members: readonly MemberRecord[]): Promise<void> {
    await inParallel(members, 16, async (member) => {
      try {
        await this.db.send(
          new PutCommand({ TableName: this.table, Item: memberItem(member), ConditionExpression: 'attribute_not_exists(pk)' }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException')) throw error;
      }
    });
  }

  async markEnqueued(batch: BatchRecord, present: number): Promise<boolean> {
    const missing = batch.count - present;
    const Q = cap(batch.queue);
    const shrink = missing > 0 ? ', #count :shrink, remaining :shrink, waiting :shrink, #current :shrink' : '';
    const outcome = await transactRetryingConflicts({
      TransactItems: [
        {
          Update: {
            TableName: this.table,
            Key: keys.batch(batch.customer, batch.batch),
            UpdateExpression: `REMOVE enqueueing, gsi3pk, gsi3sk${missing > 0 ? ` ADD ${shrink.slice(2)}` : ''}`,
            ConditionExpression: 'attribute_exists(enqueueing)',
            ...(missing > 0
              ? { ExpressionAttributeNames: { '#count': 'count', '#current': 'current' }, ExpressionAttributeValues: { ':shrink': -missing } }
              : {}),
          },
        },
        {
          Update: {
            TableName: this.table,
            Key: keys.customer(batch.customer),
            // A batch left with no member at all can never be started, so it stops waiting here.
            UpdateExpression: `ADD pending${Q} :pending${missing > 0 ? `, #size :shrink, waiting${Q} :shrink` : ''}${
              present === 0 && !batch.started ? ', batchesWaiting :minusOne' : ''
            }`,
            ...(missing > 0 ? { ExpressionAttributeNames: { '#size': 'size' } } : {}),
            ExpressionAttributeValues: {
              ':pending': -batch.count,
              ...(missing > 0 ? { ':shrink': -missing } : {}),
              ...(present === 0 && !batch.started ? { ':minusOne': -1 } : {}),
            },
          },
        },
      ],
    });
    return outcome.ok;
  }

  async getBatch(customer: number, batch: number, consistent = false): Promise<BatchRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.batch(customer, batch), ConsistentRead: consistent }),
    );
    return Item ? toBatch(Item) : undefined;
  }

  async getBatches(refs: readonly { customer: number; batch: number }[]): Promise<BatchRecord[]> {
    const unique = [...new Map(refs.map((r) => [batchRef(r.customer, r.batch), r])).values()];
    const items = await this.getItems(unique.map((r) => keys.batch(r.customer, r.batch)), true);
    return items.map(toBatch);
  }

  async getMembers(refs: readonly MemberRef[], consistent = true): Promise<MemberRecord[]> {
    const items = await this.getItems(refs.map((r) => keys.member(r.customer, r.batch, r.index)), consistent);
    return items.map(toMember);
  }

  async startBatches(batches: readonly BatchRecord[]): Promise<void> {
    await Promise.all(
      batches
        .filter((b) => !b.started)
        .map((b) =>
          // The condition makes the start (and the batchesWaiting decrement) happen exactly once.
          transact({
            TransactItems: [
              {
                Update: {
                  TableName: this.table,
                  Key: keys.batch(b.customer, b.batch),
                  UpdateExpression: 'SET started = :now, gsi2pk = :ap, gsi2sk = :as',
                  ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(started)',
                  ExpressionAttributeValues: { ':now': now(), ...prefixed(keys.batchActive(b.customer, b.batch), 'a') },
                },
              },
              {
                Update: {
                  TableName: this.table,
                  Key: keys.customer(b.customer),
                  UpdateExpression: 'ADD batchesWaiting :minus',
                  ExpressionAttributeValues: { ':minus': -1 },
                },
              },
            ],
          }),
        ),
    );
  }

  async applyTransitions(transitions: readonly Transition[]): Promise<TransitionResult> {
    const applied: Transition[] = [];
    const skipped: MemberRecord[] = [];
    let pending = [...transitions];
    let groupSize = MEMBERS_PER_TRANSACTION;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= 12) throw new Error(`could not apply ${pending.length} transitions after ${attempt} attempts`);
      if (attempt > 0) await sleep(backoffMs(attempt));
      const batches = new Map(
        (await this.getBatches(pending.map((t) => t.member))).map((b) => [batchRef(b.customer, b.batch), b]),
      );
      const retry: Transition[] = [];
      for (const group of chunk(pending, groupSize)) {
        const outcome = await transact({ TransactItems: this.transitionActions(group, batches) });
        if (outcome.ok) applied.push(...group);
        else retry.push(...group);
      }
      if (retry.length === 0) break;
      // Something changed under us (another delivery of the same message, a concurrent start):
      // re-read the members and go on one member per transaction, so one stale member cannot
      // hold back the others.
      groupSize = 1;
      const fresh = new Map(
        (await this.getMembers(retry.map((t) => t.member))).map((m) => [`${m.customer}/${m.batch}/${m.index}`, m]),
      );
      pending = [];
      for (const t of retry) {
        const latest = fresh.get(`${t.member.customer}/${t.member.batch}/${t.member.index}`);
        if (!latest || !isAllowed(latest.state, t.to)) skipped.push(latest ?? t.member);
        else pending.push({ ...t, member: latest });
      }
    }
    return { applied, skipped };
  }

  private transitionActions(group: readonly Transition[], batches: ReadonlyMap<string, BatchRecord>) {
    const at = now();
    const { batchDeltas, customerDeltas } = deltasFor(group, batches);
    const actions: NonNullable<Parameters<typeof transact>[0]['TransactItems']> = [];
    for (const { member, to, outcome } of group) {
      const fields: Record<string, unknown> = { state: to };
      if (isTerminal(to)) fields['finished'] = at;
      for (const field of ['width', 'height', 'mediaType', 'contentLength', 'error'] as const) {
        if (outcome?.[field] !== undefined) fields[field] = outcome[field];
      }
      const names = Object.keys(fields);
      actions.push({
        Update: {
          TableName: this.table,
          Key: keys.member(member.customer, member.batch, member.index),
          UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}`,
          ConditionExpression: '#state = :from',
          ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
          ExpressionAttributeValues: { ...Object.fromEntries(names.map((n) => [`:${n}`, fields[n]])), ':from': member.state },
        },
      });
    }
    for (const d of batchDeltas) {
      const add = (['waiting', 'remaining', 'completed', 'errors'] as const).filter((f) => d[f] !== 0);
      const values: Item = Object.fromEntries(add.map((f) => [`:${f}`, d[f]]));
      let expression = `ADD ${add.map((f) => `#${f} :${f}`).join(', ')}`;
      let condition: string | undefined;
      if (d.start) {
        expression += ' SET started = :now, gsi2pk = :ap, gsi2sk = :as';
        Object.assign(values, { ':now': at }, prefixed(keys.batchActive(d.customer, d.batch), 'a'));
        condition = 'attribute_not_exists(started)';
      }
      actions.push({
        Update: {
          TableName: this.table,
          Key: keys.batch(d.customer, d.batch),
          UpdateExpression: expression,
          ExpressionAttributeNames: Object.fromEntries(add.map((f) => [`#${f}`, f])),
          ExpressionAttributeValues: values,
          ...(condition ? { ConditionExpression: condition } : {}),
        },
      });
    }
    for (const d of customerDeltas) {
      const fields: [string, number][] = [
        ['size', d.size],
        ['batchesWaiting', d.batchesWaiting],
        ...QUEUES.flatMap((q): [string, number][] => [
          [`waiting${cap(q)}`, d.waiting[q]],
          [`running${cap(q)}`, d.running[q]],
        ]),
      ];
      const nonZero = fields.filter(([, v]) => v !== 0);
      if (nonZero.length === 0) continue;
      actions.push({
        Update: {
          TableName: this.table,
          Key: keys.customer(d.customer),
          UpdateExpression: `ADD ${nonZero.map(([f]) => `#${f} :${f}`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(nonZero.map(([f]) => [`#${f}`, f])),
          ExpressionAttributeValues: Object.fromEntries(nonZero.map(([f, v]) => [`:${f}`, v])),
        },
      });
    }
    return actions;
  }

  async finalizeBatch(customer: number, batch: number): Promise<boolean> {
    const record = await this.getBatch(customer, batch, true);
    if (!record || record.finished || record.remaining > 0) return false;
    const finished = now();
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.batch(customer, batch),
          UpdateExpression: 'SET finished = :f, gsi1pk = :fp, gsi1sk = :fs REMOVE gsi2pk, gsi2sk',
          // `finished` is set exactly once, by whoever sees the last member land first. A batch may
          // finish while still enqueueing: `remaining` only reaches 0 once all `count` members are
          // terminal, and members that were never written (a crashed submit) keep it above 0.
          ConditionExpression: 'remaining = :zero AND attribute_not_exists(finished)',
          ExpressionAttributeValues: { ':f': finished, ':zero': 0, ...prefixed(keys.batchFinished(customer, finished, batch), 'f') },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async memberRefsOfAsset(customer: number, space: number, id: string): Promise<MemberRef[]> {
    const { gsi4pk } = keys.memberAsset(customer, space, id, 0);
    const items = await this.queryAll({
      IndexName: TABLE.indexes.gsi4.name,
      KeyConditionExpression: 'gsi4pk = :p',
      ExpressionAttributeValues: { ':p': gsi4pk },
    });
    return items.map((i) => ({ customer, batch: batchIdFromKey(String(i['pk'])), index: memberIndexFromKey(String(i['sk'])) }));
  }

  async supersede(refs: readonly MemberRef[], by: number): Promise<number> {
    if (refs.length === 0) return 0;
    const members = (await this.getMembers(refs)).filter((m) => m.supersededBy === undefined);
    let changed = 0;
    const byBatch = new Map<string, MemberRecord[]>();
    for (const m of members) byBatch.set(batchRef(m.customer, m.batch), [...(byBatch.get(batchRef(m.customer, m.batch)) ?? []), m]);
    for (const group of byBatch.values()) {
      for (const part of chunk(group, 99)) {
        const outcome = await transact({ TransactItems: this.supersedeActions(part, by) });
        if (outcome.ok) {
          changed += part.length;
          continue;
        }
        // One member was marked meanwhile: do them one at a time; the condition skips the marked.
        for (const m of part) {
          const single = await transactRetryingConflicts({ TransactItems: this.supersedeActions([m], by) });
          if (single.ok) changed += 1;
        }
      }
    }
    return changed;
  }

  private supersedeActions(members: readonly MemberRecord[], by: number) {
    const first = members[0] as MemberRecord;
    return [
      ...members.map((m) => ({
        Update: {
          TableName: this.table,
          Key: keys.member(m.customer, m.batch, m.index),
          UpdateExpression: 'SET supersededBy = :by',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(supersededBy)',
          ExpressionAttributeValues: { ':by': by },
        },
      })),
      {
        Update: {
          TableName: this.table,
          Key: keys.batch(first.customer, first.batch),
          UpdateExpression: 'ADD #current :minus',
          ExpressionAttributeNames: { '#current': 'current' },
          ExpressionAttributeValues: { ':minus': -members.length },
        },
      },
    ];
  }

  async listBatches(customer: number, page: PageRequest): Promise<Page<BatchRecord>> {
    const { pk } = keys.customer(customer);
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.table,
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
    return withNext(items.map(toBatch), more ? pick(items[items.length - 1] as Item, ['pk', 'sk']) : undefined);
  }

  async listActiveBatches(customer: number, page: PageRequest): Promise<Page<BatchRecord>> {
    const { gsi2pk } = keys.batchActive(customer, 0);
    return this.batchesFromIndex(TABLE.indexes.gsi2.name, 'gsi2pk', 'gsi2sk', gsi2pk, page, () => true);
  }

  async listRecentBatches(customer: number, page: PageRequest): Promise<Page<BatchRecord>> {
    const { gsi1pk } = keys.batchFinished(customer, '', 0);
    return this.batchesFromIndex(TABLE.indexes.gsi1.name, 'gsi1pk', 'gsi1sk', gsi1pk, page, (b) => b.current > 0);
  }

  /** Pages a KEYS_ONLY batch index newest first, fetching the batches and keeping those that pass. */
  private async batchesFromIndex(
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
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: indexName,
          KeyConditionExpression: `${pkName} = :p`,
          ExpressionAttributeValues: { ':p': partition },
          ScanIndexForward: false,
          Limit: page.limit - out.length + 1,
          ExclusiveStartKey: start,
        }),
      );
      const refs = result.Items ?? [];
      const batches = new Map((await this.getItems(refs.map((r) => pick(r, ['pk', 'sk'])))).map((i) => [String(i['sk']), toBatch(i)]));
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

  async listMembers(customer: number, batch: number, state: MemberState | 'any', page: PageRequest): Promise<Page<MemberRecord>> {
    const { pk } = keys.member(customer, batch, 0);
    return this.membersOfPartition(pk, state === 'any' ? undefined : [state], 'asc', page, page.cursor);
  }

  /** Members of one batch partition, optionally filtered by state, collecting up to `page.limit`. */
  private async membersOfPartition(
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
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
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

  async listQueuedMembers(customer: number, order: 'asc' | 'desc', page: PageRequest): Promise<Page<MemberRecord>> {
    // Queue order is submission order across both queues: walk the open batches (an index that
    // holds only unfinished batches) and take their waiting or running members.
    const cursor = decodeQueueCursor(page.cursor, customer);
    const { batches: openBatches, more } = await this.openBatches(customer, order, cursor?.at);
    const out: MemberRecord[] = [];
    const token = (at: string, member: string) => encodeCursor({ c: String(customer), at, m: member });
    for (const [i, open] of openBatches.entries()) {
      const memberCursor = cursor && open.at === cursor.at ? cursor.member : undefined;
      const pageOfBatch = await this.membersOfPartition(
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
  private async openBatches(customer: number, order: 'asc' | 'desc', from: string | undefined) {
    const PER_QUEUE = 50;
    const lists = await Promise.all(
      QUEUES.map(async (queue) => {
        const { gsi1pk } = keys.batchOpen(customer, queue, '', 0);
        const condition = from ? (order === 'asc' ? ' AND gsi1sk >= :from' : ' AND gsi1sk <= :from') : '';
        const result = await this.db.send(
          new QueryCommand({
            TableName: this.table,
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

  async staleEnqueueing(before: string): Promise<BatchRecord[]> {
    const refs = await this.queryAll({
      IndexName: TABLE.indexes.gsi3.name,
      KeyConditionExpression: 'gsi3pk = :p AND gsi3sk < :before',
      ExpressionAttributeValues: { ':p': 'ENQUEUEING', ':before': before },
    });
    return (await this.getItems(refs.map((r) => pick(r, ['pk', 'sk'])), true)).map(toBatch).filter((b) => b.enqueueing);
  }

  async memberRefsOfBatch(customer: number, batch: number, state?: MemberState): Promise<MemberRef[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk',
      ProjectionExpression: 'sk',
      ...(state ? { FilterExpression: '#state = :s', ExpressionAttributeNames: { '#state': 'state' } } : {}),
      ExpressionAttributeValues: { ':pk': keys.member(customer, batch, 0).pk, ...(state ? { ':s': state } : {}) },
      ConsistentRead: true,
    });
    return items.map((i) => ({ customer, batch, index: memberIndexFromKey(String(i['sk'])) }));
  }

  // -------------------------------------------------------------------------------------------

  private async queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const result = await this.db.send(new QueryCommand({ TableName: this.table, ...input, ExclusiveStartKey: start }));
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /**
   * BatchGetItem in chunks of 100, retrying unprocessed keys. Keys may repeat (a duplicated SQS
   * delivery), BatchGetItem refuses that, so each item is read and returned once, in first-seen order.
   */
  private async getItems(keyList: readonly Item[], consistent = false): Promise<Item[]> {
    const found = new Map<string, Item>();
    const unique = [...new Map(keyList.map((k) => [`${k['pk']}|${k['sk']}`, k])).values()];
    await inParallel(chunk(unique, 100), 4, async (group) => {
      let pending = group as Item[];
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(backoffMs(attempt));
        if (attempt > 10) throw new Error('BatchGetItem kept returning unprocessed keys');
        const result = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: consistent } } }),
        );
        for (const item of result.Responses?.[this.table] ?? []) found.set(`${item['pk']}|${item['sk']}`, item);
        pending = (result.UnprocessedKeys?.[this.table]?.Keys ?? []) as Item[];
      }
    });
    return unique.flatMap((k): Item[] => {
      const item = found.get(`${k['pk']}|${k['sk']}`);
      return item ? [item] : [];
    });
  }
}

/** `CUST#12#ACTIVE` → 12. */
function customerOf(partition: string): number {
  return Number(/^CUST#(\d+)/.exec(partition)?.[1]);
}

function prefixed(values: Record<string, string>, prefix: string): Record<string, string> {
  // keys.* return { gsi2pk, gsi2sk } etc.; expression placeholders use :<prefix>p / :<prefix>s.
  const [pkValue, skValue] = Object.values(values);
  return { [`:${prefix}p`]: pkValue as string, [`:${prefix}s`]: skValue as string };
}

function withNext<T>(items: T[], lastKey: Item | undefined): Page<T> {
  return lastKey ? { items, next: encodeCursor(lastKey) } : { items };
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
