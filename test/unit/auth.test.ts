import { findRoute } from '../../lambdas/config/routes';
import { hashSecret, headerDigest, KEY_PATTERN, newKeyPair, refusalOf, safeEqual, verifySecret } from '../../lambdas/domain/auth';

const basic = (pair: string) => `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;

describe('hashSecret / verifySecret', () => {
  it('round-trips and encodes scrypt$N$r$p$salt$hash', async () => {
    // Act
    const encoded = await hashSecret('correct horse');
    // Assess
    expect(encoded).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    await expect(verifySecret('correct horse', encoded)).resolves.toBe(true);
  });

  it('rejects a different secret', async () => {
    const encoded = await hashSecret('correct horse');
    await expect(verifySecret('correct horsf', encoded)).resolves.toBe(false);
    await expect(verifySecret('', encoded)).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashSecret('same'), hashSecret('same')]);
    expect(a).not.toBe(b);
  });

  it.each([
    ['empty', ''],
    ['other algorithm', 'bcrypt$16384$8$1$c2FsdA$aGFzaA'],
    ['too few parts', 'scrypt$16384$8$1$c2FsdA'],
    ['N not a power of two', 'scrypt$1000$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
    ['N too large', `scrypt$${2 ** 24}$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA`],
    ['non-numeric parameter', 'scrypt$abc$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
    ['short hash', 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0$aGFzaA'],
  ])('answers false for a malformed encoding (%s)', async (_name, encoded) => {
    await expect(verifySecret('anything', encoded)).resolves.toBe(false);
  });
});

describe('safeEqual', () => {
  it('compares strings of any length', () => {
    expect(safeEqual('local-admin-secret', 'local-admin-secret')).toBe(true);
    expect(safeEqual('local-admin-secreT', 'local-admin-secret')).toBe(false);
    expect(safeEqual('short', 'local-admin-secret')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });
});

describe('newKeyPair', () => {
  it('makes a k-prefixed 21-character key and a 40-character url-safe secret', () => {
    const { key, secret } = newKeyPair();
    expect(key).toMatch(/^k[A-Za-z0-9_-]{20}$/);
    expect(KEY_PATTERN.test(key)).toBe(true);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{40}$/);
  });

  it('never repeats', () => {
    const pairs = Array.from({ length: 200 }, () => newKeyPair());
    expect(new Set(pairs.map((p) => p.key)).size).toBe(200);
    expect(new Set(pairs.map((p) => p.secret)).size).toBe(200);
  });
});

describe('headerDigest', () => {
  it('is stable and does not contain the header', () => {
    const header = basic('k1:very-secret');
    expect(headerDigest(header)).toBe(headerDigest(header));
    expect(headerDigest(header)).not.toContain('very-secret');
    expect(headerDigest(header)).not.toBe(headerDigest(basic('k1:very-secreT')));
  });
});

describe('refusalOf', () => {
  const route = (method: string, resource: string) => {
    const found = findRoute(method, resource);
    if (!found) throw new Error(`no route ${method} ${resource}`);
    return found;
  };
  const submit = route('POST', '/customers/{customer}/queue');
  const reader = { key: 'k1', admin: false, customer: 7, privileges: ['read'] as const };

  it('lets an admin key call every route, for any customer', () => {
    expect(refusalOf({ key: 'admin', admin: true }, route('GET', '/queue/status'))).toBeUndefined();
    expect(refusalOf({ key: 'admin', admin: true }, submit, '8')).toBeUndefined();
  });

  it('lets a customer key call the routes of the privileges it holds, for its own customer', () => {
    expect(refusalOf(reader, route('GET', '/customers/{customer}/queue'), '7')).toBeUndefined();
    expect(refusalOf({ ...reader, privileges: ['submit'] }, submit, '7')).toBeUndefined();
    // Keys stored before privileges existed hold all of them.
    expect(refusalOf({ key: 'k1', admin: false, customer: 7 }, submit, '7')).toBeUndefined();
  });

  it('says what a customer key lacks, which customer it belongs to, or that the route is admin-only', () => {
    expect(refusalOf(reader, submit, '7')).toBe(
      'This key lacks the submit privilege that POST /customers/{customer}/queue needs (it has: read).',
    );
    expect(refusalOf({ ...reader, privileges: [] }, submit, '7')).toMatch(/\(it has: none\)\.$/);
    expect(refusalOf(reader, route('GET', '/customers/{customer}/queue'), '8')).toBe(
      'This key belongs to customer 7; it cannot reach customer 8.',
    );
    expect(refusalOf(reader, route('GET', '/customers/{customer}/keys'), '7')).toBe('Only an admin key may call this route.');
  });

  it('lets any valid key call a route that needs no privilege (GET /key)', () => {
    expect(refusalOf({ ...reader, privileges: [] }, route('GET', '/key'))).toBeUndefined();
  });
});
