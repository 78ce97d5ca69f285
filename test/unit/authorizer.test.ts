import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { resetAdminCredential } from '../../lambdas/adapters/admin-credential';
import { keyStore } from '../../lambdas/adapters/key-store';
import { hashSecret, verifySecret } from '../../lambdas/domain/auth';
import { clearAuthCache, handler } from '../../lambdas/handlers/authorizer';
import { logger } from '../../lambdas/observability/logger';

const ddb = mockClient(DynamoDBDocumentClient);
const secrets = mockClient(SecretsManagerClient);

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/customers/7/queue';
const BASE = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod';
const KEY = 'kAAAAAAAAAAAAAAAAAAAA';
const SECRET = 'S'.repeat(40);
let secretHash: string;

const basic = (key: string, secret: string) => `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

function event(authorizationToken: string | undefined): APIGatewayTokenAuthorizerEvent {
  return { type: 'TOKEN', methodArn: METHOD_ARN, authorizationToken } as APIGatewayTokenAuthorizerEvent;
}

function storeHas(item: Record<string, unknown> | undefined): void {
  ddb.on(GetCommand).resolves({ Item: item });
}

const keyItem = () => ({
  pk: `KEY#${KEY}`,
  sk: 'KEY',
  type: 'apiKey',
  key: KEY,
  customer: 7,
  secretHash,
  created: '2025-01-01T00:00:00.000Z',
});

const savedEnv = { ...process.env };

beforeAll(async () => {
  secretHash = await hashSecret(SECRET);
});

beforeEach(() => {
  ddb.reset();
  secrets.reset();
  clearAuthCache();
  resetAdminCredential();
  process.env = { ...savedEnv, CREDENTIALS_TABLE_NAME: 'credentials-table', ADMIN_KEY: 'admin', ADMIN_SECRET: 'local-admin-secret' };
  delete process.env.ADMIN_SECRET_NAME;
  delete process.env.AUTH_CACHE_SECONDS;
});

afterAll(() => {
  process.env = savedEnv;
});

describe('authorizer', () => {
  it('allows a valid customer key with its customer policy, context and usage key', async () => {
    // Prepare
    storeHas(keyItem());
    // Act
    const result = await handler(event(basic(KEY, SECRET)));
    // Assess
    expect(result.principalId).toBe(KEY);
    expect(result.context).toEqual({
      key: KEY,
      admin: 'false',
      customer: '7',
      privileges: 'read,submit,manage',
      denied: 'These credentials do not allow this request.',
    });
    expect(result.usageIdentifierKey).toBe(`image-queue-usage-${KEY}`);
    const [statement] = result.policyDocument.Statement as Array<{ Effect: string; Resource: string[] }>;
    expect(statement?.Effect).toBe('Allow');
    expect(statement?.Resource).toEqual(
      expect.arrayContaining([
        `${BASE}/GET/customers/7/queue`,
        `${BASE}/POST/customers/7/queue`,
        `${BASE}/POST/customers/7/queue/priority`,
        `${BASE}/POST/customers/7/queue/batches/*/test`,
        `${BASE}/GET/customers/7/spaces/*/images/*`,
        `${BASE}/GET/queue/load`,
      ]),
    );
    expect(statement?.Resource.every((r) => r.includes('/customers/7/') || r.endsWith('/queue/load') || r.endsWith('/key'))).toBe(true);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'credentials-table',
      Key: { pk: `KEY#${KEY}`, sk: 'KEY' },
      ConsistentRead: true,
    });
  });

  it('gives a read-only key only the GET routes and names the missing privilege for this request', async () => {
    storeHas({ ...keyItem(), privileges: ['read'] });
    const submitArn = `${BASE}/POST/customers/7/queue`;
    const result = await handler({ ...event(basic(KEY, SECRET)), methodArn: submitArn });
    const [statement] = result.policyDocument.Statement as Array<{ Resource: string[] }>;
    // GET routes and their HEADs (every GET route also answers HEAD).
    expect(statement?.Resource.every((r) => r.includes('/GET/') || r.includes('/HEAD/'))).toBe(true);
    expect(result.context?.privileges).toBe('read');
    expect(result.context?.denied).toBe('This key lacks the submit privilege that POST /customers/{customer}/queue needs (it has: read).');
  });

  it('allows the admin key everything, metered by the admin usage key', async () => {
    const result = await handler(event(basic('admin', 'local-admin-secret')));
    expect(result.policyDocument.Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: [`${BASE}/*/*`] }]);
    expect(result.context).toMatchObject({ admin: 'true', privileges: 'read,submit,manage' });
    expect(result.usageIdentifierKey).toBe('image-queue-admin-usage');
    await expect(handler(event(basic('admin', 'local-admin-secreT')))).rejects.toThrow(/^Unauthorized$/);
    await expect(handler(event(basic('admin', 'local')))).rejects.toThrow(/^Unauthorized$/);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('reads the admin credential from Secrets Manager once when the environment has none', async () => {
    // Prepare
    delete process.env.ADMIN_KEY;
    delete process.env.ADMIN_SECRET;
    process.env.ADMIN_SECRET_NAME = 'image-queue/admin';
    process.env.AUTH_CACHE_SECONDS = '0';
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ key: 'admin', secret: 'from-secrets' }) });
    // Act
    const first = await handler(event(basic('admin', 'from-secrets')));
    const second = await handler(event(basic('admin', 'from-secrets')));
    // Assess
    expect(first.context).toMatchObject({ admin: 'true' });
    expect(second.context).toMatchObject({ admin: 'true' });
    await expect(handler(event(basic('admin', 'local-admin-secret')))).rejects.toThrow(/^Unauthorized$/);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: 'image-queue/admin' });
  });

  it('fails (not 401) when the admin secret is malformed, without echoing it', async () => {
    delete process.env.ADMIN_KEY;
    delete process.env.ADMIN_SECRET;
    process.env.ADMIN_SECRET_NAME = 'image-queue/admin';
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'not json super-secret-value' });
    const error = await handler(event(basic('admin', 'x'))).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toBe('Unauthorized');
    expect((error as Error).message).not.toContain('super-secret-value');
  });

  it('lets a table failure surface as an error (API Gateway 500), not as Unauthorized', async () => {
    ddb.on(GetCommand).rejects(new Error('ProvisionedThroughputExceededException'));
    await expect(handler(event(basic(KEY, SECRET)))).rejects.toThrow('ProvisionedThroughputExceededException');
  });

  it('reads the key on every request, so a revoked key is refused at once even with a cached verification', async () => {
    // Prepare: default cache (300 s)
    storeHas(keyItem());
    await handler(event(basic(KEY, SECRET)));
    // Act: the key is revoked
    storeHas(undefined);
    // Assess
    await expect(handler(event(basic(KEY, SECRET)))).rejects.toThrow(/^Unauthorized$/);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(2);
  });

  it('takes privileges from the item on every request', async () => {
    storeHas(keyItem());
    await expect(handler(event(basic(KEY, SECRET)))).resolves.toMatchObject({ context: { privileges: 'read,submit,manage' } });
    storeHas({ ...keyItem(), privileges: ['read'] });
    await expect(handler(event(basic(KEY, SECRET)))).resolves.toMatchObject({ context: { privileges: 'read' } });
  });

  it('reuses a verification only against the same stored hash', async () => {
    storeHas(keyItem());
    await handler(event(basic(KEY, SECRET)));
    // The key was re-issued under the same id with another secret: the old secret must fail.
    storeHas({ ...keyItem(), secretHash: await hashSecret('another-secret') });
    await expect(handler(event(basic(KEY, SECRET)))).rejects.toThrow(/^Unauthorized$/);
    // A different header (wrong secret) is never served from the cache.
    storeHas(keyItem());
    await expect(handler(event(basic(KEY, 'wrong')))).rejects.toThrow(/^Unauthorized$/);
  });

  it('verifies every time when AUTH_CACHE_SECONDS=0', async () => {
    process.env.AUTH_CACHE_SECONDS = '0';
    storeHas(keyItem());
    await expect(handler(event(basic(KEY, SECRET)))).resolves.toMatchObject({ principalId: KEY });
    storeHas(undefined);
    await expect(handler(event(basic(KEY, SECRET)))).rejects.toThrow(/^Unauthorized$/);
  });

  it('never logs the secret or its hash', async () => {
    const logged: string[] = [];
    const capture = (...args: unknown[]) => {
      logged.push(JSON.stringify(args));
    };
    const spies = (['debug', 'info', 'warn', 'error'] as const).map((level) =>
      jest.spyOn(logger, level).mockImplementation(capture as never),
    );
    try {
      storeHas(keyItem());
      await handler(event(basic(KEY, 'wrong-secret-value')));
    } catch {
      // expected
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(logged.length).toBeGreaterThan(0);
    const all = logged.join('\n');
    expect(all).not.toContain('wrong-secret-value');
    expect(all).not.toContain(secretHash);
    expect(all).not.toContain(Buffer.from(`${KEY}:wrong-secret-value`).toString('base64'));
  });
});

describe("DynamoKeyStore (the authorizer's key source)", () => {
  const actionsOf = (i: number) => ddb.commandCalls(TransactWriteCommand)[i]?.args[0].input.TransactItems ?? [];

  it('stores a new key with its secret hashed, never in clear, and its listing entry in the same transaction', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    // Act
    const created = await keyStore().create(7, ['submit', 'read']);
    // Assess
    const [key, ref] = actionsOf(0);
    const item = key?.Put?.Item as Record<string, unknown>;
    expect(key?.Put?.TableName).toBe('credentials-table');
    expect(key?.Put?.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(created.privileges).toEqual(['read', 'submit']);
    expect(item).toMatchObject({
      pk: `KEY#${created.key}`,
      sk: 'KEY',
      type: 'apiKey',
      key: created.key,
      customer: 7,
      privileges: ['read', 'submit'],
      created: created.created,
    });
    expect(ref?.Put?.Item).toEqual({
      pk: 'CUST#7#KEYS',
      sk: created.key,
      type: 'apiKeyRef',
      key: created.key,
      customer: 7,
      privileges: ['read', 'submit'],
      created: created.created,
    });
    expect(JSON.stringify(item)).not.toContain(created.secret);
    expect(JSON.stringify(ref)).not.toMatch(/secret/i);
    await expect(verifySecret(created.secret, item.secretHash as string)).resolves.toBe(true);
  });

  it("lists a customer's keys with one consistent query of its own partition, without hashes", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { type: 'apiKeyRef', key: 'kB', customer: 7, privileges: ['read'], created: '2025-01-02T00:00:00.000Z' },
        { type: 'apiKeyRef', key: 'kA', customer: 7, created: '2025-01-01T00:00:00.000Z' },
      ],
    });
    // Act
    const listed = await keyStore().list(7);
    // Assess
    expect(listed).toEqual([
      // A key stored before privileges existed has them all.
      { key: 'kA', customer: 7, privileges: ['read', 'submit', 'manage'], created: '2025-01-01T00:00:00.000Z' },
      { key: 'kB', customer: 7, privileges: ['read'], created: '2025-01-02T00:00:00.000Z' },
    ]);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      ConsistentRead: true,
      ExpressionAttributeValues: { ':pk': 'CUST#7#KEYS' },
    });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.IndexName).toBeUndefined();
  });

  it('revokes only a key of the given customer, with its listing entry', async () => {
    storeHas(undefined);
    ddb
      .on(TransactWriteCommand)
      .resolvesOnce({})
      .rejects(
        new TransactionCanceledException({
          message: 'cancelled',
          $metadata: {},
          CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
        }),
      );
    await expect(keyStore().revoke(7, KEY)).resolves.toBe(true);
    await expect(keyStore().revoke(8, KEY)).resolves.toBe(false);
    const [key, ref] = actionsOf(1);
    expect(key?.Delete).toMatchObject({
      Key: { pk: `KEY#${KEY}`, sk: 'KEY' },
      ExpressionAttributeValues: { ':customer': 8, ':type': 'apiKey' },
    });
    expect(ref?.Delete?.Key).toEqual({ pk: 'CUST#8#KEYS', sk: KEY });
    // A malformed key never reaches the table.
    await expect(keyStore().revoke(7, '../x')).resolves.toBe(false);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
  });
});
