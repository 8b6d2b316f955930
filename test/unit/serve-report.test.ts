/**
 * Issue 26.5, the static HTML report: the severity badge is the worst finding's (a failed host
 * whose only finding is medium showed "high"), host details are collapsed, folded host lists
 * can break between names only. Layout at 2,000 hosts is checked in Chromium
 * (test/browser/serve-report.test.ts).
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRenderer, groupHosts, renderReport } from '../../src/report/index.js';
import type { HostResult } from '../../src/results/index.js';
import { buildFleet, buildHost } from '../fixtures/results/build.js';

async function html(hosts: HostResult[]): Promise<string> {
  const fleet = buildFleet(0, { extra: hosts });
  let text = '';
  const out = new Writable({ write: (c, _e, done) => ((text += String(c)), done()) });
  await renderReport(createRenderer(), { run: fleet.run, status: 'finished', hosts: fleet.hosts }, 'html', out);
  return text;
}

/** A host that failed (a task, sudo) and whose diagnosis holds one medium finding. */
function failedWithMedium(): HostResult {
  const h = buildHost('healthy', { index: 5, name: 'db05' });
  h.status = 'failed';
  h.error = { code: 'E_BECOME', message: 'sudo: a password is required' };
  h.diagnosis = { state: 'degraded', findings: [{ code: 'backlog-limit-default', severity: 'medium', message: 'backlog limit is the kernel default 64', evidence: {}, action: 'persist -b 8192' }] };
  return h;
}

describe('static HTML report at fleet scale', () => {
  it("a host's badge is its worst finding's severity, not the status's rank", async () => {
    const page = await html([failedWithMedium()]);
    const row = page.split('\n').find((l) => l.includes('data-search=') && l.includes('db05'))!;
    expect(row).toContain('<span class="sev sev-medium">medium</span>');
    expect(row).not.toContain('sev-high');
    const details = page.slice(page.indexOf('id="host-'));
    expect(details).toMatch(/<span class="host-name">db05<\/span> <span class="sev sev-medium">medium<\/span> <span class="badge status-failed">failed<\/span>/);
    expect(groupHosts([failedWithMedium()])[0]!.severity).toBe('medium');
  });

  it('a host without findings has no severity badge colour, whatever its status', async () => {
    const h = buildHost('unreachable', { index: 9 });
    expect(groupHosts([h])[0]!.severity).toBe('none');
  });

  it('host details are collapsed sections; a single-host report opens its one', async () => {
    const many = await html([failedWithMedium(), buildHost('records-lost', { index: 7 })]);
    expect(many.match(/<details class="host-details">/g)).toHaveLength(2);
    expect(many).not.toContain('<details class="host-details" open>');
  });

  it('a folded host list breaks only after a comma: each piece an unbreakable span', async () => {
    const page = await html(Array.from({ length: 30 }, (_, i) => buildHost('healthy', { index: i * 2 + 1 })));
    const list = /<code class="hostlist">(.*?)<\/code>/.exec(page)![1]!;
    const parts = list.split('<wbr>');
    expect(parts.length).toBeGreaterThan(10);
    for (const part of parts.slice(0, -1)) expect(part).toMatch(/^<span>[^<]+,<\/span>$/);
  });
});
