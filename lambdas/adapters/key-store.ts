/**
 * API keys in the single table, and the admin credential (environment locally, Secrets Manager on
 * AWS). Secrets are only ever stored as scrypt hashes; neither secrets nor hashes are logged or
 * returned by `list`.
 *
 * Item: `{pk: KEY#<key>, sk: KEY, type: 'apiKey', key, customer, secretHash, created,
 * gsi3pk: CUST#<c>#KEYS, gsi3sk: <key>}`. The gsi3 index projects keys only, so `list` queries it
 * for the keys and then reads the items (without their hashes) with BatchGetItem.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ENV, TABLE } from '../config/resources';
import { settings } from '../config/settings';
import { hashSecret, KEY_PATTERN, newKeyPair, type Credentials } from '../domain/auth';
import { keys } from '../domain/model';
import { dynamoDocument, region } from './aws-clients';

/** A customer's API key as listed (no secret, no hash). */
export interface ApiKeyInfo {
  key: string;
  customer: number;
  /** ISO-8601 creation time. */
  created: string;
}

/** A stored key with its secret hash, for verification only. */
export interface StoredApiKey extends ApiKeyInfo {
  secretHash: string;
}

/** A key just created: the only time its secret is known. */
export interface NewApiKey extends ApiKeyInfo {
  secret: string;
}

export interface KeyStore {
  /** Issues a new key for a customer and stores its secret hashed. */
  create(customer: number): Promise<NewApiKey>;
  /** The stored key, or undefined when there is none (revoked or never issued). */
  find(key: string): Promise<StoredApiKey | undefined>;
  /** A customer's keys, oldest first. */
  list(customer: number): Promise<ApiKeyInfo[]>;
  /** Deletes a key; false when it does not exist or belongs to another customer. */
  revoke(customer: number, key: string): Promise<boolean>;
}

const ITEM_TYPE = 'apiKey';
/** BatchGetItem reads at most 100 keys per call. */
const BATCH_GET_LIMIT = 100;
const MAX_BATCH_GET_ATTEMPTS = 8;

export class DynamoKeyStore implements KeyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(customer: number): Promise<NewApiKey> {
    const { key, secret } = newKeyPair();
    const created = new Date().toISOString();
    const secretHash = await hashSecret(secret);
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...keys.apiKey(key),
          ...keys.customerKeys(customer, key),
          type: ITEM_TYPE,
          key,
          customer,
          secretHash,
          created,
        },
        // 120 random bits never collide in practice; the condition makes sure of it.
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { key, secret, customer, created };
  }

  async find(key: string): Promise<StoredApiKey | undefined> {
    if (!KEY_PATTERN.test(key)) return undefined;
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.apiKey(key), ConsistentRead: true }),
    );
    if (!Item || Item['type'] !== ITEM_TYPE || typeof Item['secretHash'] !== 'string') return undefined;
    return {
      key: String(Item['key']),
      customer: Number(Item['customer']),
      created: String(Item['created']),
      secretHash: Item['secretHash'],
    };
  }

  async list(customer: number): Promise<ApiKeyInfo[]> {
    const { partitionKey, sortKey } = TABLE.indexes.gsi3;
    const gsi3pk = keys.customerKeys(customer, '').gsi3pk;
    const ids: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE.indexes.gsi3.name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': partitionKey },
          ExpressionAttributeValues: { ':pk': gsi3pk },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const id = item[sortKey];
        if (typeof id === 'string') ids.push(id);
      }
      start = page.LastEvaluatedKey;
    } while (start);

    const found: ApiKeyInfo[] = [];
    for (let i = 0; i < ids.length; i += BATCH_GET_LIMIT) {
      for (const item of await this.batchGet(ids.slice(i, i + BATCH_GET_LIMIT))) {
        // The index is eventually consistent: skip keys revoked (or moved) since.
        if (item['type'] !== ITEM_TYPE || Number(item['customer']) !== customer) continue;
        found.push({ key: String(item['key']), customer, created: String(item['created']) });
      }
    }
    return found.sort((a, b) => a.created.localeCompare(b.created) || a.key.localeCompare(b.key));
  }

  /** Reads key items without their hashes, retrying unprocessed keys with backoff. */
  private async batchGet(ids: string[]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let pending: Record<string, unknown>[] = ids.map((id) => keys.apiKey(id));
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      if (attempt >= MAX_BATCH_GET_ATTEMPTS) throw new Error('BatchGetItem left keys unprocessed after retries');
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
      const result = await this.doc.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tableName]: {
              Keys: pending,
              ProjectionExpression: '#type, #key, #customer, #created',
              ExpressionAttributeNames: { '#type': 'type', '#key': 'key', '#customer': 'customer', '#created': 'created' },
            },
          },
        }),
      );
      items.push(...(result.Responses?.[this.tableName] ?? []));
      pending = (result.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
    }
    return items;
  }

  async revoke(customer: number, key: string): Promise<boolean> {
    if (!KEY_PATTERN.test(key)) return false;
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.apiKey(key),
          ConditionExpression: 'attribute_exists(pk) AND #type = :type AND #customer = :customer',
          ExpressionAttributeNames: { '#type': 'type', '#customer': 'customer' },
          ExpressionAttributeValues: { ':type': ITEM_TYPE, ':customer': customer },
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

/** The key store on the shared document client and the configured table. */
export function keyStore(): KeyStore {
  return new DynamoKeyStore(dynamoDocument(), settings.tableName());
}

// ---------------------------------------------------------------------------------------------
// Admin credential

let adminFromSecret: Promise<Credentials> | undefined;
let secretsClient: SecretsManagerClient | undefined;

function secretsManager(): SecretsManagerClient {
  // The SDK itself honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER.
  secretsClient ??= new SecretsManagerClient({ region: region() });
  return secretsClient;
}

async function loadAdminSecret(secretId: string): Promise<Credentials> {
  const { SecretString } = await secretsManager().send(new GetSecretValueCommand({ SecretId: secretId }));
  let parsed: unknown;
  try {
    parsed = JSON.parse(SecretString ?? '');
  } catch {
    // Do not include the secret string (or the parser's excerpt of it) in the error.
    throw new Error(`secret ${secretId} is not JSON {"key","secret"}`);
  }
  const { key, secret } = (parsed ?? {}) as { key?: unknown; secret?: unknown };
  if (typeof key !== 'string' || !KEY_PATTERN.test(key) || typeof secret !== 'string' || secret.length === 0) {
    throw new Error(`secret ${secretId} must hold JSON {"key": "<[A-Za-z0-9_-]{1,64}>", "secret": "<non-empty>"}`);
  }
  return { key, secret };
}

/**
 * The admin credential: `ADMIN_KEY`/`ADMIN_SECRET` when both are set (local runtime), else the
 * Secrets Manager secret named by `ADMIN_SECRET_NAME` (JSON `{"key","secret"}`), fetched once per
 * container. Undefined when neither is configured (then no admin key works).
 */
export async function adminCredential(): Promise<Credentials | undefined> {
  const key = process.env[ENV.adminKey];
  const secret = process.env[ENV.adminSecret];
  if (key && secret) return { key, secret };
  const secretName = process.env[ENV.adminSecretName];
  if (!secretName) return undefined;
  if (!adminFromSecret) {
    adminFromSecret = loadAdminSecret(secretName);
    // A failed fetch (throttling, a secret not yet created) is retried by the next call.
    adminFromSecret.catch(() => {
      adminFromSecret = undefined;
    });
  }
  return adminFromSecret;
}

/** Forgets the cached admin secret and client (tests). */
export function resetAdminCredential(): void {
  adminFromSecret = undefined;
  secretsClient?.destroy();
  secretsClient = undefined;
}
