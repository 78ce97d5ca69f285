/**
 * API keys in the credentials table (`CREDENTIALS_TABLE`, apart from the queue table so that only
 * the authorizer and the key routes hold any grant on it). Secrets are only ever stored as scrypt
 * hashes; neither secrets nor hashes are logged or returned by `list`.
 *
 * Items: `{pk: KEY#<key>, sk: KEY, type: 'apiKey', key, customer, privileges, secretHash, created,
 * usageKeyId?}`, read by the authorizer, and beside it, written and deleted in the same
 * transaction, a listing entry in the customer's own partition `{pk: CUST#<c>#KEYS, sk: <key>,
 * type: 'apiKeyRef', key, customer, privileges, created}`, so `list` is one strongly consistent
 * query: a key just created is listed at once (an index would show it after a lag on AWS) and
 * never carries a hash.
 *
 * On AWS each customer key also gets an API Gateway API key in the stack's usage plan
 * (lambdas/adapters/usage-keys.ts), so throttling and quotas apply per key.
 */
import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Privilege } from '../config/routes';
import { settings } from '../config/settings';
import { hashSecret, KEY_PATTERN, newKeyPair, normalisePrivileges } from '../domain/auth';
import type { ApiKeyInfo, KeyStore, NewApiKey, StoredApiKey } from '../domain/ports';
import { logger } from '../observability/logger';
import { dynamoDocument } from './aws-clients';
import { runTransaction } from './dynamo/transactions';

/** The credentials table's key scheme. */
const credentialKeys = {
  apiKey: (key: string) => ({ pk: `KEY#${key}`, sk: 'KEY' }),
  /** A customer's key listing: one partition per customer, one item per key. */
  customerKeys: (customer: number, key: string) => ({ pk: `CUST#${customer}#KEYS`, sk: key }),
};

const ITEM_TYPE = 'apiKey';
const REF_TYPE = 'apiKeyRef';

/**
 * Where per-key request limits are registered: API Gateway's usage plan on AWS; nowhere locally,
 * where the local gateway keeps a bucket per usage identifier by itself.
 */
export interface UsageKeys {
  /** Registers a key; returns the id to deregister it with, if any. */
  register(key: string): Promise<string | undefined>;
  deregister(usageKeyId: string): Promise<void>;
}

export const noUsageKeys: UsageKeys = {
  register: async () => undefined,
  deregister: async () => undefined,
};

export class DynamoKeyStore implements KeyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly usage: UsageKeys = noUsageKeys,
  ) {}

  async create(customer: number, privileges: readonly Privilege[]): Promise<NewApiKey> {
    const { key, secret } = newKeyPair();
    const created = new Date().toISOString();
    const held = normalisePrivileges(privileges);
    const secretHash = await hashSecret(secret);
    // The usage key first: a stored key without one would be refused by API Gateway.
    const usageKeyId = await this.usage.register(key);
    try {
      const outcome = await runTransaction(() => [
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...credentialKeys.apiKey(key),
              type: ITEM_TYPE,
              key,
              customer,
              privileges: held,
              secretHash,
              created,
              ...(usageKeyId ? { usageKeyId } : {}),
            },
            // 120 random bits never collide in practice; the condition makes sure of it.
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: { ...credentialKeys.customerKeys(customer, key), type: REF_TYPE, key, customer, privileges: held, created },
          },
        },
      ]);
      if (!outcome.ok) throw new Error('a new API key collided with an existing one');
    } catch (error) {
      if (usageKeyId) await this.usage.deregister(usageKeyId).catch(() => undefined);
      throw error;
    }
    return { key, secret, customer, privileges: held, created };
  }

  async find(key: string): Promise<StoredApiKey | undefined> {
    if (!KEY_PATTERN.test(key)) return undefined;
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: credentialKeys.apiKey(key), ConsistentRead: true }),
    );
    if (!Item || Item.type !== ITEM_TYPE || typeof Item.secretHash !== 'string') return undefined;
    return {
      key: String(Item.key),
      customer: Number(Item.customer),
      privileges: normalisePrivileges(Item.privileges),
      created: String(Item.created),
      secretHash: Item.secretHash,
      ...(typeof Item.usageKeyId === 'string' ? { usageKeyId: Item.usageKeyId } : {}),
    };
  }

  async list(customer: number): Promise<ApiKeyInfo[]> {
    const found: ApiKeyInfo[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': credentialKeys.customerKeys(customer, '').pk },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        if (item.type === REF_TYPE) {
          found.push({
            key: String(item.key),
            customer,
            privileges: normalisePrivileges(item.privileges),
            created: String(item.created),
          });
        }
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return found.sort((a, b) => a.created.localeCompare(b.created) || a.key.localeCompare(b.key));
  }

  async revoke(customer: number, key: string): Promise<boolean> {
    if (!KEY_PATTERN.test(key)) return false;
    const stored = await this.find(key);
    const outcome = await runTransaction(() => [
      {
        Delete: {
          TableName: this.tableName,
          Key: credentialKeys.apiKey(key),
          ConditionExpression: 'attribute_exists(pk) AND #type = :type AND #customer = :customer',
          ExpressionAttributeNames: { '#type': 'type', '#customer': 'customer' },
          ExpressionAttributeValues: { ':type': ITEM_TYPE, ':customer': customer },
        },
      },
      { Delete: { TableName: this.tableName, Key: credentialKeys.customerKeys(customer, key) } },
    ]);
    // The key is refused from here on (the authorizer reads the item on every request); the
    // usage key only counts requests, so failing to delete it is logged, not fatal.
    if (outcome.ok && stored?.usageKeyId) {
      await this.usage.deregister(stored.usageKeyId).catch((error: unknown) => {
        logger.warn('could not delete the usage key of a revoked API key', { key, usageKeyId: stored.usageKeyId, error: error as Error });
      });
    }
    return outcome.ok;
  }
}

/**
 * The key store on the shared document client and the credentials table. Only the key routes
 * register usage keys (lambdas/adapters/usage-keys.ts), so the authorizer bundles no API Gateway client.
 */
export function keyStore(usage: UsageKeys = noUsageKeys): KeyStore {
  return new DynamoKeyStore(dynamoDocument(), settings.credentialsTableName(), usage);
}
