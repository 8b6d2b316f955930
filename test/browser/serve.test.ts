/**
 * `fleetmend serve` in a real Chromium: fleet -> host -> run -> compare, a filter and a search,
 * what is on screen at each step, a screenshot of each page (test-artifacts/serve/). Every
 * request that is not to the server itself is aborted and recorded: the test fails if a page
 * needs the network; a CSP violation or a script error fails it too.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStoreReader } from '../../src/store/index.js';
import { ReadModel, startServe, type RunningServer } from '../../src/serve/index.js';
import { SWEEPS, sweepId, writeFixtureStore } from '../unit/serve-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser tests skipped: ${CHROMIUM} not found (apt-get install -y chromium)`);
const SHOTS = resolve('test-artifacts', 'serve');

describe.skipIf(!haveChromium)('serve in Chromium', () => {
  let dir: string;
  let server: RunningServer;
  let reader: ReturnType<typeof openStoreReader>;
  let browser: BrowserContext | undefined;
  let page: Page;
  const offsite: string[] = [];
  const consoleErrors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleetmend-serve-browser-'));
    mkdirSync(SHOTS, { recursive: true });
    writeFixtureStore(dir);
    reader = openStoreReader(dir);
    server = await startServe({ listen: { host: '127.0.0.1', port: 0 }, model: new ReadModel(reader.db) });
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const origin = new URL(server.url).origin;
    await browser.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin + '/')) return route.continue();
      offsite.push(url);
      return route.abort();
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    reader?.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fleet: the latest sweep, three charts, the worst hosts, the groups', async () => {
    await page.goto(server.url);
    expect(new URL(page.url()).pathname).toBe('/fleet');
    expect(await page.textContent('h1')).toContain('inventory/prod.yml');
    expect(await page.textContent('#noncompliant')).toBe('16');
    expect(await page.locator('figure.chart').count()).toBe(3);
    expect(await page.locator('figure.chart polyline').count()).toBeGreaterThan(3);
    expect(await page.locator('table.groups tbody tr').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('dc-a')]));
    // the script ran (served from /static under the CSP)
    expect(await page.evaluate(() => document.documentElement.dataset['js'])).toBe('on');
    await shot('fleet');
  });

  it('host: from the fleet page to web001, its charts and the findings that appeared', async () => {
    await page.goto(new URL('/search?glob=web001', server.url).href);
    await page.click('table.hosts a:text-is("web001")');
    expect(await page.textContent('#hostname')).toBe('web001');
    expect(await page.locator('figure.chart').count()).toBe(3);
    const timeline = await page.locator('table.timeline tbody tr').allTextContents();
    expect(timeline.some((t) => t.includes('appeared') && t.includes('records-lost'))).toBe(true);
    await page.click('details.change summary >> nth=0');
    expect(await page.locator('pre.diff.after').first().textContent()).toBe('-b 8192\n');
    await shot('host');
  });

  it('run: the latest sweep, filtered by state through the form', async () => {
    await page.goto(new URL(`/run/${sweepId(SWEEPS - 1)}`, server.url).href);
    expect(await page.textContent('#runid')).toBe(sweepId(SWEEPS - 1));
    expect(await page.locator('.pageof').first().textContent()).toContain('page 1 of 2 (61)');
    // the select submits on change (progressive JS); the URL keeps the filter
    await Promise.all([page.waitForURL(/state=records-lost/), page.selectOption('select[name=state]', 'records-lost')]);
    const states = await page.locator('table.hosts tbody tr td:nth-child(3)').allTextContents();
    expect(states.length).toBe(8);
    expect(new Set(states)).toEqual(new Set(['records-lost']));
    await shot('run');
  });

  it('compare: pick two sweeps, see web001 regressed first', async () => {
    await page.goto(new URL('/compare', server.url).href);
    await page.selectOption('select[name=a]', sweepId(SWEEPS - 2));
    await page.selectOption('select[name=b]', sweepId(SWEEPS - 1));
    await Promise.all([page.waitForURL(/compare\?a=/), page.click('form button')]);
    expect(await page.textContent('#regressed')).toBe('1');
    expect(await page.textContent('#improved')).toBe('1');
    const first = page.locator('table.compare tbody tr').first();
    expect(await first.locator('td').first().textContent()).toBe('web001');
    expect(await first.getAttribute('class')).toBe('regressed');
    await shot('compare');
  });

  it('search: a glob and a group, and the hostile host shown as text', async () => {
    await page.goto(new URL('/search', server.url).href);
    await page.fill('input[name=glob]', 'web00*');
    await page.fill('input[name=group]', 'dc-a');
    await Promise.all([page.waitForURL(/glob=web00/), page.click('form button')]);
    const names = await page.locator('table.hosts tbody tr td:first-child').allTextContents();
    expect(names.sort()).toEqual(['web001', 'web002', 'web003', 'web004', 'web005', 'web006', 'web007', 'web008', 'web009']);
    await shot('search');
    await page.goto(new URL('/search?code=records-lost', server.url).href);
    const evil = page.locator('table.hosts a', { hasText: 'evil<script>' });
    expect(await evil.count()).toBe(1);
    await evil.click();
    expect(await page.textContent('#hostname')).toContain('<script>window.__pwned=1</script>');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
    await shot('hostile-host');
  });

  it('needed nothing from the network and raised no script or CSP error', () => {
    expect(offsite).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
