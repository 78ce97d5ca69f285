/**
 * DynamoDB reads and writes of the operator endpoints: load samples (`keys.loadSample`, one
 * partition `LOAD` sorted by time) and the oldest open batch of a customer's queue (gsi1).
 */
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { QueueName } from '../config/resources';
import { TABLE } from '../config/resources';
import { settings } from '../config/settings';
import { keys } from '../domain/model';
import { submittedFromOpenKey, type LoadSample } from '../domain/operator';
import { dynamoDocument } from './aws-clients';
import { putAll } from './dynamo/transactions';

type Item = Record<string, unknown>;

/** Sorts after `#` (0x23): every sort key `<time>#…` with time ≤ `ended` is ≤ `<ended>$`. */
const AFTER_HASH = '$';

export function loadSampleItem(sample: LoadSample, expiresAt: number): Item {
  return {
    ...keys.loadSample(sample.time, sample.customer, sample.queue),
    type: 'loadSample',
    ...sample,
    [TABLE.ttlAttribute]: expiresAt,
  };
}

function toSample(item: Item): LoadSample {
  return {
    time: String(item['time']),
    customer: Number(item['customer']),
    queue: item['queue'] as QueueName,
    pending_count: Number(item['pending_count'] ?? 0),
    queued_count: Number(item['queued_count'] ?? 0),
    running_count: Number(item['running_count'] ?? 0),
  };
}

export class DynamoOperatorStore {
  private get table() {
    return settings.tableName();
  }

  /** Writes the samples of one run (BatchWriteItem, retried). */
  async putSamples(samples: readonly LoadSample[], expiresAt: number): Promise<void> {
    await putAll(
      this.table,
      samples.map((s) => loadSampleItem(s, expiresAt)),
    );
  }

  /** Calls `visit` with every sample taken from `started` to `ended` inclusive, in time order. */
  async forEachSample(started: string, ended: string, visit: (sample: LoadSample) => void): Promise<void> {
    const input: QueryCommandInput = {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#time': 'time', '#queue': 'queue' },
      ExpressionAttributeValues: { ':pk': keys.loadSample(started, 0, 'main').pk, ':from': started, ':to': `${ended}${AFTER_HASH}` },
      ProjectionExpression: '#time, customer, #queue, pending_count, queued_count, running_count',
    };
    let start: Item | undefined;
    do {
      const out = await dynamoDocument().send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
      for (const item of out.Items ?? []) visit(toSample(item));
      start = out.LastEvaluatedKey;
    } while (start);
  }

  /** Submission time of the customer's oldest unfinished batch on `queue`, if any. */
  async oldestOpenBatch(customer: number, queue: QueueName): Promise<string | undefined> {
    const { gsi1pk } = keys.batchOpen(customer, queue, '', 0);
    const out = await dynamoDocument().send(
      new QueryCommand({
        TableName: this.table,
        IndexName: TABLE.indexes.gsi1.name,
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': gsi1pk },
        ScanIndexForward: true,
        Limit: 1,
      }),
    );
    const sk = out.Items?.[0]?.['gsi1sk'];
    return typeof sk === 'string' ? submittedFromOpenKey(sk) : undefined;
  }
}

let store: DynamoOperatorStore | undefined;
export const operatorStore = (): DynamoOperatorStore => (store ??= new DynamoOperatorStore());
