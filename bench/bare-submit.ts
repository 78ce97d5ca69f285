/**
 * The floor for a submit: a bare script that issues exactly the minimal calls (minimum.ts) against
 * the same emulators, with the same items, message bodies and parallelism as the handler
 * (BatchWriteItem 8 in flight, SendMessageBatch 16 in flight), but no HTTP, no validation, no
 * authorizer. handler time / bare time is then the handler's overhead over what the work costs.
 */
import { DynamoDBDocumentClient, BatchWriteCommand, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { performance } from 'node:perf_hooks';
import { memberItem } from '../lambdas/adapters/dynamo/codec';
import { chunk, inParallel } from '../lambdas/domain/async';
import { keys, type AssetInput, type MemberRecord } from '../lambdas/domain/model';
import { localDynamoClient, localSqsClient } from '../local/provision';
import { BATCH_WRITE_LIMIT, SEND_BATCH_LIMIT } from './minimum';
import type { SdkCounters } from './sdk-counters';

export const BARE_TAG = 'bare-submit';

export interface BareTarget {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  tableName: string;
  queueUrl: string;
}

export interface BareSubmitter {
  /** Writes and sends a batch of these members; returns the wall time in ms. */
  submit(customer: number, members: readonly AssetInput[]): Promise<number>;
  close(): void;
}

export function bareSubmitter(target: BareTarget, counters?: SdkCounters): BareSubmitter {
  const dynamo = localDynamoClient(target.dynamoEndpoint);
  const sqs = localSqsClient(target.sqsEndpoint);
  counters?.attach(dynamo, 'dynamodb', BARE_TAG);
  counters?.attach(sqs, 'sqs', BARE_TAG);
  const db = DynamoDBDocumentClient.from(dynamo, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const TableName = target.tableName;

  return {
    async submit(customer, assets) {
      const started = performance.now();
      const n = assets.length;
      const submitted = new Date().toISOString();
      // 1. Read the last batch id (the id is taken in step 2, conditioned on this read).
      const { Item: head } = await db.send(new GetCommand({ TableName, Key: keys.customer(customer), ConsistentRead: true }));
      const batch = Number(head?.['batchSeq'] ?? 0) + 1;
      // 2. The batch item and the customer counters, atomically.
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName,
                Key: keys.customer(customer),
                UpdateExpression: 'SET batchSeq = :b ADD #size :n, waitingMain :n, pendingMain :n, batchCount :one, batchesWaiting :one',
                ExpressionAttributeNames: { '#size': 'size' },
                ExpressionAttributeValues: { ':n': n, ':one': 1, ':b': batch },
              },
            },
            {
              Put: {
                TableName,
                Item: {
                  ...keys.batch(customer, batch),
                  ...keys.batchOpen(customer, 'main', submitted, batch),
                  type: 'batch',
                  customer,
                  batch,
                  queue: 'main',
                  submitted,
                  count: n,
                  completed: 0,
                  errors: 0,
                  remaining: n,
                  waiting: n,
                  current: n,
                  enqueueing: true,
                },
              },
            },
          ],
        }),
      );
      // 3. The members.
      const members: MemberRecord[] = assets.map((a, index) => ({ ...a, customer, batch, index, queue: 'main', state: 'waiting', submitted }));
      await inParallel(chunk(members.map(memberItem), BATCH_WRITE_LIMIT), 8, async (group) => {
        let requests = group.map((Item) => ({ PutRequest: { Item } }));
        while (requests.length > 0) {
          const out = await db.send(new BatchWriteCommand({ RequestItems: { [TableName]: requests } }));
          requests = (out.UnprocessedItems?.[TableName] ?? []) as typeof requests;
        }
      });
      // 4. One message per member.
      const bodies = members.map((m) => JSON.stringify({ c: m.customer, b: m.batch, i: m.index }));
      await inParallel(chunk(bodies, SEND_BATCH_LIMIT), 16, async (group) => {
        await sqs.send(
          new SendMessageBatchCommand({ QueueUrl: target.queueUrl, Entries: group.map((MessageBody, i) => ({ Id: String(i), MessageBody })) }),
        );
      });
      // 5. End of enqueueing.
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: { TableName, Key: keys.batch(customer, batch), UpdateExpression: 'REMOVE enqueueing' } },
            {
              Update: {
                TableName,
                Key: keys.customer(customer),
                UpdateExpression: 'ADD pendingMain :minus',
                ExpressionAttributeValues: { ':minus': -n },
              },
            },
          ],
        }),
      );
      return performance.now() - started;
    },
    close() {
      dynamo.destroy();
      sqs.destroy();
    },
  };
}
