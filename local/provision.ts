/**
 * Creates the table and the queues in the emulators from the same definitions the CDK stack uses
 * (lambdas/config/resources.ts) and returns the environment the handlers need.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DEAD_LETTER_RETENTION_DAYS, ENV, QUEUES, TABLE, type WorkQueueName } from '../lambdas/config/resources';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Local-only environment variables holding each work queue's dead-letter queue URL (e.g. MAIN_DLQ_URL). */
export const DLQ_URL_ENV = Object.fromEntries(
  (Object.keys(QUEUES) as WorkQueueName[]).map((q) => [q, QUEUES[q].urlEnv.replace(/_QUEUE_URL$/, '_DLQ_URL')]),
) as Record<WorkQueueName, string>;

/** Visibility timeout of the dead-letter queues (read by record-dead-letters) unless overridden. */
const DLQ_VISIBILITY_TIMEOUT_SECONDS = 60;

export interface ProvisionOptions {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  /** Prefix of the table and queue names (e.g. `image-queue` → table `image-queue`, queue `image-queue-Main`). */
  prefix: string;
  /** Overrides every queue's visibility timeout (seconds), or per queue; DLQs use the smallest given. */
  visibilityTimeoutSeconds?: number | Partial<Record<WorkQueueName, number>>;
  region?: string;
}

export function tableNameFor(prefix: string): string {
  return prefix;
}

export function queueNameFor(prefix: string, queue: WorkQueueName, deadLetter = false): string {
  return `${prefix}-${QUEUES[queue].id}${deadLetter ? '-dlq' : ''}`;
}

export function localSqsClient(endpoint: string, region = LOCAL_REGION): SQSClient {
  return new SQSClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
}

export function localDynamoClient(endpoint: string, region = LOCAL_REGION): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region, credentials: LOCAL_CREDENTIALS });
}

function visibilityFor(options: ProvisionOptions, queue: WorkQueueName): number {
  const v = options.visibilityTimeoutSeconds;
  if (typeof v === 'number') return v;
  return v?.[queue] ?? QUEUES[queue].visibilityTimeoutSeconds;
}

function dlqVisibility(options: ProvisionOptions): number {
  const v = options.visibilityTimeoutSeconds;
  if (typeof v === 'number') return v;
  const given = Object.values(v ?? {}).filter((n): n is number => typeof n === 'number');
  return given.length > 0 ? Math.min(...given) : DLQ_VISIBILITY_TIMEOUT_SECONDS;
}

export async function provisionTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const attributes = new Set<string>([TABLE.partitionKey, TABLE.sortKey]);
  for (const index of Object.values(TABLE.indexes)) {
    attributes.add(index.partitionKey);
    attributes.add(index.sortKey);
  }
  const AttributeDefinitions: AttributeDefinition[] = [...attributes].map((AttributeName) => ({
    AttributeName,
    AttributeType: 'S',
  }));
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions,
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: Object.values(TABLE.indexes).map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        })),
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  // DynamoDB Local creates tables ACTIVE at once; poll briefly anyway in case another engine does not.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    if (Date.now() > deadline) throw new Error(`table ${tableName} is not ACTIVE (${Table?.TableStatus})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      }),
    );
  } catch {
    /* TTL is optional locally (engines that lack it still serve the runtime) */
  }
}

/** Creates the table and every queue with its DLQ; returns the handlers' environment. */
export async function provision(options: ProvisionOptions): Promise<Record<string, string>> {
  const region = options.region ?? LOCAL_REGION;
  const dynamo = localDynamoClient(options.dynamoEndpoint, region);
  const sqs = localSqsClient(options.sqsEndpoint, region);
  try {
    const tableName = tableNameFor(options.prefix);
    const env: Record<string, string> = { [ENV.tableName]: tableName };
    const queues = (Object.keys(QUEUES) as WorkQueueName[]).map(async (queue) => {
      const definition = QUEUES[queue];
      const dlq = await sqs.send(
        new CreateQueueCommand({
          QueueName: queueNameFor(options.prefix, queue, true),
          Attributes: {
            MessageRetentionPeriod: String(DEAD_LETTER_RETENTION_DAYS * 24 * 3600),
            VisibilityTimeout: String(dlqVisibility(options)),
          },
        }),
      );
      const dlqUrl = dlq.QueueUrl as string;
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
      );
      const main = await sqs.send(
        new CreateQueueCommand({
          QueueName: queueNameFor(options.prefix, queue),
          Attributes: {
            VisibilityTimeout: String(visibilityFor(options, queue)),
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: Attributes?.QueueArn,
              maxReceiveCount: definition.maxReceiveCount,
            }),
          },
        }),
      );
      env[definition.urlEnv] = main.QueueUrl as string;
      env[DLQ_URL_ENV[queue]] = dlqUrl;
    });
    await Promise.all([provisionTable(dynamo, tableName), ...queues]);
    return env;
  } finally {
    dynamo.destroy();
    sqs.destroy();
  }
}
