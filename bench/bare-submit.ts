/**
 * The floor for a submit: a bare script that issues exactly the minimal calls (minimum.ts) against
 * the same emulators, with the same items, message bodies and parallelism as the handler
 * (BatchWriteItem 8 in flight, SendMessageBatch 16 in flight), but no HTTP, no validation, no
 * authorizer. handler time / bare time is then the handler's overhead over what the work costs.
 */

import { performance } from 'node:perf_hooks';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { BatchWriteCommand, DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { memberItem } from '../lambdas/adapters/dynamo/codec';
import { keys } from '../lambdas/adapters/dynamo/keys';
import { chunk, inParallel } from '../lambdas/domain/async';
import type { AssetInput, MemberRecord } from '../lambdas/domain/model';
import { type LocalCredentials, localDynamoClient, localSqsClient } from '../local/provision';
import { BATCH_WRITE_LIMIT, SEND_BATCH_LIMIT } from './minimum';
import type { SdkCounters } from './sdk-counters';

export const BARE_TAG = 'bare-submit';

export interface BareTarget {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  tableName: string;
  queueUrl: string;
  /** The runtime's region and credentials (together they select its database in a shared DynamoDB Local). */
  region: string;
  credentials: LocalCredentials;
}

export interface BareSubmitter {
  /** Writes and sends a batch of these members; returns the wall time in ms. */
  submit(customer: number, members: readonly AssetInput[]): Promise<number>;
  close(): void;
}

export function bareSubmitter(target: BareTarget, counters?: SdkCounters): BareSubmitter {
  const dynamo = localDynamoClient(target.dynamoEndpoint, target.region, target.credentials);
  const sqs = localSqsClient(target.sqsEndpoint, target.region, target.credentials);
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
      // 1. Allocate the batch id.
      const { Attributes } = await db.send(
        new UpdateCommand({
          TableName,
          Key: keys.customer(customer),
          UpdateExpression: 'ADD batchSeq :one',
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const batch = Number(Attributes?.batchSeq);
      // 2. The batch item and the customer counters, atomically.
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName,
                Key: keys.customer(customer),
                UpdateExpression: 'ADD #size :n, waitingMain :n, pendingMain :n, batchCount :one, batchesWaiting :one',
                ExpressionAttributeNames: { '#size': 'size' },
                ExpressionAttributeValues: { ':n': n, ':one': 1 },
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
      const members: MemberRecord[] = assets.map((a, index) => ({
        ...a,
        customer,
        batch,
        index,
        queue: 'main',
        state: 'waiting',
        submitted,
      }));
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
          new SendMessageBatchCommand({
            QueueUrl: target.queueUrl,
            Entries: group.map((MessageBody, i) => ({ Id: String(i), MessageBody })),
          }),
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
