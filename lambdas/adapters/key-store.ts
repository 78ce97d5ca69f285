/**
 * API keys in the single table, and the admin credential (environment locally, Secrets Manager on
 * AWS). Secrets are only ever stored as scrypt hashes; neither secrets nor hashes are logged or
 * returned by `list`.
 *
 * Items: `{pk: KEY#<key>, sk: KEY, type: 'apiKey', key, customer, secretHash, created}`, read by the
 * authorizer, and beside it, written and deleted in the same transaction, a listing entry in the
 * customer's own partition `{pk: CUST#<c>#KEYS, sk: <key>, type: 'apiKeyRef', key, customer, created}`,
 * so `list` is one strongly consistent query: a key just created is listed at once (an index would
 * show it after a lag on AWS) and never carries a hash.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../config/resources';
import { settings } from '../config/settings';
import { hashSecret, KEY_PATTERN, newKeyPair, type Credentials } from '../domain/auth';
import { keys } from '../domain/model';
import { dynamoDocument, region } from './aws-clients';
import { runTransaction } from './dynamo/transactions';

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
const REF_TYPE = 'apiKeyRef';

export class DynamoKeyStore implements KeyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(customer: number): Promise<NewApiKey> {
    const { key, secret } = newKeyPair();
    const created = new Date().toISOString();
    const secretHash = await hashSecret(secret);
    const outcome = await runTransaction(() => [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...keys.apiKey(key), type: ITEM_TYPE, key, customer, secretHash, created },
          // 120 random bits never collide in practice; the condition makes sure of it.
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      { Put: { TableName: this.tableName, Item: { ...keys.customerKeys(customer, key), type: REF_TYPE, key, customer, created } } },
    ]);
    if (!outcome.ok) throw new Error('a new API key collided with an existing one');
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
    const found: ApiKeyInfo[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.customerKeys(customer, '').pk },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        if (item['type'] === REF_TYPE) found.push({ key: String(item['key']), customer, created: String(item['created']) });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return found.sort((a, b) => a.created.localeCompare(b.created) || a.key.localeCompare(b.key));
  }

  async revoke(customer: number, key: string): Promise<boolean> {
    if (!KEY_PATTERN.test(key)) return false;
    const outcome = await runTransaction(() => [
      {
        Delete: {
          TableName: this.tableName,
          Key: keys.apiKey(key),
          ConditionExpression: 'attribute_exists(pk) AND #type = :type AND #customer = :customer',
          ExpressionAttributeNames: { '#type': 'type', '#customer': 'customer' },
          ExpressionAttributeValues: { ':type': ITEM_TYPE, ':customer': customer },
        },
      },
      { Delete: { TableName: this.tableName, Key: keys.customerKeys(customer, key) } },
    ]);
    return outcome.ok;
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
