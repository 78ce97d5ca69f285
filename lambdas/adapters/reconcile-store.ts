/**
 * Reconcile against the table: scans customers, batches and members, compares with
 * domain/reconcile.ts, and with `fix` writes the recomputed counters back. Meant for an idle
 * queue (or as a report while busy: work in flight shows as transient drift).
 */
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { settings } from '../config/settings';
import { keys, type BatchRecord, type CustomerCounters, type MemberRecord } from '../domain/model';
import { reconcileCounters, type Drift } from '../domain/reconcile';
import { dynamoDocument } from './aws-clients';
import { toCounters } from './dynamo-store';
import { queueStore } from './index';

type Item = Record<string, unknown>;

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

const counters = (item: Item): CustomerCounters => toCounters(item, Number(item['customer']));

export interface ReconcileReport {
  drift: Drift[];
  customers: number;
  batches: number;
  members: number;
  fixed: number;
}

export async function reconcileTable(options: { fix?: boolean } = {}): Promise<ReconcileReport> {
  const items = await scanAll();
  const customers = items.filter((i) => i['type'] === 'customer').map(counters);
  const batches = items.filter((i) => i['type'] === 'batch') as unknown as BatchRecord[];
  const members = items.filter((i) => i['type'] === 'member') as unknown as MemberRecord[];
  const result = reconcileCounters(customers, batches, members);
  let fixed = 0;
  if (options.fix && result.drift.length > 0) {
    const drifting = new Set(result.drift.map((d) => d.subject));
    for (const b of result.batches) {
      if (!drifting.has(`batch ${b.customer}/${b.batch}`)) continue;
      await setFields(keys.batch(b.customer, b.batch), b.fields);
      if (b.shouldFinish) await queueStore().finalizeBatch(b.customer, b.batch);
      fixed += 1;
    }
    for (const c of result.customers) {
      if (!drifting.has(`customer ${c.customer}`)) continue;
      await setFields(keys.customer(c.customer), c.fields);
      fixed += 1;
    }
  }
  return { drift: result.drift, customers: customers.length, batches: batches.length, members: members.length, fixed };
}

async function setFields(key: Record<string, string>, fields: Record<string, number>): Promise<void> {
  const names = Object.keys(fields);
  await dynamoDocument().send(
    new UpdateCommand({
      TableName: settings.tableName(),
      Key: key,
      UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
      ExpressionAttributeValues: Object.fromEntries(names.map((n) => [`:${n}`, fields[n]])),
    }),
  );
}
