/**
 * What a person reads in a report: numbers rounded (JSON keeps them raw), the commands in a
 * recommended action shown as code in Markdown and HTML while host data around and inside them
 * stays escaped.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { HostResult } from '../../src/results/index.js';
import type { Finding } from '../../src/diagnosis/types.js';
import { createRenderer, htmlWithCode, humanNumber, markdownWithCode, renderReport } from '../../src/report/index.js';
import type { ReportData, ReportFormat } from '../../src/report/index.js';
import { buildFleet, buildHost } from '../fixtures/results/build.js';

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

const renderer = createRenderer();

async function render(format: ReportFormat, hosts: HostResult[]): Promise<string> {
  const f = buildFleet(0);
  const d: ReportData = { run: f.run, status: 'finished', hosts, generated_at: '2025-11-25T10:01:00.000Z' };
  const out = new Collect();
  await renderReport(renderer, d, format, out);
  return out.text;
}

/** A host whose one finding carries a float in its evidence and the given action. */
function hostWith(action: string, name = 'web001'): HostResult {
  const h = buildHost('records-lost', { index: 1, name });
  const finding: Finding = {
    code: 'records-lost',
    severity: 'critical',
    message: '4283 audit records lost in 2.134s (2006.6/s): the audit trail has holes',
    evidence: { lost_delta: 4283, lost_per_s: 2006.638217164533, interval_s: 2.134, ratio: 0.00067138671875 },
    action,
    action_code: 'restart-auditd',
  };
  return { ...h, diagnosis: { state: 'records-lost', findings: [finding] } };
}

const HOSTILE_ACTION =
  'restart auditd (`systemctl restart auditd`) on <img src=x onerror="window.__pwned=3"> **now** ' +
  'then `echo </code><script>window.__pwned=4</script> a|b` and a lone ` backtick';

describe('humanNumber', () => {
  it('rounds for people: three significant digits, at least one decimal, whole numbers untouched', () => {
    expect(humanNumber(2006.638217164533)).toBe('2006.6');
    expect(humanNumber(1.0001220703125)).toBe('1');
    expect(humanNumber(0.20067138671875)).toBe('0.201');
    expect(humanNumber(0.00067138671875)).toBe('0.000671');
    expect(humanNumber(-3.25)).toBe('-3.25');
    expect(humanNumber(6083745)).toBe('6083745');
    expect(humanNumber(0)).toBe('0');
    expect(humanNumber(1e-9)).toBe('0');
  });
});

describe('numbers in reports', () => {
  it('Markdown and HTML show rounded evidence; JSON keeps the raw number', async () => {
    const h = hostWith('restart auditd (`systemctl restart auditd`)');
    const md = await render('md', [h]);
    expect(md).toContain('lost\\_per\\_s = 2006.6, interval\\_s = 2.13, ratio = 0.000671');
    expect(md).not.toContain('2006.638');
    const html = await render('html', [h]);
    expect(html).toContain('<dt>lost_per_s</dt><dd>2006.6</dd>');
    expect(html).not.toContain('2006.638');
    const json = JSON.parse(await render('json', [h])) as { hosts: HostResult[] };
    expect(json.hosts[0]!.diagnosis!.findings[0]!.evidence['lost_per_s']).toBe(2006.638217164533);
  });
});

describe('code in recommended actions', () => {
  it('Markdown: backtick spans stay code spans, the rest is escaped text', async () => {
    const md = await render('md', [hostWith('restart auditd (`systemctl restart auditd`) so it drains the queue')]);
    expect(md).toContain('  - Action: restart auditd (`systemctl restart auditd`) so it drains the queue\n');
    expect(md).not.toContain('\\`systemctl');
  });

  it('HTML: backtick spans become <code>', async () => {
    const html = await render('html', [hostWith('resume auditd (`kill -CONT 412`) or restart it (`systemctl restart auditd`)')]);
    expect(html).toContain('<p class="action">Action: resume auditd (<code>kill -CONT 412</code>) or restart it (<code>systemctl restart auditd</code>)</p>');
  });

  it('hostile text in an action stays inert in both formats, inside and outside the code spans', async () => {
    expect(markdownWithCode(HOSTILE_ACTION)).toBe(
      'restart auditd (`systemctl restart auditd`) on &lt;img src=x onerror="window.\\_\\_pwned=3"&gt; \\*\\*now\\*\\* ' +
        'then `echo </code><script>window.__pwned=4</script> a\\|b` and a lone \\` backtick',
    );
    expect(htmlWithCode(HOSTILE_ACTION)).toBe(
      'restart auditd (<code>systemctl restart auditd</code>) on &lt;img src=x onerror=&quot;window.__pwned=3&quot;&gt; **now** ' +
        'then <code>echo &lt;/code&gt;&lt;script&gt;window.__pwned=4&lt;/script&gt; a|b</code> and a lone ` backtick',
    );
    // control characters and line breaks cannot end the list item or the code span early
    // (shown as the terminal shows them: `\x1b`, its backslash escaped in Markdown)
    expect(markdownWithCode('a\n- `x\ny` \u001b[31m')).toBe('a - `x y` \\\\x1b\\[31m');
    expect(htmlWithCode('`\u0007`')).toBe('<code>\\x07</code>');

    const md = await render('md', [hostWith(HOSTILE_ACTION)]);
    const prose = md.replace(/^(`{3,})[^\n]*\n[\s\S]*?\n\1$/gm, '').replace(/(`+)(?!`)[^`\n]*?[^`]\1(?!`)/g, '');
    expect(prose).not.toMatch(/<(?!br>)/);
    const html = await render('html', [hostWith(HOSTILE_ACTION)]);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script>window');
    expect(html.match(/<script>/g)).toHaveLength(1); // the report's own script only
  });
});
