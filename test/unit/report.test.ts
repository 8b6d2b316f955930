import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import type { HostResult } from '../../src/results/index.js';
import {
  EXTENSIONS, cdata, createRenderer, escapeMarkdown, foldHosts, markdownBlock, renderReport, safeFileName, writeReports,
} from '../../src/report/index.js';
import type { ReportData, ReportFormat, Renderer } from '../../src/report/index.js';
import { openStore } from '../../src/store/index.js';
import { HOSTILE, buildFleet, buildHost, hostileHost } from '../fixtures/results/build.js';
import { checkXml, loadReportSchema, validate } from '../fixtures/results/checkers.js';

class Collect extends Writable {
  chunks: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.chunks.push(chunk.toString('utf8'));
    cb();
  }
  get text(): string {
    return this.chunks.join('');
  }
}

let renderer: Renderer;
let dir: string;
beforeEach(() => {
  renderer ??= createRenderer();
  dir = mkdtempSync(join(tmpdir(), 'fleetmend-report-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function data(hosts: HostResult[], extra: Partial<ReportData> = {}): ReportData {
  const f = buildFleet(0);
  return { run: f.run, status: 'finished', hosts, generated_at: '2025-11-25T10:01:00.000Z', ...extra };
}

async function render(format: ReportFormat, d: ReportData, r: Renderer = renderer): Promise<string> {
  const out = new Collect();
  await renderReport(r, d, format, out);
  return out.text;
}

const fleet20 = () => buildFleet(20, { extra: [hostileHost(21)] });

describe('foldHosts', () => {
  it('folds like clush nodeset', () => {
    expect(foldHosts(Array.from({ length: 500 }, (_, i) => `web${String(i + 1).padStart(3, '0')}`))).toBe('web[001-500]');
    expect(foldHosts(['web001', 'web002', 'web003', 'web005', 'db1'])).toBe('db1,web[001-003,005]');
    expect(foldHosts(['node9', 'node10', 'node11'])).toBe('node[9-11]');
    expect(foldHosts(['a-01.lan', 'a-02.lan', 'x'])).toBe('a-[01-02].lan,x');
    expect(foldHosts(['web01', 'web001'])).toBe('web01,web001');
    expect(foldHosts([])).toBe('');
  });
});

describe('escapers', () => {
  it('markdown inline escaping keeps tables intact and HTML inert', () => {
    expect(escapeMarkdown('a|b `c` <script>\nx')).toBe('a\\|b \\`c\\` &lt;script&gt; x');
  });
  it('code blocks use a fence longer than any backtick run', () => {
    expect(markdownBlock(['```', 'x'])).toBe('````\n```\nx\n````');
  });
  it('CDATA splits ]]>', () => {
    expect(cdata('a]]>b')).toBe('<![CDATA[a]]]]><![CDATA[>b]]>');
  });
});

describe('markdown report', () => {
  it('summarises, groups, sorts worst first and details noteworthy hosts', async () => {
    const md = await render('md', data(fleet20().hosts));
    expect(md).toContain('**21 hosts**: ok 18, changed 1, failed 1, unreachable 1. Non-compliant: **6**.');
    expect(md).toContain('| web\\[001-002,004-006,009-010,012,015,018,020\\] | 11 | ok | healthy | – |');
    const hostRows = md.split('## Hosts')[1]!.split('## Host details')[0]!.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Host'));
    expect(hostRows).toHaveLength(21);
    expect(hostRows[0]).toMatch(/^\| evil/); // critical first
    expect(hostRows[20]).toMatch(/^\| web020 /);
    expect(md).toContain('### web003');
    expect(md).not.toContain('### web001'); // healthy: table only
    // what changed, with the diff
    expect(md).toContain('**persist backlog limit**');
    expect(md).toContain('`/etc/audit/rules.d/10-backlog.rules`:\n\n```diff\n--b 64\n+-b 8192\n```');
    expect(md).toContain('Action: restart auditd');
  });

  it('a low finding many hosts share is said once for the fleet, never as their top finding', async () => {
    const trade = { code: 'auditd-disk-action', severity: 'low' as const, message: 'disk_full_action = SUSPEND: auditd stops writing and discards', evidence: {}, action: 'choose ROTATE or HALT', action_code: 'review-disk-actions' as const };
    const hosts = Array.from({ length: 20 }, (_, i) => {
      const h = buildHost('healthy', { index: i + 1 });
      const info = { id: 'disk-actions', title: 'full-disk actions', impact: 0, passed: false, message: 'not satisfied' };
      return { ...h, diagnosis: { state: h.diagnosis!.state, findings: [trade] }, compliance: { compliant: true, failed_controls: [info], controls: [info], score: 1 } };
    });
    const md = await render('md', data(hosts));
    const notes = md.split('## Notes for the fleet')[1]!.split('## Hosts')[0]!;
    expect(notes).toContain('- **low** auditd-disk-action on 20 hosts (web\\[001-020\\]): disk\\_full\\_action = SUSPEND');
    expect(md.split('disk\\_full\\_action = SUSPEND').length - 1).toBeLessThanOrEqual(2); // the note and the group row, not 20 top findings
    const hostRows = md.split('## Hosts')[1]!.split('## Host details')[0]!.split('\n').filter((l) => l.startsWith('| web'));
    expect(hostRows).toHaveLength(20);
    for (const row of hostRows) expect(row).not.toContain('SUSPEND');
    // an informational control (impact 0) is not a failed control, and earns no host section
    expect(md).not.toContain('#### Failed controls');
    expect(md).not.toContain('### web001');
  });

  it('folds 500 identical healthy hosts into one group line', async () => {
    const hosts = Array.from({ length: 500 }, (_, i) => buildHost('healthy', { index: i + 1 }));
    hosts.push(buildHost('records-lost', { index: 501 }));
    const md = await render('md', data(hosts));
    const groups = md.split('## Groups')[1]!.split('## Hosts')[0]!;
    const rows = groups.split('\n').filter((l) => /^\| (web|evil)/.test(l));
    expect(rows).toEqual([expect.stringMatching(/^\| web501 \| 1 \| ok \| records-lost/), '| web\\[001-500\\] | 500 | ok | healthy | – |']);
  });

  it('escapes host-originated text: tables keep their columns, no live HTML outside code', async () => {
    const md = await render('md', data(fleet20().hosts));
    const unescapedPipes = (l: string) => (l.match(/(?<!\\)\|/g) ?? []).length;
    for (const section of [md.split('## Groups')[1]!.split('## Hosts')[0]!, md.split('## Hosts')[1]!.split('## Host details')[0]!]) {
      const rows = section.split('\n').filter((l) => l.startsWith('|'));
      expect(new Set(rows.map(unescapedPipes)).size).toBe(1);
    }
    // outside fenced code blocks there is no raw `<` at all
    const prose = md.replace(/^(`{3,})[^\n]*\n[\s\S]*?\n\1$/gm, '');
    expect(prose).not.toMatch(/<(?!br>)/);
    expect(prose).toContain('evil&lt;script&gt;window.\\_\\_pwned=1&lt;/script&gt;\\|x\\]\\]&gt;\\`../../etc/passwd');
    // the kernel block shows the line verbatim and its fence cannot be closed by the host's backticks
    expect(md).toContain('[   60.000001] audit: <script>window.__pwned=1</script> a|b x]]>y `rm -rf /`');
    expect(md).not.toContain('\u001b');
  });
});

describe('C1 controls and bidi controls in every format (issue 21 §8d)', () => {
  // U+009B is a one-byte CSI to some terminals; U+202E/2066 reorder what a reader sees
  const CSI = '\u009b31m', NEL = '\u0085', RLO = '\u202e', LRI = '\u2066', RLM = '\u200f', ALM = '\u061c';
  const all = `${CSI}${NEL}x${RLO}gnp.exe${LRI}${RLM}${ALM}`;
  const RAW = /[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
  const hostile = (): HostResult[] => {
    const lost = buildHost('records-lost', { index: 1, name: `web${RLO}1`, kernelLines: [`audit: ${all}`], findingText: all });
    lost.diagnosis!.findings[0]!.action = `run \`systemctl ${RLO}restart auditd\` now ${CSI}`;
    const down = buildHost('unreachable', { index: 2, name: `db${CSI}2` });
    // a forged result (distributed mode) may carry anything in any field, a plain {{code}} too
    down.error = { code: `E_X${RLO}` as never, message: `connect: ${all}` };
    return [lost, down];
  };

  it('Markdown, HTML and JUnit show them as the terminal does (\\x9b, \\u202e), raw nowhere', async () => {
    for (const format of ['md', 'html', 'junit'] as const) {
      const text = await render(format, data(hostile()));
      expect(text, format).not.toMatch(RAW);
      const bs = format === 'md' ? '\\\\' : '\\'; // Markdown escapes the backslash itself
      for (const shown of ['x9b31m', 'x85x', 'u202egnp.exe', 'u2066', 'u200f', 'u061c']) expect(text, `${format} ${shown}`).toContain(`${bs}${shown}`);
      expect(text, format).toContain(`web${bs}u202e1`);
    }
    expect(checkXml(await render('junit', data(hostile())))).toEqual([]);
  });

  it('JSON \\u-escapes them in the file and keeps the host values when parsed', async () => {
    const hosts = hostile();
    const text = await render('json', data(hosts));
    expect(text).not.toMatch(RAW);
    expect(text).toContain('web\\u202e1');
    expect(text).toContain('\\u009b31m\\u0085x\\u202egnp.exe\\u2066\\u200f\\u061c');
    const doc = JSON.parse(text) as { hosts: HostResult[] };
    expect(doc.hosts.map((h) => h.host).sort()).toEqual(hosts.map((h) => h.host).sort());
    expect(doc.hosts.find((h) => h.host === `db${CSI}2`)!.error).toEqual(hosts[1]!.error);
  });
});

describe('json report', () => {
  it('is the stored run and validates against schemas/report.schema.json', async () => {
    const f = fleet20();
    const text = await render('json', data(f.hosts, { summary: f.summary }));
    const doc = JSON.parse(text) as { hosts: HostResult[]; summary: unknown; format: string };
    expect(doc.format).toBe('fleetmend-report');
    expect(doc.hosts).toHaveLength(21);
    expect(doc.summary).toEqual(f.summary);
    expect(doc.hosts.find((h) => h.host === 'web017')).toEqual(f.hosts.find((h) => h.host === 'web017'));
    expect(validate(loadReportSchema(), doc)).toEqual([]);
    expect(text).not.toContain('</script>');
  });

  it('the schema rejects what it documents as invalid', () => {
    const schema = loadReportSchema();
    const f = buildFleet(2);
    const good = { format: 'fleetmend-report', version: 1, generated_at: 'x', run: f.run, status: 'finished', summary: f.summary, pending: [], hosts: f.hosts };
    expect(validate(schema, good)).toEqual([]);
    expect(validate(schema, { ...good, status: 'done' })).toEqual(['$.status: "done" not in enum']);
    expect(validate(schema, { ...good, extra: 1 })).toEqual(['$.extra: not allowed']);
    const badHost = { ...f.hosts[0]!, diagnosis: { state: 'healthy', findings: [{ code: 'x', severity: 'urgent', message: 'm', evidence: {}, action: 'a' }] } };
    expect(validate(schema, { ...good, hosts: [badHost] })).toEqual(['$.hosts[0].diagnosis.findings[0].severity: "urgent" not in enum']);
  });
});

describe('junit report', () => {
  it('has one testcase per host x control, failures, errors for unreachable/failed hosts, and is well-formed', async () => {
    const xml = await render('junit', data(fleet20().hosts));
    expect(checkXml(xml)).toEqual([]);
    // 19 hosts with 4 controls each + 2 error cases
    expect(xml.match(/<testcase /g)).toHaveLength(19 * 4 + 2);
    expect(xml).toMatch(/<testsuites name="fleetmend" tests="78" failures="9" errors="2"/);
    expect(xml).toContain('<testcase classname="web013" name="reachable"><error type="E_CONNECT_TIMEOUT"');
    expect(xml).toContain('<testcase classname="web019" name="run"><error type="E_BECOME"');
    expect(xml).toContain('<testcase classname="web003" name="audit-1.1 auditd registered and draining"><failure type="audit-1.1"');
    expect(xml).toContain('classname="evil&lt;script&gt;window.__pwned=1&lt;/script&gt;|x]]&gt;`../../etc/passwd"');
    expect(xml).toContain('x]]]]><![CDATA[>y'); // ]]> split inside CDATA
    expect(xml).not.toContain('<script>window.__pwned=1</script>|x'); // never raw outside CDATA
  });

  it('the checker itself rejects broken XML', () => {
    expect(checkXml('<a><b></a>')).not.toEqual([]);
    expect(checkXml('<a x="1" x="2"/>')).not.toEqual([]);
    expect(checkXml('<a>x ]]> y</a>')).not.toEqual([]);
    expect(checkXml('<a><![CDATA[x]]>]]></a>')).not.toEqual([]);
    expect(checkXml('<a>&nbsp;</a>')).not.toEqual([]);
  });
});

describe('html report', () => {
  it('is self-contained and host text is inert', async () => {
    const html = await render('html', data(fleet20().hosts));
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toMatch(/<(link|img|iframe|object)\b/);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('evil&lt;script&gt;window.__pwned&#x3D;1&lt;/script&gt;|x]]&gt;&#x60;../../etc/passwd');
    expect(html).toContain('&lt;/pre&gt;&lt;/details&gt;&lt;img src&#x3D;x onerror&#x3D;&quot;window.__pwned&#x3D;2&quot;&gt;');
    expect(html).toContain('<svg class="bars"');
    expect(html.match(/<g class="bar/g)).toHaveLength(19);
  });

  it('the CSP hash matches the inline script', async () => {
    const html = await render('html', data([buildHost('healthy')]));
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    const { createHash } = await import('node:crypto');
    // Handlebars writes `=` as &#x3D; in the attribute; the browser decodes it back.
    expect(html.replace(/&#x3D;/g, '=')).toContain(`script-src 'sha256-${createHash('sha256').update(script).digest('base64')}'`);
  });

  it('draws a sparkline for hosts with history', async () => {
    const history = { web001: [1, 2, 3].map((k) => ({ run_id: `r${k}`, taken_at: k * 1000, state: null, backlog: k, lost: 0, backlog_limit: 8192, enabled: 1, failure: 1, reachable: true })) };
    const html = await render('html', data([buildHost('healthy', { index: 1 }), buildHost('healthy', { index: 2 })], { history }));
    expect(html.match(/<figure class="spark">/g)).toHaveLength(1);
    expect(html).toMatch(/<polyline class="backlog" fill="none" points="0\.0,[\d.]+ 80\.0,[\d.]+ 160\.0,2\.0">/);
  });

  it('draws no history for a host that no sweep could read (no invented "max backlog 0")', async () => {
    const row = (k: number, read: boolean) => ({ run_id: `r${k}`, taken_at: k * 1000, state: null, backlog: read ? 7 : null, lost: read ? 3 : null, backlog_limit: read ? 8192 : null, enabled: read ? 1 : null, failure: read ? 1 : null, reachable: read });
    const hosts = [buildHost('unreachable', { index: 1 }), buildHost('unreachable', { index: 2 })];
    const history = { [hosts[0]!.host]: [1, 2, 3].map((k) => row(k, false)), [hosts[1]!.host]: [1, 2, 3].map((k) => row(k, k !== 2)) };
    const md = await render('md', data(hosts, { history }));
    expect(md.match(/- History: /g)).toHaveLength(1);
    expect(md).toContain('- History: 3 sweeps from 1970-01-01T00:00:01.000Z to 1970-01-01T00:00:03.000Z; max backlog 7, max lost 3');
    const html = await render('html', data(hosts, { history }));
    expect(html.match(/<figure class="spark">/g)).toHaveLength(1);
  });
});

describe('secrets', () => {
  it('never reach any report format', async () => {
    const h = { ...buildHost('records-lost', { name: 's1' }), vars: { become_password: 'hunter2', nested: { ssh_passphrase: 'p4ss' } } } as HostResult;
    for (const format of ['md', 'html', 'json', 'junit'] as const) {
      const out = await render(format, data([h]));
      expect(out).not.toContain('hunter2');
      expect(out).not.toContain('p4ss');
    }
  });
});

describe('streaming', () => {
  it('renders 10,000 hosts to a stream in bounded chunks', async () => {
    const hosts = Array.from({ length: 10_000 }, (_, i) => buildHost(i % 50 === 7 ? 'records-lost' : 'healthy', { index: i + 1, name: `n${String(i + 1).padStart(5, '0')}` }));
    for (const format of ['html', 'md', 'junit', 'json'] as const) {
      const out = new Collect();
      await renderReport(renderer, data(hosts), format, out);
      const sizes = out.chunks.map((c) => c.length);
      expect(out.chunks.length).toBeGreaterThan(10);
      expect(Math.max(...sizes)).toBeLessThan(256 * 1024);
      if (format === 'json') expect((JSON.parse(out.text) as { hosts: unknown[] }).hosts).toHaveLength(10_000);
      if (format === 'html') {
        expect(out.text.match(/<tr class="sev-[a-z]+" data-search=/g)).toHaveLength(10_000);
        expect(out.text).toMatch(/<code class="hostlist"><span>n\[00001-00007,<\/span><wbr><span>00009-00057,/); // the healthy group, folded, breakable between names
        expect(out.text).toContain('Showing the 40 hosts closest to their limit, of 10000.');
      }
    }
  }, 60_000);
});

describe('template errors and overrides', () => {
  function templateDir(files: Record<string, string>): string {
    const d = join(dir, 'tpl');
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(d, name)), { recursive: true });
      writeFileSync(join(d, name), text);
    }
    return d;
  }

  function catchErr(fn: () => unknown): FleetmendError {
    try {
      fn();
    } catch (e) {
      if (e instanceof FleetmendError) return e;
      throw e;
    }
    throw new Error('expected an error');
  }

  it('a syntax error is E_TEMPLATE at compile, naming file and line', () => {
    const d = templateDir({ 'md.host.hbs': 'line one\nline two\n{{#if host}}\nunclosed\n' });
    const err = catchErr(() => createRenderer({ templateDir: d }));
    expect(err.code).toBe('E_TEMPLATE');
    expect(err.position?.file).toBe(join(d, 'md.host.hbs'));
    expect(err.position?.line).toBeGreaterThanOrEqual(3);
  });

  it('a runtime error is E_TEMPLATE naming the partial file and line', async () => {
    const d = templateDir({ 'partials/md-finding.hbs': '- {{md code}}\n- {{nosuchhelper message}}\n' });
    const r = createRenderer({ templateDir: d });
    const err = await render('md', data([buildHost('records-lost')]), r).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(FleetmendError);
    const fe = err as FleetmendError;
    expect(fe.code).toBe('E_TEMPLATE');
    expect(fe.position).toEqual({ file: join(d, 'partials/md-finding.hbs'), line: 2, column: 3 });
    expect(fe.message).toContain('nosuchhelper');
  });

  it('overrides templates and partials by file name, compiled once', async () => {
    const d = templateDir({ 'md.footer.hbs': 'CUSTOM FOOTER {{fleet.summary.hosts}}\n', 'html-style.hbs': 'body{color:red}' });
    const r = createRenderer({ templateDir: d });
    expect(r.sources.get('md.footer')).toBe(join(d, 'md.footer.hbs'));
    expect(r.sources.get('md.header')).toBe(resolve('templates/md.header.hbs'));
    writeFileSync(join(d, 'md.footer.hbs'), 'CHANGED AFTER COMPILE');
    const md = await render('md', data([buildHost('healthy')]), r);
    expect(md.trimEnd().endsWith('CUSTOM FOOTER 1')).toBe(true);
    expect(await render('html', data([buildHost('healthy')]), r)).toContain('<style>body{color:red}</style>');
  });
});

describe('writeReports', () => {
  it('writes private files under outDir/<run-id>/, per-host names cannot escape', async () => {
    const state = join(dir, 'state');
    const store = openStore(state);
    const evil = hostileHost(21);
    const tricky = ['..', '.', '/', '../../x', 'a/b', 'a_b', '.hidden', ''].map((name, i) => buildHost('healthy', { name, index: 30 + i }));
    const f = buildFleet(3, { extra: [evil, ...tricky] });
    store.startRun(f.run, f.hosts.map((h) => h.host));
    for (const h of f.hosts) store.recordHost(f.run.id, h);
    store.finishRun(f.run.id, f.summary);
    const runStored = store.getRun('latest');
    store.close();

    const outDir = join(dir, 'reports');
    const files = await writeReports({ runStored, formats: ['md', 'html', 'json', 'junit'], outDir, perHost: true, renderer });
    const runDir = join(outDir, f.run.id);
    expect(files.slice(0, 4)).toEqual((['md', 'html', 'json', 'junit'] as const).map((x) => join(runDir, `report.${EXTENSIONS[x]}`)));
    expect(files).toHaveLength(4 + f.hosts.length * 4);
    for (const d of [outDir, runDir, join(runDir, 'hosts')]) expect(statSync(d).mode & 0o777).toBe(0o700);
    for (const file of files) {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(resolve(file).startsWith(runDir + '/')).toBe(true);
    }
    const hostFiles = readdirSync(join(runDir, 'hosts'));
    expect(hostFiles).toHaveLength(f.hosts.length * 4); // no collisions: a/b and a_b differ
    expect(readdirSync(dir).sort()).toEqual(['reports', 'state']); // nothing escaped upward
    for (const name of hostFiles) expect(name).toMatch(/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/);
    const evilMd = readFileSync(join(runDir, 'hosts', `${safeFileName(evil.host)}.md`), 'utf8');
    expect(evilMd).toContain('**1 hosts**');
    expect(evilMd).toContain(HOSTILE.backtick.replace(/`/g, '\\`'));
  });

  it('safeFileName never yields a path or dot name', () => {
    for (const n of ['..', '.', '../../etc/passwd', '/abs', 'a\u0000b', 'x'.repeat(300), 'C:\\win']) {
      const s = safeFileName(n);
      expect(s).toMatch(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}$/);
    }
    expect(safeFileName('web001.example.com')).toBe('web001.example.com');
    expect(safeFileName('a/b')).not.toBe(safeFileName('a_b'));
  });
});
