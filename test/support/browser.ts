/**
 * Headless Chromium for the console's browser tests: Debian's `chromium` package (installed by
 * `.ci/run`) driven by playwright-core, which downloads no browser of its own. Also the checks the
 * suites share: axe-core's accessibility audit, screenshots written as test artifacts, and a watch
 * for anything the page runs or is refused (dialogs, CSP violations, page errors).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots go: test-output/ is ignored by git and kept by CI as the run's artifacts. */
export const SCREENSHOT_DIR = path.join(__dirname, '..', '..', 'test-output', 'screenshots');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium), as .ci/run does, or set CHROMIUM_PATH.`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // The flags this machine needs: no sandbox as root, and no background connections to Google's
    // hosts, which the closed network refuses (many at a time otherwise).
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

/** WCAG 2.1 A and AA, the level public-sector sites are held to. */
const AXE_OPTIONS = { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } };

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's WCAG 2.1 A/AA audit of the page as it is now, keeping the serious and critical
 * violations. Injected through the DevTools protocol (page.evaluate), which the page's CSP does
 * not govern, so the page's own policy stays as strict as it is served.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  // A string: the tests compile without DOM types.
  const violations = await page.evaluate(`axe.run(document, ${JSON.stringify(AXE_OPTIONS)}).then((result) => result.violations)`);
  return (violations as AxeViolation[])
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
}

/** What a page did that a safe page never does: dialogs, uncaught errors, refused loads or scripts (CSP). */
export interface PageIncidents {
  dialogs: string[];
  pageErrors: string[];
  cspViolations: string[];
}

export function watchIncidents(page: Page): PageIncidents {
  const incidents: PageIncidents = { dialogs: [], pageErrors: [], cspViolations: [] };
  page.on('dialog', (dialog) => {
    incidents.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => incidents.pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) incidents.cspViolations.push(message.text());
  });
  return incidents;
}
