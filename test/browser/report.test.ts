/**
 * The HTML report in a real browser: self-contained, sortable, filterable, charts drawn, and
 * host-originated markup inert. Needs /usr/bin/chromium (CI installs it).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRenderer, renderReport } from '../../src/report/index.js';
import type { HostHistoryRow } from '../../src/store/index.js';
import { T0, buildFleet, hostileHost } from '../fixtures/results/build.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser tests skipped: ${CHROMIUM} not found (apt-get install -y chromium)`);

const ACTION = 'restart auditd (`systemctl restart auditd`) on <img src=x onerror="window.__pwned=3"> then `echo </code><script>window.__pwned=4</script> a|b`';

describe.skipIf(!haveChromium)('HTML report in Chromium', () => {
  let dir: string;
  let browser: BrowserContext | undefined;
  let page: Page;
  const requests: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleetmend-browser-'));
    const evil = hostileHost(21);
    // an action with commands in backticks, and host data that tries to be markup around and inside them
    evil.diagnosis!.findings[0]!.action = ACTION;
    const fleet = buildFleet(20, { extra: [evil] });
    const history: Record<string, HostHistoryRow[]> = {
      web007: [0, 1, 2, 3, 4].map((k) => ({
        run_id: `r${k}`, taken_at: T0 - (5 - k) * 86_400_000, state: 'records-lost', backlog: 10 + k * 12,
        lost: k * k * 300, backlog_limit: 64, enabled: 1, failure: 1, reachable: true,
      })),
    };
    const file = join(dir, 'report.html');
    await renderReport(createRenderer(), { run: fleet.run, status: 'finished', hosts: fleet.hosts, history }, 'html', file);

    // A fresh profile per run (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.goto(pathToFileURL(file).href);
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const hostColumn = () => page.$$eval('#hosts tbody tr', (rows) => rows.map((r) => (r as HTMLTableRowElement).cells[0]!.getAttribute('data-v')));

  it('loads with no network requests and no script errors', async () => {
    expect(requests).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect(await page.title()).toContain('fleetmend');
    // The CSP hash matched: the report's own script ran and filled in the row count.
    expect(await page.textContent('#shown')).toBe('21 of 21 hosts');
  });

  it('did not run script from host output, and shows it as text', async () => {
    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(await page.locator('script').count()).toBe(1);
    expect(await page.locator('img').count()).toBe(0);
    const kernel = await page.locator('pre.kernel').allTextContents();
    expect(kernel.join('\n')).toContain('<script>window.__pwned=1</script> a|b x]]>y `rm -rf /`');
    const names = await hostColumn();
    expect(names).toContain('evil<script>window.__pwned=1</script>|x]]>`../../etc/passwd');
  });

  it('sorts the host table when a header is clicked', async () => {
    const before = await hostColumn();
    expect(before[0]).toMatch(/^evil|^web00[78]$/); // worst first
    await page.click('#hosts thead th:nth-child(1) button');
    const asc = await hostColumn();
    expect(asc).not.toEqual(before);
    expect(asc.slice(0, 3)).toEqual(['evil<script>window.__pwned=1</script>|x]]>`../../etc/passwd', 'web001', 'web002']);
    expect(await page.getAttribute('#hosts thead th:nth-child(1)', 'aria-sort')).toBe('ascending');
    await page.click('#hosts thead th:nth-child(1) button');
    expect((await hostColumn())[0]).toBe('web020');
    // numeric column: Lost, descending puts the biggest loss first
    await page.click('#hosts thead th:nth-child(7) button');
    await page.click('#hosts thead th:nth-child(7) button');
    const lost = await page.$$eval('#hosts tbody tr', (rows) => rows.map((r) => Number((r as HTMLTableRowElement).cells[6]!.getAttribute('data-v'))));
    expect(lost).toEqual([...lost].sort((a, b) => b - a));
    expect(lost[0]).toBe(8091); // the hostile host (index 21): 7881 + 21 * 10
  });

  it('filters rows by the text box', async () => {
    await page.fill('#filter', 'records-lost');
    const visible = await page.$$eval('#hosts tbody tr', (rows) => rows.filter((r) => !(r as HTMLElement).hidden).length);
    expect(visible).toBe(3);
    expect(await page.textContent('#shown')).toBe('3 of 21 hosts');
    await page.fill('#filter', 'web013');
    expect(await page.locator('#hosts tbody tr:visible').count()).toBe(1);
    await page.fill('#filter', '');
    expect(await page.locator('#hosts tbody tr:visible').count()).toBe(21);
  });

  it('draws the backlog chart and the history sparkline', async () => {
    const bars = page.locator('svg.bars g.bar');
    expect(await bars.count()).toBe(19); // every host with an auditctl status
    const widths = await page.$$eval('svg.bars rect.backlog', (rs) => rs.map((r) => Number(r.getAttribute('width'))));
    expect(Math.max(...widths)).toBeGreaterThan(0);
    expect(await page.locator('svg.bars g.bar.over').count()).toBe(3); // backlog 65 > limit 64
    const box = await page.locator('svg.bars').boundingBox();
    expect(box!.height).toBeGreaterThan(100);
    const spark = page.locator('#host-1 figure.spark polyline, section[data-host="web007"] figure.spark polyline');
    expect(await spark.count()).toBe(2);
    const pts = await spark.first().getAttribute('points');
    expect(pts!.split(' ')).toHaveLength(5);
  });

  it('shows the commands of an action as code, the host data around and inside them as text', async () => {
    const action = page.locator('section.host p.action', { hasText: 'window.__pwned=4' });
    expect(await action.count()).toBe(1);
    expect(await action.locator('code').allTextContents()).toEqual(['systemctl restart auditd', 'echo </code><script>window.__pwned=4</script> a|b']);
    expect(await action.textContent()).toBe(`Action: ${ACTION.replace(/`/g, '')}`);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
  });

  it('never breaks a table header inside a word, at any width', async () => {
    // A word that wraps inside itself is drawn as more than one box: measure every word of every header.
    const broken = async () =>
      page.$$eval('th', (ths) =>
        ths.flatMap((th) => {
          const out: string[] = [];
          const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
          for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            for (const m of (n.textContent ?? '').matchAll(/\S+/g)) {
              const r = document.createRange();
              r.setStart(n, m.index!);
              r.setEnd(n, m.index! + m[0].length);
              const lines = new Set(Array.from(r.getClientRects()).filter((b) => b.width > 0).map((b) => Math.round(b.top)));
              if (lines.size > 1) out.push(`${m[0]} (${lines.size} lines)`);
            }
          }
          return out;
        }),
      );
    try {
      for (const width of [1280, 800, 560, 420]) {
        await page.setViewportSize({ width, height: 900 });
        expect(await broken(), `viewport ${width}px`).toEqual([]);
      }
      // the measurement can fail: a header squeezed by CSS to one character per line is caught
      const squeeze = await page.addStyleTag({ content: 'th { width: 1ch; max-width: 1ch; white-space: normal !important; word-break: break-all !important; }' });
      expect((await broken()).length).toBeGreaterThan(0);
      await squeeze.evaluate((el) => (el as Element).remove());
      expect(await broken()).toEqual([]);
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  it('saves a screenshot', async () => {
    const out = resolve('test-artifacts');
    mkdirSync(out, { recursive: true });
    await page.fill('#filter', '');
    await page.screenshot({ path: join(out, 'report.png'), fullPage: true });
    expect(existsSync(join(out, 'report.png'))).toBe(true);
  });
});
