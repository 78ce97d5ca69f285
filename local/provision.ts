/**
 * Creates the tables and the queues from the same definitions the CDK stack uses
 * (lambdas/config/resources.ts) and returns the environment the handlers need. Idempotent: against
 * an existing DynamoDB/SQS (LocalStack, a previous `npm start`) what exists is reused, the queues'
 * attributes are brought up to date, and nothing is ever deleted.
 */
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DEAD_LETTER_VISIBILITY_TIMEOUT_SECONDS } from '../lambdas/config/functions';
import {
  CREDENTIALS_TABLE,
  DEAD_LETTER_RETENTION_DAYS,
  ENV,
  QUEUES,
  TABLE,
  type TableDefinition,
  type WorkQueueName,
} from '../lambdas/config/resources';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The variables holding each work queue's dead-letter queue URL (e.g. MAIN_DLQ_URL). */
export const DLQ_URL_ENV = Object.fromEntries(
  (Object.keys(QUEUES) as WorkQueueName[]).map((q) => [q, QUEUES[q].deadLetterUrlEnv]),
) as Record<WorkQueueName, string>;

export interface ProvisionOptions {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  /** Prefix of the table and queue names (e.g. `image-queue` → table `image-queue`, queue `image-queue-Main`). */
  prefix: string;
  /** Overrides every queue's visibility timeout (seconds), or per queue; DLQs use the smallest given. */
  visibilityTimeoutSeconds?: number | Partial<Record<WorkQueueName, number>>;
  /** Default us-east-1. */
  region?: string;
  /** Default LOCAL_CREDENTIALS. */
  credentials?: LocalCredentials;
  /** How long to wait for the table (and its indexes) to become ACTIVE (default 120 s). */
  tableActiveTimeoutMs?: number;
}

export function tableNameFor(prefix: string): string {
  return prefix;
}

export function credentialsTableNameFor(prefix: string): string {
  return `${prefix}-credentials`;
}

export function queueNameFor(prefix: string, queue: WorkQueueName, deadLetter = false): string {
  return `${prefix}-${QUEUES[queue].id}${deadLetter ? '-dlq' : ''}`;
}

/** The completion notices topic (`<prefix>-notices`). */
export function noticesTopicNameFor(prefix: string): string {
  return `${prefix}-notices`;
}

export function localSqsClient(endpoint: string, region = LOCAL_REGION, credentials: LocalCredentials = LOCAL_CREDENTIALS): SQSClient {
  return new SQSClient({ endpoint, region, credentials, useQueueUrlAsEndpoint: false });
}

export function localDynamoClient(
  endpoint: string,
  region = LOCAL_REGION,
  credentials: LocalCredentials = LOCAL_CREDENTIALS,
): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region, credentials });
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
  // As on AWS: 6 × the timeout of record-dead-letters, which consumes them.
  return given.length > 0 ? Math.min(...given) : DEAD_LETTER_VISIBILITY_TIMEOUT_SECONDS;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Creates the table unless it exists, waits until it and its indexes are ACTIVE (immediate on
 * DynamoDB Local; seconds on LocalStack or AWS) and enables TTL where supported.
 */
export async function provisionTable(
  client: DynamoDBClient,
  tableName: string,
  activeTimeoutMs = 120_000,
  definition: TableDefinition = TABLE,
): Promise<void> {
  const wanted = Object.values(definition.indexes);
  const attributes = new Set<string>([definition.partitionKey, definition.sortKey]);
  for (const index of wanted) {
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
          { AttributeName: definition.partitionKey, KeyType: 'HASH' },
          { AttributeName: definition.sortKey, KeyType: 'RANGE' },
        ],
        // DynamoDB refuses an empty index list: a table without indexes sends none.
        GlobalSecondaryIndexes:
          wanted.length === 0
            ? undefined
            : wanted.map((index) => ({
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
    // Exists already (or is being created by someone else): use it.
    if (!(err instanceof ResourceInUseException) && (err as Error).name !== 'ResourceInUseException') throw err;
  }
  // DynamoDB Local creates tables ACTIVE at once; other engines take a while.
  const deadline = Date.now() + activeTimeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexes = Table?.GlobalSecondaryIndexes ?? [];
    const missing = wanted.map((index) => index.name).filter((name) => !indexes.some((i) => i.IndexName === name));
    if (missing.length > 0 && Table?.TableStatus === 'ACTIVE') {
      throw new Error(
        `table ${tableName} exists but lacks the index(es) ${missing.join(', ')}: it was not created by this ` +
          'version; delete it or pick another prefix (LOCAL_PREFIX)',
      );
    }
    // An engine that does not report IndexStatus is taken to create indexes synchronously.
    const ready = Table?.TableStatus === 'ACTIVE' && indexes.every((i) => !i.IndexStatus || i.IndexStatus === 'ACTIVE');
    if (ready) break;
    if (Date.now() > deadline) {
      throw new Error(`table ${tableName} did not become ACTIVE within ${activeTimeoutMs} ms (${Table?.TableStatus})`);
    }
    await sleep(delay);
  }
  if (!definition.ttlAttribute) return;
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: definition.ttlAttribute, Enabled: true },
      }),
    );
  } catch {
    /* TTL is optional locally (engines that lack it still serve the runtime) */
  }
}

/**
 * AWS answers `QueueAlreadyExists` (JSON protocol), the SDK names it `QueueNameExists`, emulators
 * may send the query-protocol code `AWS.SimpleQueueService.QueueNameExists`: accept any of them.
 */
function isQueueNameExists(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; __type?: string };
  return [e.name, e.Code, e.__type].some((n) => typeof n === 'string' && /(^|[.#])Queue(NameExists|AlreadyExists)$/.test(n));
}

/**
 * Creates a queue, or, when one with that name exists with other attributes (CreateQueue answers
 * `QueueAlreadyExists` / `QueueNameExists`), sets the wanted attributes on it. Returns its URL.
 */
export async function ensureQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  try {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    return QueueUrl as string;
  } catch (err) {
    if (!isQueueNameExists(err)) throw err;
  }
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: attributes }));
  return QueueUrl as string;
}

/** Creates (or reuses) the table and every queue with its DLQ; returns the handlers' environment. */
export async function provision(options: ProvisionOptions): Promise<Record<string, string>> {
  const region = options.region ?? LOCAL_REGION;
  const dynamo = localDynamoClient(options.dynamoEndpoint, region, options.credentials);
  const sqs = localSqsClient(options.sqsEndpoint, region, options.credentials);
  const sns = new SNSClient({ endpoint: options.sqsEndpoint, region, credentials: options.credentials ?? LOCAL_CREDENTIALS });
  try {
    const tableName = tableNameFor(options.prefix);
    const credentialsTableName = credentialsTableNameFor(options.prefix);
    const env: Record<string, string> = { [ENV.tableName]: tableName, [ENV.credentialsTableName]: credentialsTableName };
    // CreateTopic is idempotent: an existing topic of that name is returned. SNS shares the SQS
    // emulator's endpoint (fauxqs and LocalStack serve both).
    const topic = sns.send(new CreateTopicCommand({ Name: noticesTopicNameFor(options.prefix) })).then(({ TopicArn }) => {
      env[ENV.noticesTopicArn] = TopicArn as string;
    });
    const queues = (Object.keys(QUEUES) as WorkQueueName[]).map(async (queue) => {
      const definition = QUEUES[queue];
      const dlqUrl = await ensureQueue(sqs, queueNameFor(options.prefix, queue, true), {
        MessageRetentionPeriod: String(DEAD_LETTER_RETENTION_DAYS * 24 * 3600),
        VisibilityTimeout: String(dlqVisibility(options)),
      });
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
      env[definition.urlEnv] = await ensureQueue(sqs, queueNameFor(options.prefix, queue), {
        VisibilityTimeout: String(visibilityFor(options, queue)),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: Attributes?.QueueArn,
          maxReceiveCount: definition.maxReceiveCount,
        }),
      });
      env[DLQ_URL_ENV[queue]] = dlqUrl;
    });
    await Promise.all([
      provisionTable(dynamo, tableName, options.tableActiveTimeoutMs),
      provisionTable(dynamo, credentialsTableName, options.tableActiveTimeoutMs, CREDENTIALS_TABLE),
      ...queues,
      topic,
    ]);
    return env;
  } finally {
    dynamo.destroy();
    sqs.destroy();
    sns.destroy();
  }
}
