/**
 * Keys as a client meets them through the local gateway (the same authorizer and policies as API
 * Gateway): revocation that counts from the very next request, privileges per route with the
 * missing one named in the 403, and per-key throttling (429) with the stack's semantics.
 */
import { silentLogger } from '../../local/handlers';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import { ADMIN, type Credentials, QueueClient } from '../support/queue-client';

jest.setTimeout(120_000);

const CUSTOMER = 301;

async function createKey(admin: QueueClient, customer: number, privileges?: string[]): Promise<Credentials & { privileges: string[] }> {
  const created = await admin.call('POST', `/customers/${customer}/keys`, privileges ? { privileges } : undefined);
  expect(created.status).toBe(201);
  return { key: created.body.key, secret: created.body.secret, privileges: created.body.privileges };
}

describe('with the default gateway settings (as `npm start`)', () => {
  let runtime: LocalRuntime;
  let admin: QueueClient;
  const as = (credentials: Credentials) => new QueueClient(runtime.apiUrl, credentials);

  beforeAll(async () => {
    runtime = await startLocalRuntime({ port: 0, pollers: false, schedules: false, logger: silentLogger });
    admin = new QueueClient(runtime.apiUrl, ADMIN);
  });
  afterAll(() => runtime?.stop());

  it('refuses a revoked key on the very next request, although it was just verified', async () => {
    const key = await createKey(admin, CUSTOMER);
    const client = as(key);
    // Verified (and its scrypt result cached in the authorizer) several times.
    for (let i = 0; i < 3; i += 1) expect((await client.get(`/customers/${CUSTOMER}/queue`)).status).toBe(200);
    expect((await admin.call('DELETE', `/customers/${CUSTOMER}/keys/${key.key}`)).status).toBe(204);
    const after = await client.get(`/customers/${CUSTOMER}/queue`);
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ '@type': 'Error', statusCode: 401 });
  });

  it('creates keys with all privileges by default, or those asked for, and lists them', async () => {
    const full = await createKey(admin, CUSTOMER);
    const reader = await createKey(admin, CUSTOMER, ['read']);
    expect(full.privileges).toEqual(['read', 'submit', 'manage']);
    expect(reader.privileges).toEqual(['read']);
    const listed = await admin.get(`/customers/${CUSTOMER}/keys`);
    const byKey = Object.fromEntries(
      (listed.body.member as Array<{ key: string; privileges: string[] }>).map((m) => [m.key, m.privileges]),
    );
    expect(byKey[full.key]).toEqual(['read', 'submit', 'manage']);
    expect(byKey[reader.key]).toEqual(['read']);
  });

  it('refuses unknown privileges with 422 and writes no key', async () => {
    const before = (await admin.get(`/customers/${CUSTOMER}/keys`)).body.totalItems;
    for (const body of [{ privileges: ['read', 'delete'] }, { privileges: [] }, { privileges: 'read' }, { other: 1 }]) {
      const answer = await admin.call('POST', `/customers/${CUSTOMER}/keys`, body);
      expect([JSON.stringify(body), answer.status]).toEqual([JSON.stringify(body), 422]);
      expect(answer.body.detail).toMatch(/privileges|Unrecognized/i);
    }
    expect((await admin.call('POST', `/customers/${CUSTOMER}/keys`, '{not json')).status).toBe(400);
    expect((await admin.get(`/customers/${CUSTOMER}/keys`)).body.totalItems).toBe(before);
  });

  it('lets a read-only key read and nothing else, naming the privilege it lacks', async () => {
    const reader = as(await createKey(admin, CUSTOMER, ['read']));
    expect((await reader.get(`/customers/${CUSTOMER}/queue`)).status).toBe(200);
    expect((await reader.get(`/customers/${CUSTOMER}/queue/batches`)).status).toBe(200);
    expect((await reader.get('/queue/load')).status).toBe(200);
    const submit = await reader.submit(CUSTOMER, [{ id: 'x', space: 1, origin: 'https://example.org/x.png' }]);
    expect(submit.status).toBe(403);
    expect(submit.body.detail).toMatch(/lacks the submit privilege/);
    expect(submit.body.detail).toMatch(/it has: read/);
    const test = await reader.call('POST', `/customers/${CUSTOMER}/queue/batches/1/test`);
    expect(test.status).toBe(403);
    expect(test.body.detail).toMatch(/lacks the manage privilege/);
    // Nothing was written: the customer's queue is still empty.
    expect((await admin.get(`/customers/${CUSTOMER}/queue`)).body.size).toBe(0);
  });

  it('lets a submit-only key submit but not read, and keeps customers apart', async () => {
    const submitter = as(await createKey(admin, CUSTOMER, ['submit']));
    const submitted = await submitter.submit(CUSTOMER, [{ id: 'y', space: 1, origin: 'https://example.org/y.png' }]);
    expect(submitted.status).toBe(201);
    const read = await submitter.get(`/customers/${CUSTOMER}/queue`);
    expect(read.status).toBe(403);
    expect(read.body.detail).toMatch(/lacks the read privilege/);
    const elsewhere = await submitter.submit(CUSTOMER + 1, [{ id: 'y', space: 1, origin: 'https://example.org/y.png' }]);
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.detail).toMatch(/customer 301; it cannot reach customer 302/);
  });
});

describe('with small per-key limits', () => {
  let runtime: LocalRuntime;
  let admin: QueueClient;

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      port: 0,
      pollers: false,
      schedules: false,
      logger: silentLogger,
      // Buckets that refill slower than a test runs: exactly `burstLimit` requests get through.
      usageLimits: {
        customer: { rateLimit: 0.001, burstLimit: 3 },
        admin: { rateLimit: 1000, burstLimit: 1000 },
        publicQueue: { rateLimit: 0.001, burstLimit: 2 },
        stage: { rateLimit: 1000, burstLimit: 1000 },
      },
    });
    admin = new QueueClient(runtime.apiUrl, ADMIN);
  });
  afterAll(() => runtime?.stop());

  it('throttles each customer key on its own bucket, with 429 and Retry-After', async () => {
    const first = new QueueClient(runtime.apiUrl, await createKey(admin, CUSTOMER));
    const second = new QueueClient(runtime.apiUrl, await createKey(admin, CUSTOMER));
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await first.get(`/customers/${CUSTOMER}/queue`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await first.get(`/customers/${CUSTOMER}/queue`);
    expect(refused.body).toMatchObject({ '@type': 'Error', statusCode: 429, title: 'Too Many Requests' });
    expect(refused.headers.get('retry-after')).toBe('1');
    // Another key of the same customer, and the admin, are not held back by the first one.
    expect((await second.get(`/customers/${CUSTOMER}/queue`)).status).toBe(200);
    expect((await admin.get(`/customers/${CUSTOMER}/queue`)).status).toBe(200);
  });

  it('refuses, as API Gateway does, a request whose authorizer names no API key', async () => {
    const bare = await startLocalRuntime({
      port: 0,
      pollers: false,
      schedules: false,
      logger: silentLogger,
      handlers: {
        authorizer: async (event: { methodArn: string }) => ({
          principalId: 'someone',
          policyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'execute-api:Invoke', Resource: `${event.methodArn.split('/').slice(0, 2).join('/')}/*` },
            ],
          },
          context: { key: 'someone', admin: 'false', customer: String(CUSTOMER) },
        }),
      },
    });
    try {
      const answer = await new QueueClient(bare.apiUrl, ADMIN).get(`/customers/${CUSTOMER}/queue`);
      expect(answer.status).toBe(403);
      expect(answer.body.detail).toMatch(/no API key/);
    } finally {
      await bare.stop();
    }
  });

  it('throttles the public GET /queue on a bucket of its own', async () => {
    const anonymous = async () => (await fetch(`${runtime.apiUrl}/queue`)).status;
    expect([await anonymous(), await anonymous(), await anonymous()]).toEqual([200, 200, 429]);
    const key = new QueueClient(runtime.apiUrl, await createKey(admin, CUSTOMER));
    expect((await key.get(`/customers/${CUSTOMER}/queue`)).status).toBe(200);
  });
});
