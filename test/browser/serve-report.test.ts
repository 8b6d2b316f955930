/**
 * Issue 26.5 in Chromium: the static HTML report of a 2,000-host fleet (as a new user tried it)
 * uses the full width, never breaks a host name, state or number inside the token, wraps folded
 * host lists inside their cell between names, leaves the findings column its room, and opens
 * with the host details collapsed (a row's link opens its host).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRenderer, renderReport } from '../../src/report/index.js';
import { buildFleet } from '../fixtures/results/build.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const WIDTH = 1600;

describe.skipIf(!haveChromium)('HTML report of 2,000 hosts in Chromium', () => {
  let dir: string;
  let browser: BrowserContext | undefined;
  let page: Page;
  const requests: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleetmend-report-2000-'));
    const fleet = buildFleet(2000);
    const file = join(dir, 'report.html');
    await renderReport(createRenderer(), { run: fleet.run, status: 'finished', hosts: fleet.hosts }, 'html', file);
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: WIDTH, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto(pathToFileURL(file).href);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses the full width of the window', async () => {
    const main = await page.evaluate(() => document.querySelector('main')!.getBoundingClientRect().width);
    expect(main).toBeGreaterThan(WIDTH - 100);
  });

  it('never breaks a host name, state or number inside the token', async () => {
    // a token's text laid out on more than one line has more than one client rect
    const broken = await page.evaluate(() => {
      // lines of a token's text: a rect that starts below the previous line's bottom starts a new one
      const lines = (el: Element) => {
        const r = document.createRange();
        r.selectNodeContents(el);
        const rects = Array.from(r.getClientRects()).sort((a, b) => a.top - b.top);
        let n = 0;
        let bottom = -Infinity;
        for (const x of rects) if (x.width > 0 && x.top >= bottom - 1) (n++, (bottom = x.bottom));
        return n;
      };
      const tokens = Array.from(document.querySelectorAll('#hosts a.host-name, #hosts .state, #hosts td.num, table.groups td:nth-child(4), table.groups td.num')).slice(0, 3000);
      return { checked: tokens.length, broken: tokens.filter((t) => t.textContent!.trim() && lines(t) > 1).map((t) => t.textContent) };
    });
    expect(broken.checked).toBeGreaterThan(1000);
    expect(broken.broken).toEqual([]);
  });

  it('wraps a folded host list inside its cell, between names, and leaves the findings their room', async () => {
    const m = await page.evaluate(() => {
      const table = document.querySelector('table.groups')!;
      const lists = Array.from(table.querySelectorAll('code.hostlist'));
      const longest = lists.sort((a, b) => b.textContent!.length - a.textContent!.length)[0]!;
      const cell = longest.closest('td')!;
      const row = cell.closest('tr')!;
      const findings = row.cells[4]!;
      const r = document.createRange();
      // every piece between two <wbr> (a span) stays on one line
      const pieces = Array.from(longest.querySelectorAll('span'));
      const brokenPieces = pieces.filter((n) => n.getClientRects().length > 1).length;
      const listLines = new Set(pieces.map((p) => Math.round(p.getBoundingClientRect().top))).size;
      return {
        table: table.getBoundingClientRect().width,
        cell: cell.getBoundingClientRect().width,
        listRight: longest.getBoundingClientRect().right,
        cellRight: cell.getBoundingClientRect().right,
        findings: findings.getBoundingClientRect().width,
        listLines,
        pieces: pieces.length,
        brokenPieces,
      };
    });
    expect(m.pieces).toBeGreaterThan(20);
    expect(m.listLines).toBeGreaterThan(1);
    expect(m.brokenPieces).toBe(0);
    expect(m.listRight).toBeLessThanOrEqual(m.cellRight + 1);
    expect(m.cell / m.table).toBeLessThan(0.35);
    expect(m.findings / m.table).toBeGreaterThan(0.3);
  });

  it('opens with host details collapsed; a row link opens its host', async () => {
    const counts = await page.evaluate(() => ({ all: document.querySelectorAll('details.host-details').length, open: document.querySelectorAll('details.host-details[open]').length }));
    expect(counts.all).toBeGreaterThan(100);
    expect(counts.open).toBe(0);
    const link = page.locator('#hosts a.host-name').first();
    const anchor = (await link.getAttribute('href'))!;
    await link.click();
    // the report's script opens it on the hashchange the click causes: wait for it (bounded), then assert
    const opened = await page
      .waitForFunction((id) => (document.getElementById(id.slice(1))?.querySelector('details') as HTMLDetailsElement | null)?.open === true, anchor, { timeout: 5_000 })
      .then(() => true, () => false);
    expect(opened).toBe(true);
    mkdirSync(resolve('test-artifacts', 'serve'), { recursive: true });
    await page.screenshot({ path: resolve('test-artifacts', 'serve', 'report-2000.png') });
    expect(requests).toEqual([]);
  });
});
