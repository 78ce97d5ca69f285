/**
 * GET /console and its assets through the local gateway, as a browser fetches them: public, the
 * page with a strict CSP and no inline script or style, every asset it names served with its type
 * and a year's caching, and nothing else reachable (unknown names, traversal attempts).
 * Needs the built console (`npm run build:console`, which `npm test` runs first).
 */
import { request as httpRequest } from 'node:http';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';

let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startLocalRuntime({ port: 0, schedules: false, usageLimits: false });
});

afterAll(async () => {
  await runtime?.stop();
});

/** The page's relative asset references (`console/assets/…`), as the browser resolves them. */
function assetReferences(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(console\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
}

/** A GET with the path exactly as written (fetch would normalise `..` and `%2e%2e`). */
function rawGet(path: string): Promise<{ status: number; contentType: string | undefined }> {
  const { hostname, port } = new URL(runtime.apiUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

it('serves the page without credentials, with a strict CSP and nothing inline', async () => {
  // Act
  const response = await fetch(`${runtime.apiUrl}/console`);
  // Assess
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(response.headers.get('cache-control')).toBe('no-cache');
  const csp = response.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  const html = await response.text();
  // Every script is a file of the build; no inline script, style element or style attribute.
  expect(html.match(/<script\b[^>]*>/g)?.every((tag) => /\bsrc="console\/assets\//.test(tag))).toBe(true);
  expect(html).not.toMatch(/<style\b|\sstyle=/i);
  expect(assetReferences(html).length).toBeGreaterThanOrEqual(2);
});

it('serves every asset the page names, with its type and a year of caching; HEAD too', async () => {
  // Arrange
  const html = await (await fetch(`${runtime.apiUrl}/console`)).text();
  for (const reference of assetReferences(html)) {
    // Act: resolved against the page's URL, as the browser does.
    const url = new URL(reference, `${runtime.apiUrl}/console`).toString();
    const [get, head] = await Promise.all([fetch(url), fetch(url, { method: 'HEAD' })]);
    // Assess
    expect(url).toMatch(/\/console\/assets\/[^/]+$/);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toMatch(reference.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
    expect(get.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await get.text()).length).toBeGreaterThan(0);
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  }
});

it.each([
  ['an unknown asset', '/console/assets/nothing-here.js', 404],
  ['a hidden name', '/console/assets/.env', 404],
  ['an encoded way out of the folder', '/console/assets/%2e%2e%2f%2e%2e%2fpackage.json', 404],
  ['an encoded path', '/console/assets/..%2Findex.html', 404],
  ['a deeper path', '/console/assets/a/b.js', 404],
])('answers %s with a JSON 404 and nothing else', async (_what, path, status) => {
  const response = await rawGet(path);
  expect(response.status).toBe(status);
  expect(response.contentType).toMatch(/^application\/json/);
});

it('answers POST /console with 405', async () => {
  const response = await fetch(`${runtime.apiUrl}/console`, { method: 'POST' });
  expect(response.status).toBe(405);
});
