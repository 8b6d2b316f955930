import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SECTION_NAMES,
  chooseKernelLog,
  effectiveBacklogLimit,
  parseAuditctlError,
  parseAuditctlStatus,
  parseAuditdConf,
  parseAuditdUnit,
  parseBootId,
  parseCmdline,
  parseKernelLog,
  parseMeminfo,
  parseOsRelease,
  parseRuleCount,
  parseRulesBacklog,
  parseSample,
  parseProcs,
  parseUname,
  parseUptime,
  sampleDeltas,
  splitSections,
  type FactSample,
  type SectionName,
} from '../../src/facts/index.js';
import { procsSection } from '../fixtures/facts/samples.js';

const REAL = join(import.meta.dirname, '../fixtures/real-kernel-6.1-audit-3.0.9');
const MINE = join(import.meta.dirname, '../fixtures/facts');
const real = (n: string): string => readFileSync(join(REAL, n), 'utf8');
const mine = (n: string): string => readFileSync(join(MINE, n), 'utf8');

const NONCE = 'n0nce1234abcd';
type Sections = Partial<Record<SectionName, { text: string; rc: number }>>;

/** What the script's stdout looks like for these section outputs (script.ts markers). */
function stdoutOf(sections: Sections): string {
  const out: string[] = [];
  for (const name of SECTION_NAMES) {
    const s = sections[name];
    if (!s) continue;
    out.push(`@@fleetmend:${NONCE}:begin:${name}`);
    if (s.text !== '') out.push(s.text.replace(/\n$/, ''));
    out.push(`@@fleetmend:${NONCE}:end:${name}:${s.rc}`);
  }
  return out.join('\n') + '\n';
}

/** `grep -H -e -b` over the Debian rules.d file (verbatim fixture). */
const debianRulesGrep = real('rules.d-audit.rules.debian.txt')
  .split('\n')
  .filter((l) => l.includes('-b'))
  .map((l) => `/etc/audit/rules.d/audit.rules:${l}`)
  .join('\n');

function healthySections(): Sections {
  return {
    auditctl_s: { text: real('auditctl-s.healthy.txt'), rc: 0 },
    auditctl_l: { text: 'No rules', rc: 0 },
    kernel_journal: { text: '', rc: 0 },
    kernel_dmesg: { text: '[    0.823642] audit: initializing netlink subsys (enabled)', rc: 0 },
    procs: procsSection('    226 S<sl'),
    auditd_unit: { text: '/lib/systemd/system/auditd.service:RefuseManualStop=no', rc: 0 },
    meminfo: { text: mine('meminfo.debian12.txt'), rc: 0 },
    rules_b: { text: debianRulesGrep, rc: 0 },
    cmdline: { text: 'console=ttyS0,115200 root=/dev/vda rw net.ifnames=0 audit=1 audit_backlog_limit=64', rc: 0 },
    auditd_conf: { text: mine('auditd.conf.debian12.txt'), rc: 0 },
    uname_r: { text: '6.1.0-50-amd64', rc: 0 },
    kernel_hz: { text: 'CONFIG_HZ=250', rc: 0 },
    os_release: { text: mine('os-release.debian12.txt'), rc: 0 },
    boot_id: { text: '3f1c7a52-94e4-4a5c-9d0b-1f0e6c2b8d11', rc: 0 },
    uptime: { text: '918.25 1702.10', rc: 0 },
    plugins: { text: '/etc/audit/plugins.d/af_unix.conf:active = no\n/etc/audit/plugins.d/af_unix.conf:path = builtin_af_unix', rc: 0 },
  };
}

const sampleOf = (s: Sections, at = 1_000_000): FactSample => parseSample(splitSections(stdoutOf(s), NONCE), at);

describe('parseSample on a complete Debian 12 sample', () => {
  it('reads every section with no parse errors', () => {
    const s = sampleOf(healthySections());
    expect(s.parse_errors).toEqual([]);
    expect(s.taken_at).toBe(1_000_000);
    expect(s.auditctl.kind).toBe('ok');
    expect(s.kernel_log.source).toBe('dmesg');
    expect(s.auditd).toMatchObject({
      registered_pid: 226,
      registered_pid_exists: true,
      registered_pid_state: 'S',
      ps_available: true,
      init: { system: 'systemd', refuse_manual_stop: false },
      registered_pid_wchan: 'do_epoll_wait',
    });
    expect(s.memory).toEqual({ mem_total_kb: 1004548, mem_available_kb: 780944 });
    expect(s.persistent).toEqual({
      rules_backlog_limits: [{ file: '/etc/audit/rules.d/audit.rules', value: 8192 }],
      rules_searched: true,
      effective_backlog_limit: 8192,
      cmdline_backlog_limit: 64,
      cmdline_audit: 1,
      auditd_conf: {
        space_left_action: 'SYSLOG',
        admin_space_left_action: 'SUSPEND',
        disk_full_action: 'SUSPEND',
        disk_error_action: 'SUSPEND',
        q_depth: 1200,
        overflow_action: 'SYSLOG',
        plugin_dir: '/etc/audit/plugins.d',
      },
      plugins: [{ file: '/etc/audit/plugins.d/af_unix.conf', active: false, path: 'builtin_af_unix' }],
      rule_count: 0,
    });
    expect(s.system).toEqual({
      kernel_release: '6.1.0-50-amd64',
      kernel_hz: 250,
      distribution: { id: 'debian', version_id: '12', pretty_name: 'Debian GNU/Linux 12 (bookworm)' },
      boot_id: '3f1c7a52-94e4-4a5c-9d0b-1f0e6c2b8d11',
      uptime_seconds: 918.25,
    });
  });

  it('a stopped auditd (ps T<sl, transcript 02) is found as state T of the registered pid', () => {
    const sec = healthySections();
    sec.auditctl_s = { text: real('auditctl-s.stuck-auditd.txt'), rc: 0 };
    sec.procs = procsSection('    226 T<sl');
    sec.kernel_journal = { text: real('journalctl-k.backlog-exceeded.txt'), rc: 0 };
    const s = sampleOf(sec);
    expect(s.auditd.registered_pid_state).toBe('T');
    expect(s.kernel_log).toMatchObject({ source: 'journalctl', backlog_exceeded_count: 1 });
  });

  it("the kernel's CONFIG_HZ: read from /boot/config-RELEASE; no file is no error; a garbled line is one", () => {
    const sec = healthySections();
    sec.kernel_hz = { text: 'CONFIG_HZ=300', rc: 0 };
    expect(sampleOf(sec).system.kernel_hz).toBe(300);
    sec.kernel_hz = { text: 'cannot read /boot/config-6.1.0-50-amd64', rc: 2 };
    const none = sampleOf(sec);
    expect(none.system.kernel_hz).toBeUndefined();
    expect(none.parse_errors).toEqual([]);
    sec.kernel_hz = { text: 'CONFIG_HZ=lots', rc: 0 };
    const bad = sampleOf(sec);
    expect(bad.system.kernel_hz).toBeUndefined();
    expect(bad.parse_errors.map((e) => e.section)).toEqual(['kernel_hz']);
  });

  it('a boot_id that is a wall message is undefined and a parse error', () => {
    const sec = healthySections();
    sec.boot_id = { text: '\nBroadcast message from root@db7 (Tue 2026-11-24 16:43:59 UTC):\n\nThe system is going down for reboot\n', rc: 0 };
    const s = sampleOf(sec);
    expect(s.system.boot_id).toBeUndefined();
    expect(s.parse_errors.map((e) => e.section)).toEqual(['boot_id']);
  });

  it('auditctl missing: outcome missing, rule count unknown without a second error', () => {
    const sec = healthySections();
    sec.auditctl_s = { text: 'sh: 1: auditctl: not found', rc: 127 };
    sec.auditctl_l = { text: 'sh: 1: auditctl: not found', rc: 127 };
    const s = sampleOf(sec);
    expect(s.auditctl.kind).toBe('missing');
    expect(s.auditd.registered_pid).toBe(0);
    expect(s.persistent.rule_count).toBeUndefined();
    expect(s.parse_errors).toEqual([]);
  });

  it('truncated output: sections after the cut are reported missing', () => {
    const full = stdoutOf(healthySections());
    const cut = full.slice(0, full.indexOf(':begin:meminfo') + 20);
    const s = parseSample(splitSections(cut, NONCE), 5);
    expect(s.auditctl.kind).toBe('ok');
    expect(s.memory).toBeUndefined();
    const missing = s.parse_errors.map((e) => e.section);
    expect(missing).toContain('uptime');
    expect(missing).toContain('boot_id');
  });
});

describe('small section parsers', () => {
  it('rules -b: audit.rules wins; else the last across rules.d in lexical order; --backlog_wait_time ignored', () => {
    const grep = [
      '/etc/audit/rules.d/99-finalize.rules:-b 1024',
      '/etc/audit/rules.d/10-base.rules:-b 8192',
      '/etc/audit/rules.d/10-base.rules:--backlog_wait_time 60000',
      '/etc/audit/rules.d/10-base.rules:# -b 99',
      '/etc/audit/rules.d/10-base.rules:-a always,exit -F key=a-b',
      '/etc/audit/rules.d/50-x.rules:-b 320',
    ].join('\n');
    const r = parseRulesBacklog(grep, 0).value;
    expect(r.rules_backlog_limits.map((x) => x.value)).toEqual([1024, 8192, 320]);
    expect(r.effective_backlog_limit).toBe(1024);
    const withMain = parseRulesBacklog(`${grep}\n/etc/audit/audit.rules:-b 4096\n/etc/audit/audit.rules:-b 2048`, 0).value;
    expect(withMain.effective_backlog_limit).toBe(2048);
    expect(effectiveBacklogLimit([])).toBeUndefined();
  });

  it('rules -b: no match (rc 1) is "searched, none"; an error with no output (rc 2) is unknown', () => {
    expect(parseRulesBacklog('', 1).value).toEqual({ rules_backlog_limits: [], searched: true });
    expect(parseRulesBacklog('', 2).value.searched).toBe(false);
  });

  it('cmdline: audit= and audit_backlog_limit=, last wins, off/on', () => {
    expect(parseCmdline('ro audit=off audit_backlog_limit=8192 audit_backlog_limit=320').value).toEqual({
      cmdline_audit: 0,
      cmdline_backlog_limit: 320,
    });
    expect(parseCmdline(real('transcripts/19-panic-setup.txt').split('\n')[1] ?? '').value).toEqual({});
  });

  it('meminfo without MemAvailable (old kernel) is estimated and says so', () => {
    expect(parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 200 kB\n').value).toEqual({
      mem_total_kb: 1000,
      mem_available_kb: 310,
      mem_available_estimated: true,
    });
    expect(parseMeminfo('cat: /proc/meminfo: Permission denied').error).toMatch(/MemTotal/);
  });

  it('auditd unit: the last RefuseManualStop of unit and drop-ins wins; no unit file is unknown', () => {
    expect(parseAuditdUnit('/usr/lib/systemd/system/auditd.service:RefuseManualStop=yes', 0).value).toEqual({ refuse_manual_stop: true });
    expect(parseAuditdUnit('/lib/systemd/system/auditd.service:RefuseManualStop=yes\n/etc/systemd/system/auditd.service.d/x.conf:RefuseManualStop=false', 0).value).toEqual({ refuse_manual_stop: false });
    expect(parseAuditdUnit('', 0).value).toEqual({ refuse_manual_stop: false });
    expect(parseAuditdUnit('', 1).value).toEqual({});
  });

  it('/proc scan: auditd state and wchan, stalled tasks, unfinished scan', () => {
    const text = [
      'auditd wchan=do_signal_stop stat=213 (auditd) T 1 213 213 0 -1 4194624 0 0',
      'auditd wchan=0 stat=1173 (auditd) S 1 1173 1173 0 -1 4194624 0 0',
      'stalled wchan=audit_log_start comm=cron',
      'stalled wchan=audit_log_start comm=sshd',
      'stalled wchan=audit_receive comm=sudo',
      'init comm=systemd',
    ].join('\n');
    const r = parseProcs(text, 0);
    expect(r.error).toBeUndefined();
    expect(r.value.processes).toEqual([{ pid: 213, state: 'T', wchan: 'do_signal_stop' }, { pid: 1173, state: 'S' }]);
    expect(r.value.stalled).toEqual({ count: 3, by_wchan: { audit_log_start: 2, audit_receive: 1 }, comms: ['cron', 'sshd', 'sudo'] });
    expect(r.value.init_comm).toBe('systemd');
    const cut = parseProcs(text.split('\n').slice(0, 2).join('\n'), null);
    expect(cut.value.available).toBe(false);
    expect(cut.error).toMatch(/did not finish/);
  });

  it('auditd.conf: missing file is an error; values upper-cased; EXEC keeps its path', () => {
    expect(parseAuditdConf('cat: /etc/audit/auditd.conf: No such file or directory', 1).error).toBeDefined();
    expect(parseAuditdConf('disk_full_action = exec /usr/local/bin/x.sh\n', 0).value).toEqual({
      disk_full_action: 'EXEC /usr/local/bin/x.sh',
    });
  });

  it('rule count, uname, os-release, uptime, df', () => {
    expect(parseRuleCount('-w /tmp/noise -p rwxa -k noise\n-a always,exit -F arch=b64 -S openat -F key=noise', 0).value).toBe(2);
    expect(parseRuleCount('You must be root to run this program.', 4).error).toBeDefined();
    expect(parseUname('6.1.0-50-amd64\n').value).toBe('6.1.0-50-amd64');
    expect(parseUname('Last login: yesterday').value).toBeUndefined();
    expect(parseOsRelease("ID='rhel'\nVERSION_ID=\"9.4\"").value).toEqual({ id: 'rhel', version_id: '9.4' });
    expect(parseUptime('918.25 1702.10\n').value).toBe(918.25);
    expect(parseUptime('nope').value).toBeUndefined();
  });

  it('boot_id: strictly one UUID', () => {
    expect(parseBootId('3F1C7A52-94E4-4A5C-9D0B-1F0E6C2B8D11\n').value).toBe('3f1c7a52-94e4-4a5c-9d0b-1f0e6c2b8d11');
    expect(parseBootId('3f1c7a52-94e4-4a5c-9d0b-1f0e6c2b8d11 extra').value).toBeUndefined();
    expect(parseBootId('3f1c7a52-94e4-4a5c-9d0b-1f0e6c2b8d1').value).toBeUndefined();
    expect(parseBootId('').error).toMatch(/not a UUID/);
  });
});

describe('sampleDeltas', () => {
  const stuck1 = real('auditctl-s.stuck-auditd.txt');
  const stuck2 = stuck1.replace('lost 10330', 'lost 10990').replace('backlog_wait_time_actual 0', 'backlog_wait_time_actual 900');
  const withStatus = (text: string, at: number, boot = '3f1c7a52-94e4-4a5c-9d0b-1f0e6c2b8d11'): FactSample => {
    const sec = healthySections();
    sec.auditctl_s = { text, rc: 0 };
    sec.boot_id = { text: boot, rc: 0 };
    return sampleOf(sec, at);
  };

  it('turns counters into rates over the interval', () => {
    const d = sampleDeltas([withStatus(stuck1, 10_000), withStatus(stuck2, 20_000)]);
    expect(d).toEqual({
      interval_s: 10,
      samples: 2,
      backlog_delta: 0,
      lost_delta: 660,
      wait_actual_delta: 900,
      lost_per_s: 66,
      backlog_per_s: 0,
      wait_actual_per_s: 90,
      boot_changed: false,
      counter_reset: false,
    });
  });

  it('a reboot between samples is reported, not a negative rate', () => {
    const d = sampleDeltas([withStatus(stuck2, 0), withStatus(stuck1, 60_000, 'aaaaaaaa-94e4-4a5c-9d0b-1f0e6c2b8d11')]);
    expect(d).toMatchObject({ boot_changed: true, lost_delta: null, lost_per_s: null, backlog_delta: null });
  });

  it('a counter that went down without a boot_id change is a reset, not negative', () => {
    const d = sampleDeltas([withStatus(stuck2, 0), withStatus(stuck1, 1000)]);
    expect(d).toMatchObject({ boot_changed: false, counter_reset: true, lost_delta: null });
  });

  it('needs two samples with a status', () => {
    const missing = withStatus('bash: auditctl: command not found', 5000);
    expect(sampleDeltas([withStatus(stuck1, 0)])).toBeUndefined();
    expect(sampleDeltas([withStatus(stuck1, 0), missing])).toBeUndefined();
  });
});

describe('robustness: parsers never throw', () => {
  const textParsers: [string, (t: string, rc: number | null) => unknown][] = [
    ['auditctl', parseAuditctlStatus],
    ['auditctlError', parseAuditctlError],
    ['kernel', (t) => parseKernelLog(t, 'dmesg')],
    ['choose', (t) => chooseKernelLog({ journalctl: t, dmesg: t })],
    ['procs', parseProcs],
    ['unit', parseAuditdUnit],
    ['meminfo', (t) => parseMeminfo(t)],
    ['rules', parseRulesBacklog],
    ['cmdline', (t) => parseCmdline(t)],
    ['conf', parseAuditdConf],
    ['rulecount', parseRuleCount],
    ['uname', (t) => parseUname(t)],
    ['os', (t) => parseOsRelease(t)],
    ['boot', (t) => parseBootId(t)],
    ['uptime', (t) => parseUptime(t)],
  ];
  const rc = fc.option(fc.integer({ min: -1, max: 300 }), { nil: null });
  const realText = fc.constantFrom(
    real('auditctl-s.healthy.txt'),
    real('dmesg.backlog-exceeded.txt'),
    real('console.panic-on-f2.txt'),
    mine('auditd.conf.debian12.txt'),
    debianRulesGrep,
  );
  /** Real text, cut anywhere, with arbitrary (also binary) text spliced in. */
  const mangled = fc
    .tuple(realText, fc.nat(), fc.string({ unit: 'binary' }))
    .map(([t, cut, junk]) => t.slice(0, cut % (t.length + 1)) + junk);
  const anyText = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme-ascii' }), mangled);

  it.each(textParsers)('%s: arbitrary, binary, truncated input', (_name, parse) => {
    fc.assert(fc.property(anyText, rc, (t, code) => void parse(t, code)), { numRuns: 300 });
  });

  it.each(textParsers)('%s: oversized input (several MB) in bounded time', (_name, parse) => {
    const big = [
      real('dmesg.backlog-exceeded.txt').repeat(8000),
      'x'.repeat(4_000_000),
      '1 '.repeat(2_000_000),
      `[ ${'9'.repeat(3_000_000)}`,
    ];
    for (const t of big) {
      const start = Date.now();
      parse(t, 0);
      expect(Date.now() - start).toBeLessThan(5000);
    }
  });

  it('bounded evidence from a flood: unknown lines and recent lines are capped', () => {
    const flood = `${real('auditctl-s.healthy.txt')}\n${'garbage line\n'.repeat(100_000)}`;
    const o = parseAuditctlStatus(flood, 0);
    expect(o.kind === 'ok' && o.status.unknown_lines.length).toBe(50);
    const log = parseKernelLog(real('dmesg.backlog-exceeded.txt').repeat(10_000), 'dmesg');
    expect(log.backlog_exceeded_count).toBe(30_000);
    expect(log.recent_lines).toHaveLength(20);
  });

  it('parseSample: arbitrary sections, arbitrary cut of a real stdout', () => {
    const full = stdoutOf(healthySections());
    const names = [...SECTION_NAMES];
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...names), fc.record({ text: anyText, rc })),
        fc.nat(),
        (dict, cut) => {
          const a = parseSample(dict, 1);
          expect(Array.isArray(a.parse_errors)).toBe(true);
          const b = parseSample(splitSections(full.slice(0, cut % (full.length + 1)), NONCE), 2);
          expect(b.taken_at).toBe(2);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('parseSample: several MB per section', () => {
    const big = { text: '\u0000\u00ff'.repeat(1_500_000), rc: 0 };
    const dict = Object.fromEntries(SECTION_NAMES.map((n) => [n, big]));
    const s = parseSample(dict, 1);
    expect(s.auditctl.kind).toBe('unparseable');
    expect(s.parse_errors.length).toBeGreaterThan(5);
  });
});
