/**
 * The Prometheus exposition formats (escaping, counters, units, # EOF, negotiation), a sweep's
 * families (units, absent values, one-hot states), the listen address rules and the atomic
 * textfile write. Pure except the last block, which writes in a temp directory.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, watch, writeFileSync, chmodSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import {
  CONTENT_TYPES, LatestSweep, METRIC_STATES, checkMetricsFile, escapeHelp, escapeLabelValue, family, formatValue, hostAllowed, isLoopback,
  kernelHz, metricsFileWriter, negotiate, parseListen, render, sweepFamilies, writeFileAtomic, writeMetricsFile, type MetricFamily,
} from '../../src/metrics/index.js';
import type { HostResult } from '../../src/results/index.js';
import { buildFleet, buildHost, hostileHost } from '../fixtures/results/build.js';

const lost: MetricFamily = family({ name: 'x_lost_total', type: 'counter', help: 'Records lost.', samples: [{ labels: { host: 'a' }, value: 7 }] });
const wait: MetricFamily = family({ name: 'x_wait_seconds_total', type: 'counter', unit: 'seconds', help: 'Waited.', samples: [{ labels: { host: 'a' }, value: 1.5 }] });
const up: MetricFamily = family({ name: 'x_up', type: 'gauge', help: 'Up.', samples: [{ labels: { host: 'a' }, value: 1 }, { labels: { host: 'b' }, value: 0 }] });

describe('exposition formats', () => {
  it('text 0.0.4: HELP/TYPE with the full counter name, samples, no UNIT, no EOF', () => {
    expect(render([lost, wait, up], 'text')).toBe(
      [
        '# HELP x_lost_total Records lost.',
        '# TYPE x_lost_total counter',
        'x_lost_total{host="a"} 7',
        '# HELP x_wait_seconds_total Waited.',
        '# TYPE x_wait_seconds_total counter',
        'x_wait_seconds_total{host="a"} 1.5',
        '# HELP x_up Up.',
        '# TYPE x_up gauge',
        'x_up{host="a"} 1',
        'x_up{host="b"} 0',
        '',
      ].join('\n'),
    );
  });

  it('OpenMetrics 1.0: counter families named without _total (samples keep it), UNIT lines, # EOF last', () => {
    expect(render([lost, wait, up], 'openmetrics')).toBe(
      [
        '# HELP x_lost Records lost.',
        '# TYPE x_lost counter',
        'x_lost_total{host="a"} 7',
        '# HELP x_wait_seconds Waited.',
        '# TYPE x_wait_seconds counter',
        '# UNIT x_wait_seconds seconds',
        'x_wait_seconds_total{host="a"} 1.5',
        '# HELP x_up Up.',
        '# TYPE x_up gauge',
        'x_up{host="a"} 1',
        'x_up{host="b"} 0',
        '# EOF',
        '',
      ].join('\n'),
    );
    expect(render([], 'openmetrics')).toBe('# EOF\n');
    expect(render([], 'text')).toBe('');
  });

  it('escapes label values (backslash, double quote, line feed) and nothing else', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeLabelValue("it's {x=1}, ok\ttab")).toBe("it's {x=1}, ok\ttab");
    const f = family({ name: 'x_up', type: 'gauge', help: 'h', samples: [{ labels: { host: 'web"1\\\n' }, value: 1 }] });
    expect(render([f], 'text')).toContain('x_up{host="web\\"1\\\\\\n"} 1\n');
  });

  it('escapes HELP per format: 0.0.4 leaves the double quote, OpenMetrics escapes it', () => {
    expect(escapeHelp('say "hi"\\\nnext', 'text')).toBe('say "hi"\\\\\\nnext');
    expect(escapeHelp('say "hi"\\\nnext', 'openmetrics')).toBe('say \\"hi\\"\\\\\\nnext');
  });

  it('writes the float specials as Prometheus spells them, numbers in round-trip form', () => {
    expect([NaN, Infinity, -Infinity, 0, 8193, 0.1, 304.816, 1e21, 1796154864.713].map(formatValue)).toEqual(['NaN', '+Inf', '-Inf', '0', '8193', '0.1', '304.816', '1e+21', '1796154864.713']);
  });

  it('refuses names that break the rules: _total only on counters, unit as suffix, valid names', () => {
    const bad: MetricFamily[] = [
      { name: 'x_lost', type: 'counter', help: '', samples: [] },
      { name: 'x_hosts_total', type: 'gauge', help: '', samples: [] },
      { name: 'x_wait_total', type: 'counter', unit: 'seconds', help: '', samples: [] },
      { name: 'x-up', type: 'gauge', help: '', samples: [] },
      { name: 'x_up', type: 'gauge', help: '', samples: [{ labels: { 'bad-label': 'v' }, value: 1 }] },
      { name: 'x_up', type: 'gauge', help: '', samples: [{ labels: { __name__: 'v' }, value: 1 }] },
      { name: 'x_lost_total', type: 'counter', help: '', samples: [{ labels: {}, value: -1 }] },
    ];
    for (const f of bad) expect(() => family(f), f.name).toThrow();
  });

  it("negotiates OpenMetrics from Prometheus' own Accept header, text otherwise", () => {
    const prometheus = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    expect(negotiate(prometheus)).toBe('openmetrics');
    expect(negotiate('application/openmetrics-text')).toBe('openmetrics');
    expect(negotiate('text/plain;version=0.0.4;q=0.9, application/openmetrics-text;version=1.0.0;q=0.5')).toBe('text');
    expect(negotiate('application/openmetrics-text;version=2.0.0')).toBe('text');
    expect(negotiate('application/openmetrics-text;q=0')).toBe('text');
    expect(negotiate('*/*')).toBe('text');
    expect(negotiate(undefined)).toBe('text');
    expect(CONTENT_TYPES.openmetrics).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(CONTENT_TYPES.text).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});

function byName(families: MetricFamily[], name: string): MetricFamily {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`no family ${name}`);
  return f;
}
const valueOf = (f: MetricFamily, labels: Record<string, string>) => f.samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value;

describe('a sweep as metric families', () => {
  const fleet = buildFleet(20);
  const families = sweepFamilies(fleet.run, fleet.hosts);

  it('has every documented series, with HELP, and only host/state labels', () => {
    const names = families.map((f) => f.name);
    for (const n of [
      'fleetmend_audit_backlog', 'fleetmend_audit_backlog_limit', 'fleetmend_audit_lost_total', 'fleetmend_audit_backlog_wait_seconds_total',
      'fleetmend_audit_enabled', 'fleetmend_audit_failure_mode', 'fleetmend_host_up', 'fleetmend_host_state', 'fleetmend_host_compliant',
      'fleetmend_sweep_last_success_timestamp_seconds', 'fleetmend_sweep_duration_seconds', 'fleetmend_hosts',
    ]) expect(names).toContain(n);
    for (const f of families) {
      expect(f.help.length, f.name).toBeGreaterThan(10);
      for (const s of f.samples) for (const k of Object.keys(s.labels)) expect(['host', 'state'], f.name).toContain(k);
    }
  });

  it("takes each host's last sample's auditctl values", () => {
    for (const h of fleet.hosts.filter((x) => x.audit)) {
      expect(valueOf(byName(families, 'fleetmend_audit_backlog'), { host: h.host })).toBe(h.audit!.backlog);
      expect(valueOf(byName(families, 'fleetmend_audit_backlog_limit'), { host: h.host })).toBe(h.audit!.backlog_limit);
      expect(valueOf(byName(families, 'fleetmend_audit_lost_total'), { host: h.host })).toBe(h.audit!.lost);
      expect(valueOf(byName(families, 'fleetmend_audit_enabled'), { host: h.host })).toBe(h.audit!.enabled);
      expect(valueOf(byName(families, 'fleetmend_audit_failure_mode'), { host: h.host })).toBe(h.audit!.failure);
    }
    expect(fleet.hosts.some((h) => h.audit && h.audit.lost > 0)).toBe(true);
  });

  it("converts backlog_wait_time_actual ticks to seconds with the host's HZ (its CONFIG_HZ, else Debian 250, RHEL 1000)", () => {
    const deb = buildHost('backlog-growing', { index: 3 });
    expect(deb.audit!.backlog_wait_time_actual).toBe(12_000);
    const rhel: HostResult = structuredClone({ ...deb, host: 'db01' });
    for (const s of rhel.facts!.samples) s.system = { ...s.system, kernel_release: '5.14.0-427.13.1.el9_4.x86_64', distribution: { id: 'rhel', version_id: '9.4' } };
    // the host's own CONFIG_HZ wins over what its distribution and release suggest (a Debian host with a custom kernel)
    const custom: HostResult = structuredClone({ ...deb, host: 'db02' });
    for (const s of custom.facts!.samples) s.system.kernel_hz = 300;
    const f = byName(sweepFamilies(fleet.run, [deb, rhel, custom]), 'fleetmend_audit_backlog_wait_seconds_total');
    expect(valueOf(f, { host: deb.host })).toBe(48); // 12000 / 250
    expect(valueOf(f, { host: 'db01' })).toBe(12); // 12000 / 1000
    expect(valueOf(f, { host: 'db02' })).toBe(40); // 12000 / 300
    expect(kernelHz({ kernel_hz: 100, distribution: { id: 'rhel', version_id: '9.4' } })).toBe(100);
    // without CONFIG_HZ, the release the diagnosis also goes by, then the distribution
    expect(kernelHz({ kernel_release: '4.18.0-553.el8_10.x86_64', distribution: { id: 'debian' } })).toBe(1000);
    expect(kernelHz({ distribution: { id: 'ubuntu', version_id: '24.04' } })).toBe(250);
    expect(kernelHz({ distribution: { id: 'ubuntu', version_id: '25.04' } })).toBe(1000);
    expect(kernelHz({ distribution: { id: 'rocky', version_id: '9.3' } })).toBe(1000);
    expect(kernelHz(undefined)).toBe(250);
  });

  it('leaves out what the sweep could not read instead of writing 0 (unreachable host, old kernel)', () => {
    const down = fleet.hosts.find((h) => h.status === 'unreachable')!;
    expect(down).toBeDefined();
    expect(valueOf(byName(families, 'fleetmend_host_up'), { host: down.host })).toBe(0);
    for (const n of ['fleetmend_audit_backlog', 'fleetmend_audit_lost_total', 'fleetmend_host_compliant']) {
      expect(valueOf(byName(families, n), { host: down.host }), n).toBeUndefined();
    }
    expect(byName(families, 'fleetmend_host_state').samples.filter((s) => s.labels['host'] === down.host)).toEqual([]);
    const old = buildHost('healthy', { index: 2 });
    delete old.audit!.backlog_wait_time_actual;
    expect(byName(sweepFamilies(fleet.run, [old]), 'fleetmend_audit_backlog_wait_seconds_total').samples).toEqual([]);
    expect(byName(sweepFamilies(fleet.run, [old]), 'fleetmend_audit_backlog').samples).toHaveLength(1);
  });

  it('host_state is one-hot over every state; fleetmend_hosts counts them, zeros included', () => {
    const state = byName(families, 'fleetmend_host_state');
    for (const h of fleet.hosts.filter((x) => x.diagnosis)) {
      const mine = state.samples.filter((s) => s.labels['host'] === h.host);
      expect(mine.map((s) => s.labels['state'])).toEqual([...METRIC_STATES]);
      expect(mine.filter((s) => s.value === 1).map((s) => s.labels['state'])).toEqual([h.diagnosis!.state]);
    }
    const counts = byName(families, 'fleetmend_hosts');
    expect(counts.samples.map((s) => s.labels['state'])).toEqual([...METRIC_STATES]);
    for (const s of METRIC_STATES) expect(valueOf(counts, { state: s }), s).toBe(fleet.hosts.filter((h) => h.diagnosis?.state === s).length);
    expect(valueOf(counts, { state: 'tasks-stalled' })).toBe(0);
  });

  it('sweep times in seconds: the duration from the run, the success timestamp its end', () => {
    const run = { ...fleet.run, started_at: '2026-12-01T19:54:16.057Z', finished_at: '2026-12-01T19:54:24.713Z' };
    const f = sweepFamilies(run, fleet.hosts);
    expect(byName(f, 'fleetmend_sweep_duration_seconds').samples[0]!.value).toBe(8.656);
    expect(byName(f, 'fleetmend_sweep_last_success_timestamp_seconds').samples[0]!.value).toBe(Date.parse(run.finished_at) / 1000);
    expect(byName(f, 'fleetmend_sweep_hosts').samples[0]!.value).toBe(fleet.hosts.length);
    expect(render(f, 'text')).toContain('\nfleetmend_sweep_duration_seconds 8.656\n');
  });

  it('a hostile host name stays one escaped label value', () => {
    const evil = hostileHost();
    const text = render(sweepFamilies(fleet.run, [evil]), 'text');
    const line = text.split('\n').find((l) => l.startsWith('fleetmend_host_up{'))!;
    expect(line).toBe(`fleetmend_host_up{host="${escapeLabelValue(evil.host)}"} 1`);
    const nl = render(sweepFamilies(fleet.run, [{ ...evil, host: 'a"\n} 1\nfleetmend_host_up{host="b' }]), 'text');
    expect(nl.split('\n').filter((l) => l.startsWith('fleetmend_host_up'))).toEqual(['fleetmend_host_up{host="a\\"\\n} 1\\nfleetmend_host_up{host=\\"b"} 1']);
  });

  it('LatestSweep keeps the last completed sweep: interrupted runs and playbook runs do not replace it', () => {
    const latest = new LatestSweep();
    expect(latest.get()).toBeUndefined();
    expect(latest.update({ run: fleet.run, status: 'finished', hosts: fleet.hosts })).toBe(true);
    const first = latest.get();
    expect(latest.update({ run: { ...fleet.run, interrupted: true }, status: 'interrupted', hosts: [] })).toBe(false);
    expect(latest.update({ run: { ...fleet.run, mode: 'run' }, status: 'finished', hosts: [] })).toBe(false);
    expect(latest.get()).toBe(first);
  });
});

describe('--metrics-listen addresses', () => {
  it('defaults to 127.0.0.1 and accepts loopback forms', () => {
    expect(parseListen('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen(':9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('localhost:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListen('127.0.0.2:9464')).toEqual({ host: '127.0.0.2', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    for (const ip of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopback(ip), ip).toBe(true);
    for (const ip of ['0.0.0.0', '10.0.0.1', '::', '::2', '::ffff:10.0.0.1', 'fe80::1']) expect(isLoopback(ip), ip).toBe(false);
  });

  it('refuses a non-loopback address unless --metrics-allow-remote', () => {
    for (const spec of ['0.0.0.0:9464', '[::]:9464', '192.0.2.10:9464']) {
      expect(() => parseListen(spec), spec).toThrow(/not a loopback address.*--metrics-allow-remote/);
      expect(parseListen(spec, { allowRemote: true }).port).toBe(9464);
    }
  });

  it('the Host header must name this server (DNS rebinding): loopback names, the local address, the host name', () => {
    const allowed: [string, string][] = [
      ['localhost', '127.0.0.1'], ['LocalHost:9464', '127.0.0.1'], ['127.0.0.1:9464', '127.0.0.1'], ['127.3.4.5', '127.0.0.1'],
      ['[::1]:9464', '::1'], ['[::1]', '::1'], ['[0:0:0:0:0:0:0:1]:1', '::1'], ['[::ffff:127.0.0.1]', '::ffff:127.0.0.1'],
      // a scraper configured with the bound (or, on a wildcard bind, the interface's) address
      ['192.0.2.7:9464', '192.0.2.7'], ['192.0.2.7', '192.0.2.7'], ['10.0.0.5:9464', '::ffff:10.0.0.5'],
      ['[fd00::2]:9464', 'fd00:0:0::2'], [`${hostname()}:9464`, '192.0.2.7'], [hostname().toUpperCase(), '192.0.2.7'],
    ];
    for (const [host, local] of allowed) expect(hostAllowed(host, local), `${host} via ${local}`).toBe(true);
    const refused: [string | undefined, string | undefined][] = [
      ['evil.example', '127.0.0.1'], ['evil.example:9464', '127.0.0.1'], ['localhost.evil.example', '127.0.0.1'],
      ['127.0.0.1.nip.io:9464', '127.0.0.1'], [`${hostname()}.evil.example`, '127.0.0.1'], ['10.0.0.6:9464', '10.0.0.5'],
      ['0.0.0.0:9464', '127.0.0.1'], ['[::2]', '::1'], ['[fd00::3]', 'fd00::2'], ['localhost:94a', '127.0.0.1'],
      ['localhost evil', '127.0.0.1'], ['', '127.0.0.1'], [undefined, '127.0.0.1'], ['192.0.2.7', undefined],
    ];
    for (const [host, local] of refused) expect(hostAllowed(host, local), `${host} via ${local}`).toBe(false);
  });

  it('rejects malformed input with E_USAGE naming the option', () => {
    for (const spec of ['', 'host', '127.0.0.1:', '127.0.0.1:65536', 'example.com:9464', '::1:9464', '127.0.0.1:94a']) {
      let err: unknown;
      try {
        parseListen(spec);
      } catch (e) {
        err = e;
      }
      expect(err, spec).toBeInstanceOf(FleetmendError);
      expect((err as FleetmendError).code).toBe('E_USAGE');
      expect((err as FleetmendError).message).toContain(`--metrics-listen '${spec}'`);
    }
  });
});

describe('the textfile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-metrics-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the file atomically, 0644, leaving no temporary file', () => {
    const path = join(dir, 'fleetmend.prom');
    writeFileSync(path, 'old\n');
    const fleet = buildFleet(5);
    const oldUmask = process.umask(0o077);
    try {
      writeMetricsFile(path, fleet.run, fleet.hosts);
    } finally {
      process.umask(oldUmask);
    }
    expect(readFileSync(path, 'utf8')).toBe(render(sweepFamilies(fleet.run, fleet.hosts), 'text'));
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['fleetmend.prom']);
  });

  it('never rewrites the file in place: a new file from the same directory is renamed over it', async () => {
    const sub = join(dir, 'rename');
    mkdirSync(sub);
    const path = join(sub, 'fleetmend.prom');
    writeFileSync(path, 'old 1\n');
    const before = statSync(path).ino;
    // a reader (the collector) that opened the old file keeps reading the old, complete text
    const reader = openSync(path, 'r');
    const events: string[] = [];
    const watcher = watch(sub, (_event, name) => name && events.push(String(name)));
    try {
      writeFileAtomic(path, 'new 2\n');
      await new Promise((r) => setTimeout(r, 100));
      expect(readFileSync(reader, 'utf8')).toBe('old 1\n');
    } finally {
      watcher.close();
      closeSync(reader);
    }
    expect(readFileSync(path, 'utf8')).toBe('new 2\n');
    expect(statSync(path).ino).not.toBe(before);
    // the temporary file lived next to PATH (rename is atomic only within one filesystem), not named *.prom
    const tmp = events.filter((n) => n !== 'fleetmend.prom');
    expect(tmp.length, events.join(', ')).toBeGreaterThan(0);
    for (const n of tmp) expect(n).toMatch(/^\.fleetmend\.prom\.\d+\.[0-9a-f]+\.tmp$/);
  });

  it('removes its temporary file when the rename fails', () => {
    const path = join(dir, 'sub', 'x.prom');
    mkdirSync(join(dir, 'sub'));
    // a directory where the file should be: the rename fails after the temporary file was written
    mkdirSync(path);
    expect(() => writeFileAtomic(path, 'x 1\n')).toThrow(FleetmendError);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['x.prom']); // the temporary file was removed
  });

  it('checks the directory before the sweep and warns about a name the collector skips', () => {
    expect(() => checkMetricsFile(join(dir, 'missing', 'f.prom'))).toThrow(/--metrics-file .*missing.* is not writable \(ENOENT\)/);
    expect(checkMetricsFile(join(dir, 'f.prom'))).toBeUndefined();
    expect(checkMetricsFile(join(dir, 'f.txt'))).toMatch(/only reads files ending in \.prom/);
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      expect(() => checkMetricsFile(join(ro, 'f.prom'))).toThrow(/EACCES/);
    }
  });

  it('keeps the last complete file when the sweep was interrupted', () => {
    const path = join(dir, 'keep.prom');
    writeFileSync(path, 'previous\n');
    let log = '';
    const stderr = { write: (s: string) => ((log += s), true) } as unknown as NodeJS.WritableStream;
    const fleet = buildFleet(3);
    const w = metricsFileWriter(path, stderr);
    expect(w.update({ ...fleet.run, interrupted: true }, fleet.hosts)).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('previous\n');
    expect(log).toContain('kept: the sweep was interrupted');
    expect(w.update(fleet.run, fleet.hosts)).toBe(true);
    expect(readFileSync(path, 'utf8')).toContain('fleetmend_host_up{host="web001"} 1');
  });
});
