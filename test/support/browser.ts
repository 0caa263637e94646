import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { findTool } from '../../workers/local/tools';
import { onCleanup } from './services';

/**
 * Debian's chromium (`apt-get install chromium`; `.ci/run` and `setup --test` install it), never a downloaded
 * browser: playwright-core drives whatever executable it is given. CHROMIUM_PATH names another one.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? findTool('chromium') ?? '/usr/bin/chromium';

/** Screenshots of browser tests land here (gitignored): CI keeps them as artifacts. */
const ARTIFACTS_DIR = resolve(__dirname, '..', '..', 'test-artifacts');

export interface TestBrowser {
  browser: Browser;
  page: Page;
  /** Saves a full-width screenshot as test-artifacts/<folder>/<name>.png and returns its path. */
  screenshot(name: string): Promise<string>;
}

/** A headless chromium with one page, closed when the test file is done. */
export async function useBrowser(folder: string): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  // --no-sandbox: CI runs as root, where chromium refuses its sandbox.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 120_000,
  });
  onCleanup(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1440, height: 960 }, timezoneId: 'UTC', locale: 'en-US' });
  // A loaded machine renders slowly: generous waits for every action and navigation.
  context.setDefaultTimeout(60_000);
  context.setDefaultNavigationTimeout(120_000);
  const page = await context.newPage();
  // This run's screenshots only: none left over from an earlier run.
  const dir = join(ARTIFACTS_DIR, folder);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return {
    browser,
    page,
    async screenshot(name) {
      const path = join(dir, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
  };
}
