/**
 * Every route in ROUTES × every kind of caller, through the local runtime (its API Gateway
 * emulation calls lambdas/handlers/authorizer.ts and evaluates the returned policy).
 *
 * Only authentication/authorization outcomes are asserted for routes served by other handlers:
 * 401/403 versus "passed auth" (any other status, e.g. 200/201/204/400/404/405/422, but never the
 * runtime's "authorizer failed" 500). The key-management routes (api-keys) are asserted exactly.
 */
import { type Access, ROUTES, type Route } from '../../lambdas/config/routes';
import { silentLogger } from '../../local/handlers';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';

// Starting DynamoDB Local takes a few seconds; `testTimeout` in a Jest project entry is not applied.
jest.setTimeout(120_000);

const ADMIN = { key: 'admin', secret: 'local-admin-secret' };
const OWN_CUSTOMER = 101;
const OTHER_CUSTOMER = 102;

type Variant = 'no credentials' | 'wrong secret' | 'revoked key' | "another customer's key" | 'own key' | 'admin key';
const VARIANTS: Variant[] = ['no credentials', 'wrong secret', 'revoked key', "another customer's key", 'own key', 'admin key'];

type Outcome = 'passes' | 401 | 403;

/** What each kind of caller must get on a route of each access level. */
function expected(access: Access, variant: Variant): Outcome {
  if (access === 'public') return 'passes';
  switch (variant) {
    case 'no credentials':
    case 'wrong secret':
    case 'revoked key':
      return 401;
    case 'admin key':
      return 'passes';
    case 'own key':
      return access === 'admin' ? 403 : 'passes';
    case "another customer's key":
      // `authenticated` routes (GET /queue/load) take any valid key.
      return access === 'authenticated' ? 'passes' : 403;
  }
}

interface Pair {
  key: string;
  secret: string;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

let runtime: LocalRuntime | undefined;
let apiUrl: string;
const credentials: Partial<Record<Variant, Pair>> = {};
/** Keys the admin may delete, one per DELETE of the matrix, so the keys used by callers survive. */
const disposable: string[] = [];

const basic = ({ key, secret }: Pair) => `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

async function call(method: string, path: string, authorization?: string, body?: string): Promise<Answer> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: {
      ...(authorization ? { Authorization: authorization } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    body,
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

async function createKey(customer: number): Promise<Pair> {
  const answer = await call('POST', `/customers/${customer}/keys`, basic(ADMIN));
  if (answer.status !== 201) throw new Error(`creating a key for ${customer} answered ${answer.status}: ${answer.text}`);
  const { key, secret } = answer.json as { key: string; secret: string };
  return { key, secret };
}

/** A concrete path for a route; `{key}` is a key the admin may delete. */
function pathFor(route: Route, variant: Variant): string {
  return route.resource
    .replace('{customer}', String(OWN_CUSTOMER))
    .replace('{batch}', '1')
    .replace('{space}', '1')
    .replace('{image}', 'auth-matrix-image')
    .replace('{key}', () => (variant === 'admin key' ? (disposable.shift() ?? 'kMissing') : 'kNotDeleted'));
}

/** A body where a POST needs one: an empty object, which a handler refuses (400/422) without side effects. */
function bodyFor(route: Route): string | undefined {
  return route.method === 'POST' && route.fn !== 'api-keys' ? '{}' : undefined;
}

function authorizationFor(variant: Variant): string | undefined {
  if (variant === 'no credentials') return undefined;
  const pair = credentials[variant];
  if (!pair) throw new Error(`no credentials prepared for ${variant}`);
  return basic(pair);
}

beforeAll(async () => {
  runtime = await startLocalRuntime({
    port: 0,
    env: { AUTH_CACHE_SECONDS: '0' },
    // Only the API is exercised: no queue pollers or schedules.
    pollers: false,
    schedules: false,
    logger: process.env.AUTH_MATRIX_VERBOSE ? undefined : silentLogger,
  });
  apiUrl = runtime.apiUrl.replace(/\/$/, '');

  const own = await createKey(OWN_CUSTOMER);
  credentials['own key'] = own;
  credentials['wrong secret'] = { key: own.key, secret: `${own.secret.slice(0, -1)}${own.secret.endsWith('x') ? 'y' : 'x'}` };
  credentials["another customer's key"] = await createKey(OTHER_CUSTOMER);
  credentials['admin key'] = ADMIN;

  // A key that worked once, then was revoked: with AUTH_CACHE_SECONDS=0 it must fail at once.
  const revoked = await createKey(OWN_CUSTOMER);
  const before = await call('GET', `/customers/${OWN_CUSTOMER}/queue`, basic(revoked));
  expect([401, 403]).not.toContain(before.status);
  const deleted = await call('DELETE', `/customers/${OWN_CUSTOMER}/keys/${revoked.key}`, basic(ADMIN));
  expect(deleted.status).toBe(204);
  credentials['revoked key'] = revoked;

  // One real key per admin call on a `{key}` route (GET reads it, DELETE revokes it).
  const keyCalls = ROUTES.filter((r) => r.resource.includes('{key}')).length;
  for (let i = 0; i < keyCalls; i += 1) disposable.push((await createKey(OWN_CUSTOMER)).key);
});

afterAll(async () => {
  await runtime?.stop();
});

const cases = ROUTES.flatMap((route) => VARIANTS.map((variant) => ({ route, variant })));

describe('auth matrix', () => {
  it('covers every route', () => {
    expect(new Set(cases.map((c) => `${c.route.method} ${c.route.resource}`)).size).toBe(ROUTES.length);
  });

  it.each(cases.map((c) => [`${c.route.method} ${c.route.resource} (${c.route.access})`, c.variant, c] as const))(
    '%s with %s',
    async (_name, variant, { route }) => {
      // Act
      const answer = await call(route.method, pathFor(route, variant), authorizationFor(variant), bodyFor(route));
      // Assess
      const outcome = expected(route.access, variant);
      const seen = { route: `${route.method} ${route.resource}`, variant, status: answer.status, body: answer.text.slice(0, 300) };
      if (outcome === 'passes') {
        expect([401, 403]).not.toContain(answer.status);
        // The runtime answers 500 "The authorizer failed." when the authorizer throws anything but Unauthorized.
        expect({ ...seen, authorizerFailed: /authorizer/i.test(answer.text) }).toMatchObject({ authorizerFailed: false });
        if (route.fn === 'api-keys') {
          const exact = { GET: 200, POST: 201, DELETE: 204 }[route.method];
          expect(seen).toMatchObject({ status: exact });
        }
      } else {
        expect(seen).toMatchObject({ status: outcome });
        expect(answer.json).toMatchObject({ '@type': 'Error', statusCode: outcome });
        expect(answer.headers.get('content-type') ?? '').toMatch(/json/);
        if (outcome === 401) expect(answer.headers.get('www-authenticate') ?? '').toMatch(/Basic/);
      }
    },
  );
});

describe('public GET /queue', () => {
  it.each(VARIANTS)('answers 200 with %s', async (variant) => {
    const answer = await call('GET', '/queue', authorizationFor(variant));
    expect(answer.status).toBe(200);
  });
});

describe('key management', () => {
  it('creates a key whose secret is shown once and never listed', async () => {
    // Act
    const created = await call('POST', `/customers/${OWN_CUSTOMER}/keys`, basic(ADMIN));
    const listed = await call('GET', `/customers/${OWN_CUSTOMER}/keys`, basic(ADMIN));
    // Assess
    expect(created.status).toBe(201);
    const key = created.json as Record<string, unknown>;
    expect(key).toMatchObject({
      '@type': 'vocab:Key',
      '@id': `${apiUrl}/customers/${OWN_CUSTOMER}/keys/${String(key.key)}`,
      customer: OWN_CUSTOMER,
    });
    expect(key.key).toMatch(/^k[A-Za-z0-9_-]{20}$/);
    expect(key.secret).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(created.headers.get('location')).toBe(key['@id']);

    expect(listed.status).toBe(200);
    const collection = listed.json as { '@type': string; totalItems: number; member: Record<string, unknown>[] };
    expect(collection['@type']).toBe('Collection');
    expect(collection.member.map((m) => m.key)).toContain(key.key);
    expect(collection.totalItems).toBe(collection.member.length);
    expect(listed.text).not.toContain(String(key.secret));
    expect(listed.text).not.toMatch(/secret|scrypt/i);
    // The other customer's key is not listed under this customer.
    expect(collection.member.map((m) => m.key)).not.toContain(credentials["another customer's key"]?.key);
  });

  it('works with Bearer key:secret as well as Basic', async () => {
    const own = credentials['own key'] as Pair;
    const answer = await call('GET', `/customers/${OWN_CUSTOMER}/queue`, `Bearer ${own.key}:${own.secret}`);
    expect([401, 403]).not.toContain(answer.status);
  });

  it("answers 404 when deleting another customer's key or an unknown key, and keeps the key", async () => {
    const other = credentials["another customer's key"] as Pair;
    const wrongOwner = await call('DELETE', `/customers/${OWN_CUSTOMER}/keys/${other.key}`, basic(ADMIN));
    expect(wrongOwner.status).toBe(404);
    expect(wrongOwner.json).toMatchObject({ '@type': 'Error', statusCode: 404 });
    const unknown = await call('DELETE', `/customers/${OWN_CUSTOMER}/keys/kDoesNotExist`, basic(ADMIN));
    expect(unknown.status).toBe(404);
    const stillWorks = await call('GET', `/customers/${OTHER_CUSTOMER}/queue`, basic(other));
    expect([401, 403]).not.toContain(stillWorks.status);
  });

  it('answers 404 for a customer id that is not an integer', async () => {
    const answer = await call('GET', '/customers/abc/keys', basic(ADMIN));
    expect(answer.status).toBe(404);
  });
});
