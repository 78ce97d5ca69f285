/**
 * Access to the one table: its name and client (looked up per call, so the local runtime and tests
 * may re-point them between runs), paged queries and BatchGetItem with retries of unprocessed keys.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type PutCommand, QueryCommand, type QueryCommandInput, type UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { settings } from '../../config/settings';
import { backoffMs, chunk, inParallel, sleep } from '../../domain/async';
import { dynamoDocument } from '../aws-clients';

export type Item = Record<string, unknown>;
export type Key = { pk: string; sk: string };

export const tableName = (): string => settings.tableName();
export const db = () => dynamoDocument();

/** How long a call keeps retrying throttled or unprocessed work before it gives up. */
export const RETRY_DEADLINE_MS = 20_000;

export function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException';
}

/**
 * Sends a conditional single-item write; false when its condition failed (an answer here, not an
 * error: the item was already as wanted, or had moved on).
 */
export async function writeIf(command: PutCommand | UpdateCommand): Promise<boolean> {
  try {
    // `send` is typed per command, not for a union of them.
    await db().send(command as UpdateCommand);
    return true;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return false;
  }
}

export function pick(item: Item, names: readonly string[]): Item {
  return Object.fromEntries(names.map((n) => [n, item[n]]));
}

export async function queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const result = await db().send(new QueryCommand({ TableName: tableName(), ...input, ExclusiveStartKey: start }));
    items.push(...(result.Items ?? []));
    start = result.LastEvaluatedKey;
  } while (start);
  return items;
}

const keyString = (k: Item) => `${String(k.pk)}|${String(k.sk)}`;

/**
 * BatchGetItem in chunks of 100, retrying unprocessed keys (throttled partitions answer with them)
 * with backoff until a deadline. Keys may repeat (a duplicated SQS delivery) and BatchGetItem
 * refuses that, so each item is read and returned once, in first-seen order; missing items are left out.
 */
export async function getItems(keyList: readonly Item[], consistent = false): Promise<Item[]> {
  const found = new Map<string, Item>();
  const unique = [...new Map(keyList.map((k) => [keyString(k), k])).values()];
  const table = tableName();
  const deadline = Date.now() + RETRY_DEADLINE_MS;
  await inParallel(chunk(unique, 100), 4, async (group) => {
    let pending = group as Item[];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        if (Date.now() > deadline) throw new Error(`BatchGetItem kept returning ${pending.length} unprocessed keys`);
        await sleep(backoffMs(attempt, 25, 1_000));
      }
      const result = await db().send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: consistent } } }));
      for (const item of result.Responses?.[table] ?? []) found.set(keyString(item), item);
      pending = (result.UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
    }
  });
  return unique.flatMap((k): Item[] => {
    const item = found.get(keyString(k));
    return item ? [item] : [];
  });
}
