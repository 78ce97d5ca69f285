/**
 * Reconcile against the table: scans customers, batches (heads and counter shards) and members,
 * compares with domain/reconcile.ts, and with `fix` writes the recomputed counters back. Meant for
 * an idle queue (or as a report while busy: work in flight shows as transient drift).
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { settings } from '../config/settings';
import type { MemberRecord } from '../domain/model';
import { type Drift, reconcileCounters } from '../domain/reconcile';
import { dynamoDocument } from './aws-clients';
import { batchView, customerView } from './dynamo/counters';
import { keys } from './dynamo/keys';
import type { Item } from './dynamo/table';
import { runTransaction } from './dynamo/transactions';
import { finalizeBatch } from './dynamo/transitions';

async function scanAll(): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await dynamoDocument().send(
      new ScanCommand({ TableName: settings.tableName(), ExclusiveStartKey: start, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

function groupBy(items: readonly Item[], keyOf: (item: Item) => string): Map<string, Item[]> {
  const groups = new Map<string, Item[]>();
  for (const item of items) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), item]);
  return groups;
}

export interface ReconcileReport {
  drift: Drift[];
  customers: number;
  batches: number;
  members: number;
  fixed: number;
}

export async function reconcileTable(options: { fix?: boolean } = {}): Promise<ReconcileReport> {
  const items = await scanAll();
  const ofType = (type: string) => items.filter((i) => i.type === type);
  const customerShards = groupBy(ofType('customerCounters'), (s) => String(s.customer));
  const batchShards = groupBy(ofType('batchCounters'), (s) => `${String(s.customer)}/${String(s.batch)}`);
  const customerHeads = ofType('customer');
  const batchHeads = ofType('batch');
  const shardsOfBatch = (h: Item) => batchShards.get(`${String(h.customer)}/${String(h.batch)}`) ?? [];
  const customers = customerHeads.map((h) => customerView(h, customerShards.get(String(h.customer)) ?? []));
  const batches = batchHeads.map((h) => batchView(h, shardsOfBatch(h)));
  const members = ofType('member') as unknown as MemberRecord[];
  const result = reconcileCounters(customers, batches, members);
  // Admission: the head's `admitted` minus the shards' `released` must be the queue's true size.
  const releasedOf = (c: number) => (customerShards.get(String(c)) ?? []).reduce((sum, s) => sum + Number(s.released ?? 0), 0);
  const admittedOf = (c: number) => Number(customerHeads.find((h) => Number(h.customer) === c)?.admitted ?? 0);
  for (const c of result.customers) {
    const expected = releasedOf(c.customer) + (c.fields.size ?? 0);
    if (admittedOf(c.customer) !== expected) {
      result.drift.push({ subject: `customer ${c.customer}`, field: 'admitted', stored: admittedOf(c.customer), expected });
    }
  }
  let fixed = 0;
  if (options.fix && result.drift.length > 0) {
    const drifting = new Set(result.drift.map((d) => d.subject));
    for (const b of result.batches) {
      if (!drifting.has(`batch ${b.customer}/${b.batch}`)) continue;
      const head = batchHeads.find((h) => Number(h.customer) === b.customer && Number(h.batch) === b.batch) as Item;
      await setCounters(keys.batch(b.customer, b.batch), b.fields, shardsOfBatch(head));
      if (b.shouldFinish) await finalizeBatch(b.customer, b.batch);
      fixed += 1;
    }
    for (const c of result.customers) {
      if (!drifting.has(`customer ${c.customer}`)) continue;
      await setCustomerCounters(c.customer, c.fields, customerShards.get(String(c.customer)) ?? [], releasedOf(c.customer));
      fixed += 1;
    }
  }
  return { drift: result.drift, customers: customers.length, batches: batches.length, members: members.length, fixed };
}

/**
 * Writes the recomputed totals into shard 0 (keeping the members released so far), deletes the
 * other shards and sets the head's `admitted` to match, in one transaction.
 */
async function setCustomerCounters(customer: number, fields: Record<string, number>, shards: readonly Item[], released: number) {
  const TableName = settings.tableName();
  const first = keys.customerCounters(customer, 0);
  const outcome = await runTransaction(() => [
    { Put: { TableName, Item: { ...first, type: 'customerCounters', customer, shard: 0, ...fields, released } } },
    ...shards.filter((s) => s.pk !== first.pk).map((s) => ({ Delete: { TableName, Key: { pk: s.pk, sk: s.sk } } })),
    {
      Update: {
        TableName,
        Key: keys.customer(customer),
        UpdateExpression: 'SET admitted = :a',
        ExpressionAttributeValues: { ':a': released + (fields.size ?? 0) },
      },
    },
  ]);
  if (!outcome.ok) throw new Error(`could not write the recomputed counters of customer ${customer}`);
}

/** Writes the recomputed totals on a batch head and deletes its shards, in one transaction. */
async function setCounters(key: Record<string, string>, fields: Record<string, number>, shards: readonly Item[]): Promise<void> {
  const names = Object.keys(fields);
  const TableName = settings.tableName();
  const outcome = await runTransaction(() => [
    {
      Update: {
        TableName,
        Key: key,
        UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
        ExpressionAttributeValues: Object.fromEntries(names.map((n) => [`:${n}`, fields[n]])),
      },
    },
    ...shards.map((s) => ({ Delete: { TableName, Key: { pk: s.pk, sk: s.sk } } })),
  ]);
  if (!outcome.ok) throw new Error(`could not write the recomputed counters of ${key.pk}/${key.sk}`);
}
