/**
 * A canonical dump of the whole DynamoDB table, for "nothing was written" assertions: scans the table
 * through the runtime's DynamoDB endpoint (consistent reads, every page) and returns a JSON string
 * with the items sorted by key and every object's properties sorted, so two snapshots are equal
 * exactly when the table holds the same items.
 *
 *   const before = await tableSnapshot(runtime);
 *   … requests that must not write …
 *   expect(await tableSnapshot(runtime)).toBe(before);
 */
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ENV, TABLE } from '../../lambdas/config/resources';
import { localDynamoClient } from '../../local/provision';

export interface SnapshotSource {
  /** DynamoDB endpoint, e.g. `runtime.dynamoEndpoint`. */
  dynamoEndpoint: string;
  /** The handlers' environment (`runtime.env`), where the table name is read from. */
  env: Record<string, string>;
}

export interface SnapshotOptions {
  /** Table name (default `env.TABLE_NAME`). */
  tableName?: string;
  /** Items to leave out (e.g. load samples written by a schedule); given the raw attribute map. */
  exclude?: (item: Record<string, AttributeValue>) => boolean;
}

/** Every item of the table as raw attribute maps, with keys and items in a canonical order. */
export async function scanTable(source: SnapshotSource, options: SnapshotOptions = {}): Promise<Record<string, unknown>[]> {
  const tableName = options.tableName ?? source.env[ENV.tableName];
  if (!tableName) throw new Error(`tableSnapshot: no table name (env ${ENV.tableName} is not set)`);
  // The runtime's own credentials: they select its database when DynamoDB Local is shared.
  const client = localDynamoClient(source.dynamoEndpoint, source.env.AWS_REGION, {
    accessKeyId: source.env.AWS_ACCESS_KEY_ID ?? 'local',
    secretAccessKey: source.env.AWS_SECRET_ACCESS_KEY ?? 'local',
  });
  try {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const raw of page.Items ?? []) {
        if (!options.exclude?.(raw)) items.push(canonical(raw) as Record<string, unknown>);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    const keyOf = (item: Record<string, unknown>) => JSON.stringify([item[TABLE.partitionKey], item[TABLE.sortKey]]);
    return items.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  } finally {
    client.destroy();
  }
}

/** The table as one canonical JSON string (equal strings ⇔ equal tables). */
export async function tableSnapshot(source: SnapshotSource, options: SnapshotOptions = {}): Promise<string> {
  return JSON.stringify(await scanTable(source, options));
}

/**
 * The raw attribute maps ({S}, {N}, {M}, {L}, {SS}, …) with object keys sorted recursively, the
 * unordered sets (SS, NS, BS) sorted, and binaries as base64: numbers keep their exact text.
 */
function canonical(value: unknown, attribute?: string): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) {
    const items = value.map((v) => canonical(v));
    return attribute === 'SS' || attribute === 'NS' || attribute === 'BS' ? items.sort(compareJson) : items;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v, k)]));
  }
  return value;
}

function compareJson(a: unknown, b: unknown): number {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
