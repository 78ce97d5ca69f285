/**
 * The console in a real headless Chromium, against the local runtime (real handlers, DynamoDB
 * Local behind the strict proxy, fauxqs) and a local origin server. One signed-in tab walks through
 * what a person does: sign in, submit 20 images and watch the bar reach 100 %, read a batch's
 * error, cancel a running batch, read the load chart; hostile image fields are shown as text.
 * Every view is audited with axe-core and photographed into test-output/screenshots/.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, type PageIncidents, screenshot, seriousAccessibilityViolations, watchIncidents } from '../support/browser';
import { QueueClient, waitFor } from '../support/queue-client';
import { startTestRuntime, type TestRuntime } from '../support/test-runtime';

jest.setTimeout(180_000);

const CUSTOMER = 41;
/** How long the UI may take to show what the queue did (processing, then a refresh back-off of at most 10 s). */
const UI_TIMEOUT_MS = 90_000;

let env: TestRuntime;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let incidents: PageIncidents;
let customer: QueueClient;
let credentials: { key: string; secret: string };

beforeAll(async () => {
  // One main-queue processor at a time (10 images in flight), so a batch of slow images is still
  // waiting in part when the test cancels it.
  env = await startTestRuntime({ pollerConcurrency: { main: 1 } });
  browser = await launchChromium();
  const created = await env.api.call('POST', `/customers/${CUSTOMER}/keys`, {});
  expect(created.status).toBe(201);
  credentials = { key: created.body.key, secret: created.body.secret };
  customer = new QueueClient(env.runtime.apiUrl, credentials);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  incidents = watchIncidents(page);
});

afterAll(async () => {
  await browser?.close();
  await env?.stop();
});

/** Counts the canvas's painted pixels (run in the page: a string, as the tests compile without DOM types). */
const PAINTED_PIXELS = `(canvas) => {
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return painted;
}`;

const consoleUrl = () => `${env.runtime.apiUrl}/console`;
const pngUrls = (n: number, prefix = '') => Array.from({ length: n }, (_, i) => `${env.origins.url}${prefix}/png/${100 + i}x${60 + i}.png`);

/** Submits through the form and answers the new batch's id, read from the confirmation. */
async function submitThroughForm(lines: string[], queue: 'Main queue' | 'Priority queue' = 'Main queue'): Promise<number> {
  await page.getByLabel('Origin URLs or CSV').fill(lines.join('\n'));
  await page.getByLabel(queue).check();
  await page.getByRole('button', { name: 'Submit batch' }).click();
  const confirmation = page.getByRole('status').filter({ hasText: /submitted with/ });
  await confirmation.waitFor();
  const match = /Batch (\d+) submitted with (\d+) images/.exec((await confirmation.textContent()) ?? '');
  expect(match?.[2]).toBe(String(lines.length));
  return Number(match?.[1]);
}

/** Waits until the batch list's first row (the newest) is `batch`: the list reloads after a submit, not with it. */
async function waitForNewestBatch(batch: number): Promise<void> {
  await page
    .getByTestId('batch-row')
    .first()
    .and(page.locator(`[data-batch-id="${batch}"]`))
    .waitFor({ timeout: UI_TIMEOUT_MS });
}

const progressOf = (batch: number) => page.getByRole('progressbar', { name: `Batch ${batch} progress` }).first();

/** Waits until the page shows the batch's bar at `percent` (it refreshes itself: no reload). */
async function waitForProgress(batch: number, percent: number): Promise<void> {
  const bar = page.locator(`[role="progressbar"][aria-label="Batch ${batch} progress"][aria-valuenow="${percent}"]`).first();
  await bar.waitFor({ timeout: UI_TIMEOUT_MS });
}

/** Polls until the page shows `count` image rows. */
async function waitForImageRows(count: number): Promise<void> {
  await waitFor(async () => (await page.getByTestId('image-row').count()) === count, {
    timeoutMs: UI_TIMEOUT_MS,
    description: `${count} image rows`,
  });
}

async function openBatch(batch: number): Promise<void> {
  await page.getByRole('button', { name: `Batch ${batch}`, exact: true }).click();
  await page.getByRole('heading', { name: `Batch ${batch}`, exact: true }).waitFor();
}

async function backToBatches(): Promise<void> {
  await page.getByRole('button', { name: 'Back to batches' }).click();
  await page.getByRole('heading', { name: 'Batches', exact: true }).waitFor();
}

describe('the console', () => {
  it('refuses wrong credentials, then signs in without putting the secret in the page or the URL', async () => {
    // Arrange
    await page.goto(consoleUrl());
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'sign-in');
    // Act
    await page.getByLabel('Key', { exact: true }).fill(credentials.key);
    await page.getByLabel('Secret', { exact: true }).fill('not-the-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
    await page.getByLabel('Secret', { exact: true }).fill(credentials.secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Assess
    await page.getByRole('heading', { name: 'Queue', exact: true }).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('imageQueue.credentials')")).toBe(`${credentials.key}:${credentials.secret}`);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(page.url()).not.toContain(credentials.secret);
    expect(await page.content()).not.toContain(credentials.secret);
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
  });

  it('submits 20 images and shows the batch at the top, its bar reaching 100 %', async () => {
    // Act
    const batch = await submitThroughForm(pngUrls(20));
    // Assess: newest first, then live refresh carries it to the end without a reload.
    await waitForNewestBatch(batch);
    await waitForProgress(batch, 100);
    await expect(progressOf(batch).getAttribute('aria-valuetext')).resolves.toMatch(/20 completed, 0 errors/);
    const stored = await customer.batch(CUSTOMER, batch);
    expect(stored).toMatchObject({ count: 20, completed: 20, errors: 0 });
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'queue');
  });

  it('opens a batch with an error and shows which image failed and why', async () => {
    // Arrange
    const lines = [...pngUrls(2), `${env.origins.url}/missing`];
    const batch = await submitThroughForm(lines);
    await waitForProgress(batch, 100);
    // Act
    await openBatch(batch);
    await page.getByLabel('Show').selectOption({ label: 'Errors' });
    // Assess
    const failed = page.getByTestId('image-row').filter({ hasText: '/missing' });
    await waitForImageRows(1);
    await failed.waitFor();
    const error = (await customer.allMembers(`/customers/${CUSTOMER}/queue/batches/${batch}/errorImages`))[0].error as string;
    expect(error).toMatch(/404/);
    await expect(failed.textContent()).resolves.toContain(error);
    await page.getByLabel('Show').selectOption({ label: 'All images' });
    await waitForImageRows(3);
    await expect(page.getByTestId('image-row').filter({ hasText: '101 × 61' }).count()).resolves.toBe(1);
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'batch-with-error');
    // Test re-evaluates the batch and says what it found.
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /^Test:/ })
      .waitFor();
    await backToBatches();
  });

  it('cancels a running batch: the waiting images are cancelled and the batch finishes', async () => {
    // Arrange: 40 images that take 3 s each at the origin, 10 at a time, keep the batch running a while.
    const batch = await submitThroughForm(pngUrls(40, '/delay/3000'));
    await openBatch(batch);
    // The load sampler (every minute on AWS) records this batch's load, for the chart below.
    await env.runtime.schedules.runNow('sampleLoad');
    // Running: its first images are done (the page shows it by itself), the rest still to come.
    await page
      .locator(`[role="progressbar"][aria-label="Batch ${batch} progress"]:not([aria-valuenow="0"])`)
      .first()
      .waitFor({ timeout: UI_TIMEOUT_MS });
    // Act
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    // Assess
    await page
      .getByRole('status')
      .filter({ hasText: /^Cancelled: / })
      .waitFor();
    await waitForProgress(batch, 100);
    const stored = await customer.batch(CUSTOMER, batch);
    expect(stored.completed).toBeGreaterThan(0);
    expect(stored.cancelled).toBeGreaterThan(0);
    expect(stored.completed + stored.errors + stored.cancelled).toBe(40);
    await expect(progressOf(batch).getAttribute('aria-valuetext')).resolves.toContain(`${stored.cancelled} cancelled`);
    // The bar reaches 100 % with the last count; `finished` (which disables Cancel) is a later write,
    // shown by a later refresh.
    await page.getByRole('button', { name: 'Cancel', exact: true, disabled: true }).waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, 'batch-cancelled');
    await backToBatches();
  });

  it('draws the load over time, for the range chosen', async () => {
    // Arrange: at least one sample with load exists (taken while the cancelled batch ran).
    const load = await customer.get(`/queue/load?started=PT1H&customer=${CUSTOMER}`);
    expect(load.body.results.length).toBeGreaterThan(0);
    const chart = page.getByRole('img', { name: 'Queue load chart' });
    // The chart drawn so far may predate that sample: only a drawing made from here on counts.
    await page.evaluate(`document.querySelector('canvas[aria-label="Queue load chart"]').removeAttribute('data-drawn')`);
    // Act: a range change redraws at once.
    await page.getByLabel('Range').selectOption({ label: 'Last day' });
    await page.getByLabel('Range').selectOption({ label: 'Last hour' });
    // Assess
    await page
      .locator('canvas[aria-label="Queue load chart"][data-drawn="true"]:not([data-points="0"])')
      .waitFor({ timeout: UI_TIMEOUT_MS });
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThanOrEqual(load.body.results.length);
    // Something was painted: the canvas is not blank.
    const painted = await page.evaluate(`(${PAINTED_PIXELS})(document.querySelector('canvas[aria-label="Queue load chart"]'))`);
    expect(painted).toBeGreaterThan(500);
    await chart.scrollIntoViewIfNeeded();
    await screenshot(page, 'load');
  });

  it('shows hostile image fields as text: nothing runs and the layout holds', async () => {
    // Arrange: every free-text field carries markup, script URLs or a very long unbroken string.
    const long = 'W'.repeat(990);
    const hostile = {
      string1: '<script>window.__xss = 1</script>',
      string2: '<img src=x onerror="window.__xss = 2">',
      string3: `javascript:window.__xss=3 ${long}`,
      tags: ['<b onmouseover="window.__xss=4">tag</b>'],
    };
    const submitted = await customer.submit(CUSTOMER, [
      { id: 'x'.repeat(200), space: 1, origin: `${env.origins.url}/missing?q=<script>window.__xss=5</script>`, ...hostile },
      { id: 'javascript-alert', space: 1, origin: `${env.origins.url}/png/10x10.png`, ...hostile },
    ]);
    expect(submitted.status).toBe(201);
    const batch = submitted.body.id as number;
    await customer.waitForFinished(CUSTOMER, [batch]);
    // Act
    await page.reload();
    await openBatch(batch);
    await waitForImageRows(2);
    // Assess
    const table = page.getByRole('table', { name: 'Images' });
    await expect(table.textContent()).resolves.toContain(hostile.string1);
    await expect(table.textContent()).resolves.toContain(hostile.string2);
    await expect(table.textContent()).resolves.toContain('<script>window.__xss=5</script>');
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    expect(
      await page.locator('table[aria-label="Images"] script, table[aria-label="Images"] img, table[aria-label="Images"] b').count(),
    ).toBe(0);
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'hostile-fields');
    expect(incidents).toEqual({ dialogs: [], pageErrors: [], cspViolations: [] });
    // The queue as it now stands (the README's picture).
    await backToBatches();
    await screenshot(page, 'overview');
  });

  it('keeps refreshing until a new batch is listed, when the listing lags the submit as it may on AWS', async () => {
    // Arrange: every batch shown is finished, so only the new one can keep the page refreshing; the
    // first three listings after the submit leave it out, as a read that lags the write would.
    const newestBefore = Math.max(...(await customer.allMembers(`/customers/${CUSTOMER}/queue/batches`)).map((b) => Number(b.id)));
    let lagging = 3;
    await page.route(/\/queue\/batches\?/, async (route) => {
      const response = await route.fetch();
      const json = await response.json();
      if (lagging > 0 && json.member.some((b: { id: number }) => b.id > newestBefore)) {
        lagging -= 1;
        json.member = json.member.filter((b: { id: number }) => b.id <= newestBefore);
      }
      await route.fulfill({ response, json });
    });
    // Act
    const batch = await submitThroughForm(pngUrls(2));
    // Assess: listed once the lag is over, and followed to the end, with no reload.
    await waitForProgress(batch, 100);
    expect(lagging).toBe(0);
    await waitForNewestBatch(batch);
    await page.unroute(/\/queue\/batches\?/);
  });

  it('submits once when the answer to a submit is lost and the person clicks again', async () => {
    // Arrange: the first POST reaches the API, but its answer never reaches the page.
    const batchCount = async () => (await customer.get(`/customers/${CUSTOMER}/queue/batches`)).body.totalItems as number;
    const before = await batchCount();
    let lost = false;
    await page.route(/\/queue$/, async (route) => {
      if (route.request().method() !== 'POST' || lost) return route.continue();
      lost = true;
      await route.fetch();
      await route.abort('connectionreset');
    });
    await page.getByLabel('Origin URLs or CSV').fill(pngUrls(3).join('\n'));
    await page.getByRole('button', { name: 'Submit batch' }).click();
    await page.getByRole('alert').filter({ hasText: 'Cannot reach the API' }).waitFor();
    // Act: the same images again (the form kept them).
    await page.getByRole('button', { name: 'Submit batch' }).click();
    // Assess: the batch the first POST created, not a second one.
    const confirmation = page.getByRole('status').filter({ hasText: /submitted with 3 images/ });
    await confirmation.waitFor();
    expect(await batchCount()).toBe(before + 1);
    await page.unroute(/\/queue$/);
  });

  it('lets an admin pick a customer and see its batches', async () => {
    // Arrange
    const adminPage = await context.browser()!.newPage({ viewport: { width: 1280, height: 900 } });
    const adminIncidents = watchIncidents(adminPage);
    await adminPage.goto(consoleUrl());
    await adminPage.getByLabel('Key', { exact: true }).fill('admin');
    await adminPage.getByLabel('Secret', { exact: true }).fill('local-admin-secret');
    await adminPage.getByRole('button', { name: 'Sign in' }).click();
    // Act
    await adminPage.getByLabel('Customer', { exact: true }).fill(String(CUSTOMER));
    await adminPage.getByRole('button', { name: 'Open queue' }).click();
    // Assess: the batches submitted above are listed.
    await adminPage.getByTestId('batch-row').first().waitFor();
    expect(await adminPage.getByTestId('batch-row').count()).toBeGreaterThanOrEqual(4);
    expect(await seriousAccessibilityViolations(adminPage)).toEqual([]);
    expect(adminIncidents).toEqual({ dialogs: [], pageErrors: [], cspViolations: [] });
    await adminPage.close();
  });
});
