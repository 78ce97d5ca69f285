/**
 * The `image-queue` CLI as a user runs it: spawned as a child process through its bin shim, against
 * the real local runtime, with origins served by the local origin server. stdout is a pipe here,
 * so watching prints plain progress lines. The last suite runs `smoke` against `npm start` itself,
 * as CI does after a deploy.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, run, said, startServer } from '../support/child-processes';
import { ADMIN } from '../support/queue-client';
import { startTestRuntime, type TestRuntime } from '../support/test-runtime';

jest.setTimeout(300_000);

const SHIM = join(ROOT, 'cli/bin/image-queue.cjs');
const ADMIN_KEY = `${ADMIN.key}:${ADMIN.secret}`;
// Taken before the runtime starts: it sets AWS endpoint variables in process.env that a child
// `npm start` must not inherit.
const BASE_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('IMAGE_QUEUE_')));

let env: TestRuntime;
let tmp: string;
/** Runs the CLI against the test runtime with the admin key unless `extraEnv` says otherwise. */
const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, [SHIM, ...args], { ...BASE_ENV, IMAGE_QUEUE_URL: env.runtime.apiUrl, IMAGE_QUEUE_KEY: ADMIN_KEY, ...extraEnv });
const file = (name: string, content: string) => {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
};

beforeAll(async () => {
  env = await startTestRuntime({ pollerConcurrency: { main: 4, priority: 2, tasks: 1 }, env: { POWERTOOLS_LOG_LEVEL: 'WARN' } });
  tmp = mkdtempSync(join(tmpdir(), 'image-queue-cli-'));
});

afterAll(() => env?.stop());

describe('submit', () => {
  const CUSTOMER = '501';
  let csv: string;
  let batchIds: string[];

  beforeAll(() => {
    const rows = Array.from(
      { length: 300 },
      (_, i) => `img-${i},1,${env.origins.url}/png/${(i % 40) + 1}x${(i % 7) + 1}.png,row ${i},${i}`,
    );
    csv = file('three-hundred.csv', ['id,space,origin,string1,number1', ...rows].join('\n'));
  });

  test('a 300-row CSV in batches of 100 makes 3 batches, waits with plain progress lines and exits 0', async () => {
    // Act
    const result = await cli(['submit', csv, '--batch-size', '100', '--wait', '--customer', CUSTOMER]);

    // Assess
    expect(result.code).toBe(0);
    const submitted = [...result.stdout.matchAll(/^batch (\d+): 100 images submitted/gm)];
    expect(submitted).toHaveLength(3);
    batchIds = submitted.map((m) => m[1] as string);
    expect(result.stdout).toMatch(/^progress: \d+\/300 done/m);
    expect(result.stdout).not.toContain('\u001b['); // no terminal control sequences in a pipe
    expect(result.stdout).toMatch(/^total: 300 images in 3 batches: 300 completed, 0 errors, 0 cancelled$/m);
    expect(result.stderr).toBe('');
  });

  test('running the same submit again resumes: the same batches, no new ones', async () => {
    const result = await cli(['submit', csv, '--batch-size', '100', '--customer', CUSTOMER]);

    expect(result.code).toBe(0);
    const resumed = [...result.stdout.matchAll(/^batch (\d+): 100 images \(already submitted: resumed\)/gm)].map((m) => m[1]);
    expect(resumed).toEqual(batchIds);
    const all = await env.api.allMembers(`/customers/${CUSTOMER}/queue/batches`);
    expect(all).toHaveLength(3);
  });

  test('--json prints the batches as JSON', async () => {
    const result = await cli(['submit', csv, '--batch-size', '100', '--customer', CUSTOMER, '--json']);

    expect(result.code).toBe(0);
    const batches = JSON.parse(result.stdout);
    expect(batches.map((b: { id: number }) => String(b.id))).toEqual(batchIds);
    expect(batches[0]).toMatchObject({ '@type': 'vocab:Batch', count: 100, completed: 100 });
  });

  test('status shows the customer queue and one batch, as text or JSON', async () => {
    const queue = await cli(['status', '--customer', CUSTOMER]);
    const batch = await cli(['status', batchIds[0] as string, '--customer', CUSTOMER]);
    const json = await cli(['status', batchIds[0] as string, '--customer', CUSTOMER, '--json']);

    expect(queue.code).toBe(0);
    expect(queue.stdout).toBe(`customer ${CUSTOMER}: 0 images unfinished, 0 waiting, 0 batches waiting\n`);
    expect(batch.stdout).toMatch(new RegExp(`^batch ${batchIds[0]}: 100 images, 100 completed, 0 errors, 0 cancelled, finished `));
    expect(JSON.parse(json.stdout)).toMatchObject({ id: Number(batchIds[0]), count: 100, completed: 100 });
  });
});

describe('failures', () => {
  const CUSTOMER = '502';

  test('a list with failing origins exits 2, and errors shows them in a table', async () => {
    // Prepare
    const list = file('urls.txt', [`${env.origins.url}/png/5x5.png`, `${env.origins.url}/missing`, `${env.origins.url}/text`].join('\n'));

    // Act
    const submitted = await cli(['submit', list, '--wait', '--space', '3', '--customer', CUSTOMER]);
    const batch = /^batch (\d+): 3 images submitted/m.exec(submitted.stdout)?.[1] ?? 'none';
    const table = await cli(['errors', batch, '--customer', CUSTOMER]);
    const json = await cli(['errors', batch, '--customer', CUSTOMER, '--json']);

    // Assess
    expect(submitted.code).toBe(2);
    expect(submitted.stdout).toMatch(/3 images, 1 completed, 2 errors, 0 cancelled, finished/);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/│ missing +│ 3 +│ .*\/missing +│ origin answered HTTP 404/);
    expect(table.stdout).toMatch(/│ text +│ 3 /);
    expect(table.stdout).toMatch(/^2 failed images$/m);
    expect(
      JSON.parse(json.stdout)
        .map((i: { id: string }) => i.id)
        .sort(),
    ).toEqual(['missing', 'text']);
  });

  test('retry resubmits the failed images and waits (exit 2: they fail again); a batch without errors is a 409', async () => {
    // Prepare: a batch with one failure, finished.
    const list = file('retry.txt', [`${env.origins.url}/png/6x6.png`, `${env.origins.url}/missing`].join('\n'));
    const submitted = await cli(['submit', list, '--wait', '--customer', CUSTOMER]);
    const batch = /^batch (\d+): 2 images submitted/m.exec(submitted.stdout)?.[1] ?? 'none';

    // Act
    const retried = await cli(['retry', batch, '--wait', '--customer', CUSTOMER]);
    const again = await cli([
      'retry',
      /^batch (\d+): 1 image submitted again/m.exec(retried.stdout)?.[1] ?? 'none',
      '--customer',
      CUSTOMER,
      '--json',
    ]);
    const clean = await cli(['submit', file('clean.txt', `${env.origins.url}/png/7x7.png`), '--wait', '--customer', CUSTOMER]);
    const none = await cli(['retry', /^batch (\d+): 1 image submitted/m.exec(clean.stdout)?.[1] ?? 'none', '--customer', CUSTOMER]);

    // Assess
    expect([submitted.code, retried.code]).toEqual([2, 2]);
    expect(retried.stdout).toMatch(/^batch \d+: 1 image submitted again /m);
    expect(retried.stdout).toMatch(/1 image, 0 completed, 1 errors, 0 cancelled, finished .*\(retries http.*\/queue\/batches\/\d+\)/);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ count: 1, retryOf: expect.stringContaining('/queue/batches/') });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/409/);
    expect(none.stderr).toMatch(/no error members/);
  });

  test('cancel cancels what is waiting and prints the batch; cancelling a finished batch is a 409', async () => {
    // Prepare: images that take a while, more than the processors hold at once (4 deliveries of
    // 10), so some wait when the cancel arrives.
    const slow = Array.from({ length: 100 }, (_, i) => `${env.origins.url}/delay/3000/png/${i + 1}x2.png`);
    const submitted = await cli(['submit', file('slow.txt', slow.join('\n')), '--customer', CUSTOMER]);
    const batch = /^batch (\d+): 100 images submitted/m.exec(submitted.stdout)?.[1] ?? 'none';

    // Act
    const cancelled = await cli(['cancel', batch, '--customer', CUSTOMER]);
    const watched = await cli(['watch', batch, '--customer', CUSTOMER]);
    const again = await cli(['cancel', batch, '--customer', CUSTOMER, '--json']);

    // Assess
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(/^cancelled: /m);
    expect(watched.code).toBe(2);
    expect(watched.stdout).toMatch(/100 images, \d+ completed, 0 errors, \d+ cancelled, finished/);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).cancelled).toBeGreaterThan(0);
    const finished = await cli(['submit', file('done.txt', `${env.origins.url}/png/8x8.png`), '--wait', '--customer', CUSTOMER]);
    const late = await cli(['cancel', /^batch (\d+): 1 image submitted/m.exec(finished.stdout)?.[1] ?? 'none', '--customer', CUSTOMER]);
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/409/);
  });

  test.each([
    ['no customer', ['status'], /No customer: pass --customer N or set IMAGE_QUEUE_CUSTOMER/],
    ['an unknown option', ['status', '--customer', '1', '--colour'], /unknown option '--colour'/],
    ['a missing file', ['submit', 'no-such-file.csv', '--customer', '1'], /Cannot read no-such-file\.csv: ENOENT/],
    [
      'a batch size above the maximum',
      ['submit', __filename, '--customer', '1', '--batch-size', '10001'],
      /--batch-size must be an integer from 1 to 10000/,
    ],
    ['a malformed key', ['status', '--customer', '1', '--key', 'no-secret'], /--key must be KEY:SECRET/],
  ])('%s is a usage error: exit 1 and one message', async (_what, args, message) => {
    const result = await cli(args);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  test('a wrong secret exits 1 with the 401 explained', async () => {
    const result = await cli(['status', '--customer', '1'], { IMAGE_QUEUE_KEY: `${ADMIN.key}:wrong` });

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/401 Unauthorized .*--key KEY:SECRET/);
  });

  test('queue needs no credential', async () => {
    const result = await cli(['queue', '--json'], { IMAGE_QUEUE_KEY: '' });

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ '@type': 'vocab:Queue', incoming: expect.any(Number) });
  });
});

test('keys create, list and revoke; the new key works until revoked', async () => {
  const customer = '503';

  const created = await cli(['keys', 'create', '--privileges', 'read,submit', '--customer', customer, '--json']);
  expect(created.code).toBe(0);
  const key = JSON.parse(created.stdout) as { key: string; secret: string; privileges: string[] };
  expect(key.privileges).toEqual(['read', 'submit']);
  const listed = await cli(['keys', 'list', '--customer', customer]);
  const asKey = await cli(['status', '--customer', customer], { IMAGE_QUEUE_KEY: `${key.key}:${key.secret}` });
  // With only its key and the API's URL, a customer key's own customer is found by itself (GET /key).
  const ownCustomer = await cli(['status', '--json'], { IMAGE_QUEUE_KEY: `${key.key}:${key.secret}` });
  const submitted = await cli(['submit', file('own.txt', `${env.origins.url}/png/9x9.png`), '--wait'], {
    IMAGE_QUEUE_KEY: `${key.key}:${key.secret}`,
  });
  const revoked = await cli(['keys', 'revoke', key.key, '--customer', customer]);
  const afterRevoke = await cli(['status', '--customer', customer], { IMAGE_QUEUE_KEY: `${key.key}:${key.secret}` });

  expect(listed.stdout).toMatch(new RegExp(`│ ${key.key} +│ read,submit +│`));
  expect(asKey.code).toBe(0);
  expect(ownCustomer.code).toBe(0);
  expect(JSON.parse(ownCustomer.stdout)['@id']).toMatch(new RegExp(`/customers/${customer}/queue$`));
  expect([submitted.code, submitted.stdout]).toEqual([0, expect.stringMatching(new RegExp(`/customers/${customer}/queue/batches/\\d+`))]);
  expect(revoked.stdout).toBe(`revoked key ${key.key} of customer ${customer}\n`);
  expect(afterRevoke.code).toBe(1);
  expect(afterRevoke.stderr).toMatch(/401/);
});

test('smoke passes against the runtime with a local origin', async () => {
  const result = await cli(['smoke', '--origin', `${env.origins.url}/png/16x16.png`, '--customer', '504']);

  expect({ code: result.code, failed: result.stdout.match(/^FAIL.*$/gm) }).toEqual({ code: 0, failed: null });
  expect(result.stdout.match(/^PASS /gm)?.length).toBeGreaterThanOrEqual(9);
  expect(result.stdout).toMatch(/^PASS: \d+ passed, 0 failed$/m);
});

describe('smoke against `npm start`', () => {
  test('passes, and `npm start` stops on SIGTERM', async () => {
    // Prepare: its own process group, so one SIGTERM reaches npm, tsx and the runtime together.
    const server = await startServer('npm', ['start'], {
      env: { ...BASE_ENV, PORT: '0', LOCAL_PREFIX: `cli-smoke-${process.pid}` },
      ready: /^ {2}API: +(http\S+)$/m,
    });

    try {
      // Act
      const result = await run(
        process.execPath,
        [SHIM, 'smoke', '--api', server.ready[1] as string, '--key', ADMIN_KEY, '--origin', `${env.origins.url}/gif/9x9.gif`],
        BASE_ENV,
      );

      // Assess
      expect(result.code === 0 ? 'passed' : said(result)).toBe('passed');
      expect(result.stdout).toMatch(/^PASS: \d+ passed, 0 failed$/m);
    } finally {
      await server.stop('SIGTERM');
    }
    expect(server.output()).toContain('SIGTERM: stopping');
  });
});
