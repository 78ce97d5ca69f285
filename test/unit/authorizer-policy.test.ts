import { ROUTES } from '../../lambdas/config/routes';
import { authContext, type PolicyDocument, policyFor } from '../../lambdas/http/authorizer-policy';

// ------------------------------------------------------------------------------------------------
// Policies, evaluated the way API Gateway does: `*` in a resource ARN matches any characters
// (slashes included); an explicit Deny wins; otherwise some Allow must match.

const PREFIX = 'arn:aws:execute-api:eu-west-1:123456789012:abc123';
const STAGE = 'prod';

function arn(method: string, path: string, stage = STAGE): string {
  return `${PREFIX}/${stage}/${method}${path}`;
}

function wildcard(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

function allows(policy: PolicyDocument, methodArn: string): boolean {
  const matching = policy.Statement.filter((s) => s.Resource.some((r) => wildcard(r).test(methodArn)));
  if (matching.some((s) => s.Effect === 'Deny')) return false;
  return matching.some((s) => s.Effect === 'Allow' && s.Action === 'execute-api:Invoke');
}

/** A concrete path for a resource template. */
function pathFor(resource: string, customer: number): string {
  return resource
    .replace('{customer}', String(customer))
    .replace('{batch}', '12')
    .replace('{space}', '3')
    .replace('{image}', 'my-image')
    .replace('{key}', 'kSomeKey');
}

describe('policyFor', () => {
  const calledArn = arn('GET', '/customers/7/queue');

  it('gives an admin everything in the stage', () => {
    // Act
    const policy = policyFor({ key: 'admin', admin: true }, calledArn);
    // Assess
    expect(policy).toEqual({
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: [`${PREFIX}/${STAGE}/*/*`] }],
    });
    for (const route of ROUTES) {
      expect(allows(policy, arn(route.method, pathFor(route.resource, 7)))).toBe(true);
      expect(allows(policy, arn(route.method, pathFor(route.resource, 8)))).toBe(true);
    }
    expect(allows(policy, arn('GET', '/queue', 'other-stage'))).toBe(false);
  });

  it('gives a customer key exactly the routes its privileges cover, for its own customer', () => {
    const subsets: Array<Array<'read' | 'submit' | 'manage'>> = [
      ['read'],
      ['submit'],
      ['manage'],
      ['read', 'manage'],
      ['read', 'submit', 'manage'],
    ];
    for (const privileges of subsets) {
      const policy = policyFor({ key: 'k1', admin: false, customer: 7, privileges }, calledArn);
      for (const route of ROUTES) {
        if (route.access === 'public') continue;
        // A route without a privilege open to any valid key (GET /key) is every key's.
        const expected = route.privilege !== undefined ? privileges.includes(route.privilege) : route.access === 'authenticated';
        const own = arn(route.method, pathFor(route.resource, 7));
        expect([privileges.join(','), route.method, route.resource, allows(policy, own)]).toEqual([
          privileges.join(','),
          route.method,
          route.resource,
          expected,
        ]);
      }
    }
    // Every route a customer key may call names its privilege: GETs read, batch POSTs submit;
    // test, retry and cancel (DELETE of a batch) manage.
    const manages = (r: (typeof ROUTES)[number]) => r.method === 'DELETE' || r.resource.endsWith('/test') || r.resource.endsWith('/retry');
    for (const route of ROUTES.filter((r) => r.access === 'customer' || (r.access === 'authenticated' && r.resource !== '/key'))) {
      expect(route.privilege).toBe(route.method === 'GET' ? 'read' : manages(route) ? 'manage' : 'submit');
    }
  });

  it('lets a customer key call its own customer routes and nothing admin-only, on every route', () => {
    const policy = policyFor({ key: 'k1', admin: false, customer: 7 }, calledArn);
    for (const route of ROUTES) {
      if (route.access === 'public') continue; // no authorizer on public routes
      const own = arn(route.method, pathFor(route.resource, 7));
      const other = arn(route.method, pathFor(route.resource, 8));
      const prefixLookalike = arn(route.method, pathFor(route.resource, 77));
      const expected = route.access === 'customer' || route.access === 'authenticated';
      expect([route.method, route.resource, allows(policy, own)]).toEqual([route.method, route.resource, expected]);
      if (route.resource.includes('{customer}')) {
        expect(allows(policy, other)).toBe(false);
        expect(allows(policy, prefixLookalike)).toBe(false);
      }
    }
  });

  it('does not depend on the route called (safe to cache by header)', () => {
    const principal = { key: 'k1', admin: false, customer: 7 };
    const policies = ROUTES.map((r) => policyFor(principal, arn(r.method, pathFor(r.resource, 7))));
    for (const policy of policies) expect(policy).toEqual(policies[0]);
    const admin = { key: 'admin', admin: true };
    expect(policyFor(admin, arn('GET', '/queue/status'))).toEqual(policyFor(admin, arn('POST', '/customers/1/keys')));
  });

  it('refuses other customers, key management and /queue/status for a customer key', () => {
    const policy = policyFor({ key: 'k1', admin: false, customer: 7 }, calledArn);
    expect(allows(policy, arn('GET', '/customers/7/keys'))).toBe(false);
    expect(allows(policy, arn('POST', '/customers/7/keys'))).toBe(false);
    expect(allows(policy, arn('DELETE', '/customers/7/keys/k1'))).toBe(false);
    expect(allows(policy, arn('GET', '/queue/status'))).toBe(false);
    expect(allows(policy, arn('POST', '/queue/load'))).toBe(false);
    expect(allows(policy, arn('GET', '/customers/8/queue'))).toBe(false);
    expect(allows(policy, arn('GET', '/customers/70/queue'))).toBe(false);
    expect(allows(policy, arn('GET', '/customers/7/queue', 'other-stage'))).toBe(false);
  });

  it('denies everything to a non-admin principal without a customer', () => {
    const policy = policyFor({ key: 'k1', admin: false }, calledArn);
    expect(policy.Statement.every((s) => s.Effect === 'Deny')).toBe(true);
    expect(allows(policy, arn('GET', '/customers/7/queue'))).toBe(false);
  });

  it('throws on something that is not a method ARN', () => {
    expect(() => policyFor({ key: 'admin', admin: true }, 'not-an-arn')).toThrow(/method ARN/);
  });
});

describe('authContext', () => {
  it('passes strings only', () => {
    const arn7 = 'arn:aws:execute-api:eu-west-1:1:api/prod/GET/customers/7/queue';
    expect(authContext({ key: 'admin', admin: true }, arn7)).toEqual({
      key: 'admin',
      admin: 'true',
      customer: '',
      privileges: 'read,submit,manage',
      denied: 'These credentials do not allow this request.',
    });
    expect(authContext({ key: 'k1', admin: false, customer: 7, privileges: ['read'] }, arn7)).toEqual({
      key: 'k1',
      admin: 'false',
      customer: '7',
      privileges: 'read',
      denied: 'These credentials do not allow this request.',
    });
  });

  it('says why this very request is refused', () => {
    const base = 'arn:aws:execute-api:eu-west-1:1:api/prod';
    const reader = { key: 'k1', admin: false, customer: 7, privileges: ['read'] as const };
    expect(authContext(reader, `${base}/POST/customers/7/queue/batches/3/test`).denied).toBe(
      'This key lacks the manage privilege that POST /customers/{customer}/queue/batches/{batch}/test needs (it has: read).',
    );
    expect(authContext(reader, `${base}/GET/customers/8/queue`).denied).toBe('This key belongs to customer 7; it cannot reach customer 8.');
    expect(authContext(reader, `${base}/GET/queue/status`).denied).toBe('Only an admin key may call this route.');
  });
});
