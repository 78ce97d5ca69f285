import { type IngestOptions, ingestOrigin, mediaTypeFor } from '../../lambdas/adapters/origin';
import { crc32, gif, jpeg, png } from '../support/images';
import { type OriginServer, startOriginServer } from '../support/origin-server';

let server: OriginServer;

beforeAll(async () => {
  server = await startOriginServer();
});

afterAll(async () => {
  await server.close();
});

/** Loopback test server: private addresses must be allowed. */
const local: IngestOptions = { timeoutMs: 5_000, maxBytes: 1024 * 1024, allowPrivate: true };
/** Production policy. */
const guarded: IngestOptions = { ...local, allowPrivate: false };

describe('test images', () => {
  it('computes the standard CRC32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it.each([
    ['png', png],
    ['gif', gif],
    ['jpeg', jpeg],
  ] as const)('%s is deterministic and sized by its arguments', (_name, make) => {
    expect(make(5, 3).equals(make(5, 3))).toBe(true);
    expect(make(5, 3).equals(make(3, 5))).toBe(false);
    expect(() => make(0, 1)).toThrow(RangeError);
  });
});

describe('ingestOrigin: images', () => {
  it.each([
    ['png', 'png', 'image/png', 1, 1],
    ['png', 'png', 'image/png', 640, 480],
    ['jpeg', 'jpg', 'image/jpeg', 17, 9],
    ['jpeg', 'jpg', 'image/jpeg', 1024, 768],
    ['gif', 'gif', 'image/gif', 3, 7],
    ['gif', 'gif', 'image/gif', 100, 50],
  ] as const)('reads a %s (%s) as %s %ix%i', async (kind, ext, mediaType, width, height) => {
    const expectedBytes = { png, jpeg, gif }[kind](width, height).length;
    const result = await ingestOrigin(`${server.url}/${kind}/${width}x${height}.${ext}`, local);
    expect(result).toEqual({ ok: true, width, height, mediaType, contentLength: expectedBytes });
  });

  it('maps image-size types to media types', () => {
    expect(mediaTypeFor('jpg')).toBe('image/jpeg');
    expect(mediaTypeFor('tiff')).toBe('image/tiff');
    expect(mediaTypeFor('webp')).toBe('image/webp');
    expect(mediaTypeFor('svg')).toBe('image/svg+xml');
    expect(mediaTypeFor('jp2')).toBe('image/jp2');
    expect(mediaTypeFor('avif')).toBe('image/avif');
    expect(mediaTypeFor('heic')).toBe('image/heic');
    expect(mediaTypeFor('bmp')).toBe('image/bmp');
  });
});

describe('ingestOrigin: HTTP failures', () => {
  it('404 is not retryable', async () => {
    expect(await ingestOrigin(`${server.url}/missing`, local)).toEqual({
      ok: false,
      error: 'origin answered HTTP 404',
      retryable: false,
    });
  });

  it('500 is retryable', async () => {
    expect(await ingestOrigin(`${server.url}/error500`, local)).toEqual({
      ok: false,
      error: 'origin answered HTTP 500',
      retryable: true,
    });
  });

  it('a flaky origin answers 503 (retryable) until it recovers', async () => {
    const origin = `${server.url}/flaky/unit-flaky/2/png/4x2.png`;
    expect(await ingestOrigin(origin, local)).toEqual({ ok: false, error: 'origin answered HTTP 503', retryable: true });
    expect(await ingestOrigin(origin, local)).toMatchObject({ ok: false, retryable: true });
    expect(await ingestOrigin(origin, local)).toMatchObject({ ok: true, width: 4, height: 2 });
    expect(server.requestCount('/flaky/unit-flaky/')).toBe(3);
  });

  it('text is not a recognised image', async () => {
    const result = await ingestOrigin(`${server.url}/text`, local);
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(!result.ok && result.error).toMatch(/^origin is not a recognised image \(.+\)$/);
    expect(!result.ok && result.error).toContain('text/plain');
  });

  it('refuses a declared Content-Length above maxBytes without reading the body', async () => {
    expect(await ingestOrigin(`${server.url}/huge`, local)).toEqual({
      ok: false,
      error: `origin is larger than ${local.maxBytes} bytes`,
      retryable: false,
    });
  });

  it('cuts off a chunked body once it exceeds maxBytes', async () => {
    // The server would stream 1 GiB; the default test timeout (5 s) proves we stopped early.
    expect(await ingestOrigin(`${server.url}/huge-chunked`, { ...local, timeoutMs: 4_000, maxBytes: 256 * 1024 })).toEqual({
      ok: false,
      error: 'origin is larger than 262144 bytes',
      retryable: false,
    });
  });

  it('an origin that never answers times out (retryable)', async () => {
    expect(await ingestOrigin(`${server.url}/slow`, { ...local, timeoutMs: 300 })).toEqual({
      ok: false,
      error: 'origin did not respond within 300 ms',
      retryable: true,
    });
  });

  it('connection refused is retryable', async () => {
    const gone = await startOriginServer();
    const url = `${gone.url}/png/1x1.png`;
    await gone.close();
    const result = await ingestOrigin(url, local);
    expect(result).toMatchObject({ ok: false, retryable: true });
    expect(!result.ok && result.error).toMatch(/refused the connection/);
  });

  it('an unresolvable host is not retryable', async () => {
    const result = await ingestOrigin('http://no-such-host.invalid/a.png', local);
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(!result.ok && result.error).toBe('origin host no-such-host.invalid could not be resolved');
  });
});

describe('ingestOrigin: redirects', () => {
  it('follows a redirect', async () => {
    const target = encodeURIComponent(`${server.url}/png/8x6.png`);
    expect(await ingestOrigin(`${server.url}/redirect?to=${target}`, local)).toMatchObject({
      ok: true,
      width: 8,
      height: 6,
      mediaType: 'image/png',
    });
  });

  it('follows a relative Location', async () => {
    expect(await ingestOrigin(`${server.url}/redirect?to=${encodeURIComponent('/gif/2x2.gif')}`, local)).toMatchObject({
      ok: true,
      width: 2,
      height: 2,
    });
  });

  it('follows exactly maxRedirects redirects and refuses one more', async () => {
    expect(await ingestOrigin(`${server.url}/redirects/3/png/3x3.png`, local)).toMatchObject({ ok: true, width: 3 });
    const tooMany = await ingestOrigin(`${server.url}/redirects/4/png/3x3.png`, local);
    expect(tooMany).toMatchObject({ ok: false, retryable: false });
    expect(!tooMany.ok && tooMany.error).toMatch(/^origin redirected more than 3 times/);
    expect(await ingestOrigin(`${server.url}/redirects/1/png/3x3.png`, { ...local, maxRedirects: 0 })).toMatchObject({
      ok: false,
    });
  });

  it('a redirect loop ends in an error', async () => {
    server.reset();
    const result = await ingestOrigin(`${server.url}/redirect-loop`, local);
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(!result.ok && result.error).toMatch(/^origin redirected more than 3 times/);
    expect(server.requestCount('/redirect-loop')).toBe(4);
  });

  it('refuses a redirect to a non-http scheme', async () => {
    const result = await ingestOrigin(`${server.url}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`, local);
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(!result.ok && result.error).toMatch(/unsupported URL scheme file:/);
  });
});

describe('ingestOrigin: URLs refused before fetching', () => {
  it.each(['file:///etc/passwd', 'ftp://example.com/a.png', 'data:image/png;base64,AAAA', 'javascript:alert(1)'])(
    'refuses the non-http scheme of %s',
    async (origin) => {
      const result = await ingestOrigin(origin, guarded);
      expect(result).toMatchObject({ ok: false, retryable: false });
      expect(!result.ok && result.error).toMatch(/^origin URL scheme [a-z]+: is not supported/);
    },
  );

  it('refuses something that is not a URL', async () => {
    expect(await ingestOrigin('not a url', guarded)).toEqual({
      ok: false,
      error: 'origin is not a valid URL',
      retryable: false,
    });
  });

  it('never echoes credentials from the URL', async () => {
    const secret = 'hunter2-s3cret';
    const results = await Promise.all([
      ingestOrigin(`http://alice:${secret}@127.0.0.1:${server.port}/png/1x1.png`, guarded),
      ingestOrigin(`http://alice:${secret}@127.0.0.1:${server.port}/missing`, local),
      ingestOrigin(`http://alice:${secret}@127.0.0.1:${server.port}/redirect-loop?token=${secret}`, local),
      ingestOrigin(`http://alice:${secret}@no-such-host.invalid/a.png`, local),
      ingestOrigin(`ftp://alice:${secret}@example.com/a.png`, local),
      ingestOrigin(`http://alice:${secret}@[::1`, local),
    ]);
    for (const result of results) {
      expect(result.ok).toBe(false);
      const error = result.ok ? '' : result.error;
      expect(error).not.toContain(secret);
      expect(error).not.toContain('alice');
      expect(error).not.toMatch(/\n|\s{2}|at .+:\d+:\d+/); // one sentence, no stack
    }
  });
});
