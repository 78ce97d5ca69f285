/**
 * The SSRF guard (lambdas/adapters/origin-guard.ts): the address table, and ingestOrigin refusing
 * literal and resolved private addresses before anything is requested.
 */
import { type IngestOptions, ingestOrigin } from '../../lambdas/adapters/origin';
import { isForbiddenAddress } from '../../lambdas/adapters/origin-guard';
import { type OriginServer, startOriginServer } from '../support/origin-server';

let server: OriginServer;

beforeAll(async () => {
  server = await startOriginServer();
});

afterAll(async () => {
  await server.close();
});

/** Production policy. */
const guarded: IngestOptions = { timeoutMs: 5_000, maxBytes: 1024 * 1024, allowPrivate: false };

describe('ingestOrigin: address policy (allowPrivate false)', () => {
  it('refuses a literal loopback IP up front', async () => {
    server.reset();
    expect(await ingestOrigin(`${server.url}/png/1x1.png`, guarded)).toEqual({
      ok: false,
      error: 'origin address 127.0.0.1 is not allowed (loopback)',
      retryable: false,
    });
    expect(server.requestCount()).toBe(0);
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254', 'link-local, cloud metadata service'],
    ['http://[::1]/a.png', '::1', 'loopback'],
    ['http://10.0.0.1/a.png', '10.0.0.1', 'private network'],
    ['http://2130706433/a.png', '127.0.0.1', 'loopback'], // WHATWG URL normalises integer hosts
    ['http://[::ffff:192.168.0.1]/a.png', '::ffff:c0a8:1', 'private network, IPv4-mapped'],
  ])('refuses %s', async (origin, address, reason) => {
    expect(await ingestOrigin(origin, guarded)).toEqual({
      ok: false,
      error: `origin address ${address} is not allowed (${reason})`,
      retryable: false,
    });
  });

  it('refuses a host name that resolves to loopback (checked after DNS)', async () => {
    server.reset();
    const result = await ingestOrigin(`http://localhost:${server.port}/png/1x1.png`, guarded);
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(!result.ok && result.error).toMatch(/^origin address (127\.0\.0\.1|::1) is not allowed \(loopback\)$/);
    expect(server.requestCount()).toBe(0);
  });

  // A redirect from an *allowed* (public) host to a private one cannot be staged here: the only
  // server the test can reach is on loopback, which the guard refuses. Each hop goes through the
  // same URL check (scheme + literal IP) and the same guarded agent/lookup as the first one, so the
  // per-hop policy is covered by the redirect-scheme test in origin.test.ts, the literal/DNS tests
  // here and the isForbiddenAddress table below.
  it('a guarded redirect endpoint on a loopback name is refused before anything is requested', async () => {
    server.reset();
    const result = await ingestOrigin(
      `http://localhost:${server.port}/redirect?to=${encodeURIComponent('http://169.254.169.254/')}`,
      guarded,
    );
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(!result.ok && result.error).toMatch(/^origin address \S+ is not allowed \(loopback\)$/);
    expect(server.requestCount()).toBe(0);
  });
});

describe('isForbiddenAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private network'],
    ['172.16.0.1', 'private network'],
    ['172.31.255.254', 'private network'],
    ['192.168.1.1', 'private network'],
    ['169.254.169.254', 'link-local, cloud metadata service'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'unique local, private network'],
    ['fd00:ec2::254', 'unique local, private network'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::ffff:127.0.0.1', 'loopback, IPv4-mapped'],
    ['::ffff:169.254.169.254', 'link-local, cloud metadata service, IPv4-mapped'],
    ['[::1]', 'loopback'],
  ])('%s is forbidden (%s)', (ip, reason) => {
    expect(isForbiddenAddress(ip)).toBe(reason);
  });

  it.each(['64:ff9b::7f00:1', '2002:7f00:1::', '::7f00:1', '192.0.2.1', '240.0.0.1', 'not-an-ip'])('%s is forbidden', (ip) => {
    expect(isForbiddenAddress(ip)).toEqual(expect.any(String));
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2001:4860:4860::8888', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    '%s is allowed',
    (ip) => {
      expect(isForbiddenAddress(ip)).toBeUndefined();
    },
  );
});
describe('ingestOrigin: cloud metadata', () => {
  it('refuses the metadata address even where private origins are allowed', async () => {
    expect(await ingestOrigin('http://169.254.169.254/latest/meta-data/', { timeoutMs: 1000, maxBytes: 1000, allowPrivate: true })).toEqual(
      {
        ok: false,
        error: 'origin address 169.254.169.254 is not allowed (link-local, cloud metadata service)',
        retryable: false,
      },
    );
  });
});
