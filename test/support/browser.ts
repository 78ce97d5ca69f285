/**
 * Headless Chromium for the console's browser tests, driven by playwright-core (which downloads no
 * browser of its own): the build that the npm package @sparticuz/chromium ships, unpacked by
 * scripts/unpack-chromium.mjs with the libraries and fonts it carries, so `npm ci` is all the tests
 * need; CHROMIUM_PATH (e.g. Debian's /usr/bin/chromium) overrides it. Also the checks the suites
 * share: axe-core's accessibility audit, screenshots written as test artifacts, and a watch for
 * anything the page runs or is refused (dialogs, CSP violations, page errors).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Where screenshots go: test-output/ is ignored by git and kept by CI as the run's artifacts. */
export const SCREENSHOT_DIR = path.join(__dirname, '..', '..', 'test-output', 'screenshots');

const UNPACK_SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'unpack-chromium.mjs');

interface ChromiumBuild {
  executablePath: string;
  env: Record<string, string>;
}

/** CHROMIUM_PATH if set, else the npm package's build (unpacked on first use, ≈2–5 s). */
async function chromiumBuild(): Promise<ChromiumBuild> {
  const override = process.env.CHROMIUM_PATH;
  if (override) {
    if (!existsSync(override)) throw new Error(`CHROMIUM_PATH=${override}: no such file.`);
    return { executablePath: override, env: {} };
  }
  // A child process: the package is an ES module, which Jest's CommonJS runtime cannot import.
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [UNPACK_SCRIPT], { encoding: 'utf8' });
    return JSON.parse(stdout);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`No Chromium for the browser tests: ${stderr || (error as Error).message}`);
  }
}

export async function launchChromium(): Promise<Browser> {
  const { executablePath, env } = await chromiumBuild();
  return chromium.launch({
    executablePath,
    env: { ...process.env, ...env },
    // The flags this machine needs: no sandbox as root, and no background connections to Google's
    // hosts, which the closed network refuses (many at a time otherwise). Not the package's own
    // `chromium.args`: they are for Lambda and turn web security off, which the CSP checks rely on.
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
