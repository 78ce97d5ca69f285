/**
 * The service against its own description, checked by a validating proxy (Stoplight Prism,
 * `prism proxy openapi.json <local runtime> --errors`): every route answers its success, and the
 * usual client errors their error body, and Prism finds no violation in any of them. With --errors
 * Prism answers a violation itself (a 500 `application/problem+json` with an `sl-violations`
 * header), so each answer must be the service's, with its expected status and no such header.
 *
 * Two proxies: `strict` validates requests and responses, so each request is one the description
 * accepts; `responses` (--validate-request=false) forwards the requests the description itself
 * refuses (a body that is not JSON, or breaks the body schema), so the service's answers to them
 * are checked too. HEAD is left out: Prism 5.16 parses the empty body of a HEAD answer typed
 * JSON and fails with a 500 of its own (contract-audit.test.ts checks HEAD against GET).
 * Needs the built console (`npm run build:console`, which `npm test` runs first).
 */
import { matchResource, ROUTES } from '../../lambdas/config/routes';
import { freePort } from '../../local/emulators';
import { type Server, startServer } from '../support/child-processes';
import { ADMIN, basic, type Credentials } from '../support/queue-client';
import { startTestRuntime, type TestRuntime } from '../support/test-runtime';

const CUSTOMER = 61;
const OTHER_CUSTOMER = 62;
/** Small, so that a 413 needs only a few kilobytes. */
const MAX_BODY_BYTES = 8192;

interface Proxy {
  server: Server;
  url: string;
}

let env: TestRuntime;
let strict: Proxy;
let responses: Proxy;
/** Finished batches of CUSTOMER: one with an error member (to retry), one without (nothing to cancel or retry). */
let failed: number;
let done: number;

async function startProxy(upstream: string, extraArgs: string[]): Promise<Proxy> {
  const port = await freePort();
  const args = ['proxy', 'openapi.json', upstream, '--errors', '--cors=false', '--host', '127.0.0.1', '--port', String(port), ...extraArgs];
  const server = await startServer('node_modules/.bin/prism', args, { ready: /Prism is listening on (http:\/\/\S+)/, timeoutMs: 60_000 });
  return { server, url: server.ready[1] as string };
}

const png = (id: string) => ({ id, space: 1, origin: `${env.origins.url}/png/8x6.png` });
const C = `/customers/${CUSTOMER}`;

async function finishBatches(): Promise<void> {
  const missing = { id: 'contract-b', space: 1, origin: `${env.origins.url}/missing` };
  [failed, done] = await Promise.all([
    env.api.submitOk(CUSTOMER, [png('contract-a'), missing]),
    env.api.submitOk(CUSTOMER, [png('contract-g')]),
  ]);
  await env.api.waitForFinished(CUSTOMER, [failed, done]);
}

beforeAll(async () => {
  // The runtime's port is chosen first so that the proxies start beside it (Prism takes seconds to
  // read the description), and the batches are processed meanwhile. Each is kept as soon as it
  // has started, so that afterAll stops it whatever else failed.
  const port = await freePort();
  const upstream = `http://127.0.0.1:${port}`;
  const started = await Promise.allSettled([
    startTestRuntime({ port, env: { MAX_BODY_BYTES: String(MAX_BODY_BYTES) } }).then((runtime) => {
      env = runtime;
      return finishBatches();
    }),
    startProxy(upstream, []).then((proxy) => (strict = proxy)),
    startProxy(upstream, ['--validate-request=false']).then((proxy) => (responses = proxy)),
  ]);
  for (const result of started) if (result.status === 'rejected') throw result.reason;
});

afterAll(async () => {
  await Promise.all([strict?.server.stop(), responses?.server.stop(), env?.stop()]);
});

interface Probe {
  method: string;
  path: string;
  /** Default: the admin key; null: none. */
  credentials?: Credentials | null;
  headers?: Record<string, string>;
  /** JSON unless a string. */
  body?: unknown;
}

interface Answer {
  status: number;
  violations: string | null;
  contentType: string | null;
  text: string;
}

async function send(proxy: Proxy, probe: Probe): Promise<Answer> {
  const credentials = probe.credentials === undefined ? ADMIN : probe.credentials;
  const json = probe.body !== undefined && typeof probe.body !== 'string';
  const response = await fetch(`${proxy.url}${probe.path}`, {
    method: probe.method,
    headers: {
      ...(credentials ? { authorization: basic(credentials) } : {}),
      ...(json ? { 'content-type': 'application/json' } : {}),
      ...probe.headers,
    },
    ...(probe.body !== undefined ? { body: json ? JSON.stringify(probe.body) : (probe.body as string) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    violations: response.headers.get('sl-violations'),
    contentType: response.headers.get('content-type'),
    text,
  };
}

/**
 * Sends each probe through the proxy and expects the service's answer with its status, and no
 * violation: Prism's own answers (a violation, a refused request) are `application/problem+json`.
 */
async function expectDescribed(proxy: Proxy, probes: [Probe, number][]): Promise<Answer[]> {
  const answers = await Promise.all(probes.map(([probe]) => send(proxy, probe)));
  const seen = answers.map((answer, i) => {
    const [{ method, path }] = probes[i] as [Probe, number];
    const fromPrism = answer.contentType?.startsWith('application/problem+json') ?? false;
    return { request: `${method} ${path}`, status: answer.status, violations: answer.violations, fromPrism };
  });
  const wanted = probes.map(([{ method, path }, status]) => ({ request: `${method} ${path}`, status, violations: null, fromPrism: false }));
  if (JSON.stringify(seen) !== JSON.stringify(wanted)) {
    // The answers Prism wrote say what broke the description.
    const details = answers.map((a, i) => `${seen[i]?.request} → ${a.status} ${a.violations ?? ''} ${a.text.slice(0, 600)}`);
    expect({ answers: seen, details }).toEqual({ answers: wanted, details: [] });
  }
  return answers;
}

it('answers every route with its described success', async () => {
  const api = env.api;
  // A batch held unfinished, to cancel.
  env.runtime.pollers?.pause('main');
  const held = await api.submitOk(CUSTOMER, [png('contract-c')]);
  const customerKey = (await api.call('POST', `${C}/keys`, { privileges: ['read'] })).body.key as string;
  const page = await api.get('/console');
  const assets = [...String(page.body).matchAll(/(?:src|href)="console\/(assets\/[^"]+)"/g)].map((m) => m[1] as string);
  expect(assets.map((a) => a.split('.').pop()).sort()).toEqual(['css', 'js']);

  const B = `${C}/queue/batches`;
  const gets: [Probe, number][] = [
    '/queue',
    '/queue/load',
    '/queue/status',
    '/key',
    `${C}/queue`,
    `${C}/queue/batches`,
    `${C}/queue/active`,
    `${C}/queue/recent`,
    `${C}/queue/images?order=desc&pageSize=5`,
    `${B}/${failed}`,
    `${B}/${failed}/images`,
    `${B}/${failed}/completedImages`,
    `${B}/${failed}/errorImages`,
    `${C}/spaces/1/images/contract-a`,
    '/openapi.json',
    `${C}/keys`,
    `${C}/keys/${customerKey}`,
    '/console',
    ...assets.map((asset) => `/console/${asset}`),
  ].map((path): [Probe, number] => [{ method: 'GET', path }, 200]);
  const writes: [Probe, number][] = [
    [{ method: 'POST', path: `${C}/queue`, body: { '@type': 'Collection', member: [png('contract-d')] } }, 201],
    [{ method: 'POST', path: `${C}/queue/priority`, body: { member: [png('contract-e')] } }, 201],
    [{ method: 'POST', path: `${B}/${failed}/retry` }, 201],
    [{ method: 'POST', path: `${B}/${failed}/test` }, 200],
    [{ method: 'DELETE', path: `${B}/${held}` }, 200],
    [{ method: 'POST', path: `${C}/keys` }, 201],
    [{ method: 'DELETE', path: `${C}/keys/${customerKey}` }, 204],
  ];
  // Every route of the table is called (a new route fails here until it is given a probe); HEAD is GET's.
  const called = [...gets, ...writes].map(([{ method, path }]) => `${method} ${matchResource(path.split('?')[0] as string)?.resource}`);
  expect(ROUTES.map((r) => `${r.method} ${r.resource}`).filter((route) => !called.includes(route))).toEqual([]);
  try {
    // The reads first: the writes revoke the key they read.
    await expectDescribed(strict, gets);
    await expectDescribed(strict, writes);
    // Submitted again with the same Idempotency-Key: the batch found again (200).
    const again: Probe = { method: 'POST', path: `${C}/queue`, headers: { 'Idempotency-Key': 'contract-1' }, body: { member: [png('f')] } };
    await expectDescribed(strict, [[again, 201]]);
    await expectDescribed(strict, [[again, 200]]);
  } finally {
    env.runtime.pollers?.resume('main');
  }
});

it('answers the usual client errors as described', async () => {
  const api = env.api;
  const key = (await api.call('POST', `/customers/${OTHER_CUSTOMER}/keys`)).body as { key: string; secret: string };
  const member = (i: number) => ({ id: `contract-big-${i}`, space: 1, origin: `${env.origins.url}/png/8x6.png?${'x'.repeat(100)}` });
  const B = `${C}/queue/batches`;
  await expectDescribed(strict, [
    // 400: a paging token this service did not issue (the description only knows its characters).
    [{ method: 'GET', path: `${B}?page=notATokenOfOurs` }, 400],
    // 401: credentials of the right form that are not valid (Prism answers a missing header itself).
    [{ method: 'GET', path: `${C}/queue`, credentials: { key: ADMIN.key, secret: 'wrong' } }, 401],
    // 403: another customer's key; and a customer key on an admin route.
    [{ method: 'GET', path: `${C}/queue`, credentials: key }, 403],
    [{ method: 'GET', path: '/queue/status', credentials: key }, 403],
    // 404: ids that name nothing.
    [{ method: 'GET', path: `${B}/999999` }, 404],
    [{ method: 'GET', path: `${C}/keys/kNoSuchKey` }, 404],
    [{ method: 'DELETE', path: `${C}/keys/kNoSuchKey` }, 404],
    [{ method: 'GET', path: '/console/assets/no-such-asset.js' }, 404],
    // 409: a finished batch cannot be cancelled, and has no errors to retry.
    [{ method: 'DELETE', path: `${B}/${done}` }, 409],
    [{ method: 'POST', path: `${B}/${done}/retry` }, 409],
    // 413: over MAX_BODY_BYTES, yet a body the schema accepts.
    [{ method: 'POST', path: `${C}/queue`, body: { member: Array.from({ length: 60 }, (_, i) => member(i)) } }, 413],
    // 422: what a schema cannot say (the same space and id twice).
    [{ method: 'POST', path: `${C}/queue`, body: { member: [png('twice'), png('twice')] } }, 422],
  ]);
  // Requests the description refuses: only the service's answers are checked.
  await expectDescribed(responses, [
    [{ method: 'POST', path: `${C}/queue`, body: {} }, 400],
    [{ method: 'POST', path: `${C}/keys`, body: { privileges: ['everything'] } }, 422],
    [{ method: 'GET', path: `${B}/notAnId` }, 404],
  ]);
});

it('answers 415 alike on every route taking a body, as described', async () => {
  // From the route table, so a new body route is covered without a change here.
  const bodyRoutes = ROUTES.filter((route) => route.body);
  expect(bodyRoutes.length).toBeGreaterThan(0);
  const probes = bodyRoutes.map((route): [Probe, number] => [
    {
      method: route.method,
      path: route.resource.replace('{customer}', String(CUSTOMER)),
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    },
    415,
  ]);
  const answers = await expectDescribed(responses, probes);
  expect(new Set(answers.map((a) => a.text)).size).toBe(1);
  // The strict proxy refuses the same requests itself: the description does not accept text/plain either.
  const refused = await Promise.all(probes.map(([probe]) => send(strict, probe)));
  expect(refused.map((a) => [a.status, a.contentType])).toEqual(probes.map(() => [422, 'application/problem+json']));
});
