/**
 * Plugin back-pressure (issue 14 item 3): the plugin files and auditd.conf's plugin queue read by
 * builtins, auditd's own syslog lines read from the journal with the kernel's, and the
 * plugin-backpressure finding. The auditd lines are journalctl's `short` format around the
 * messages exactly as audit-userspace 3.0.x audisp/queue.c do_overflow_action logs them.
 */
import { describe, expect, it } from 'vitest';
import { buildFactsScript, JOURNAL_MATCH, MAX_PROGRAMS_PER_SAMPLE, parseAuditdConf, parseKernelLog, parsePlugins } from '../../src/facts/index.js';
import { diagnose, type Diagnosis } from '../../src/diagnosis/index.js';
import { HEALTHY, mine, sample, status, type HostShape } from '../fixtures/facts/samples.js';

const DEBIAN_CONF = mine('auditd.conf.debian12.txt');

const JOURNAL_SYSLOG = [
  'Dec 01 23:10:02 web1 kernel: audit: type=1305 audit(1764630602.101:412): op=set audit_pid=812 old=0 auid=4294967295 ses=4294967295 res=1',
  'Dec 01 23:12:40 web1 auditd[812]: queue to plugins is full - dropping event',
  'Dec 01 23:12:40 web1 auditd[812]: queue to plugins is full - dropping event',
  'Dec 01 23:12:40 web1 auditd[812]: queue to plugins is full - dropping event',
  'Dec 01 23:12:40 web1 auditd[812]: queue to plugins is full - dropping event',
  'Dec 01 23:12:40 web1 auditd[812]: queue to plugins is full - dropping event',
  'Dec 01 23:12:40 web1 auditd[812]: auditd queue full reporting limit reached - ending dropped event notifications',
].join('\n');

const JOURNAL_SUSPEND = 'Dec 01 23:12:40 web1 auditd[812]: Auditd is suspending event passing to plugins due to overflowing its queue.';

const PLUGINS = [
  '/etc/audit/plugins.d/af_unix.conf:active = no',
  '/etc/audit/plugins.d/af_unix.conf:path = builtin_af_unix',
  '/etc/audit/plugins.d/au-remote.conf:active = yes',
  '/etc/audit/plugins.d/au-remote.conf:path = /sbin/audisp-remote',
].join('\n');

const codes = (d: Diagnosis): string[] => d.findings.map((f) => f.code);

describe('facts: plugin queue configuration', () => {
  it('auditd.conf: q_depth, overflow_action (upper-cased), plugin_dir, next to the disk actions', () => {
    expect(parseAuditdConf(DEBIAN_CONF, 0).value).toMatchObject({ q_depth: 1200, overflow_action: 'SYSLOG', plugin_dir: '/etc/audit/plugins.d', disk_full_action: 'SUSPEND' });
    expect(parseAuditdConf('q_depth = 80000\noverflow_action = suspend\nq_depth = lots\n', 0).value).toEqual({ q_depth: 80000, overflow_action: 'SUSPEND' });
  });

  it('plugin files: active and path per file; no readable file is unknown, not "none"', () => {
    expect(parsePlugins(PLUGINS, 0).value).toEqual([
      { file: '/etc/audit/plugins.d/af_unix.conf', active: false, path: 'builtin_af_unix' },
      { file: '/etc/audit/plugins.d/au-remote.conf', active: true, path: '/sbin/audisp-remote' },
    ]);
    expect(parsePlugins('/etc/audisp/plugins.d/syslog.conf:active = YES', 0).value).toEqual([{ file: '/etc/audisp/plugins.d/syslog.conf', active: true }]);
    expect(parsePlugins('', 1).value).toBeUndefined();
    expect(parsePlugins('', 0).value).toEqual([]);
  });

  it('the script reads the plugin dirs with builtins and runs the reader when a plugin is active, still ≤ 3 programs', () => {
    const script = buildFactsScript('abcdefgh12');
    expect(script).toContain('for fm_f in /etc/audit/plugins.d/*.conf /etc/audisp/plugins.d/*.conf; do');
    expect(script).toContain('fm_need=$fm_act');
    expect(script).toContain(`journalctl -b -q --no-pager -n 1000 ${JOURNAL_MATCH} 2>&1`);
    expect(script).toContain('if command -v journalctl >/dev/null 2>&1; then');
    // programs: auditctl -s, auditctl -l, and one of journalctl | dmesg on any path through the script
    const programs = ['auditctl -s', 'auditctl -l', 'journalctl', 'dmesg'].filter((p) => script.includes(p));
    expect(programs.length - 1).toBeLessThanOrEqual(MAX_PROGRAMS_PER_SAMPLE);
  });
});

describe('facts: auditd lines in the journal', () => {
  it('counts the 5 logged drops and the end of reporting; kernel lines still parsed; recent lines kept', () => {
    const log = parseKernelLog(JOURNAL_SYSLOG, 'journalctl');
    expect(log).toMatchObject({ plugin_queue_full_count: 5, plugin_queue_reporting_ended: true, plugin_queue_suspended: false });
    expect(log.recent_lines.at(-1)).toMatch(/reporting limit reached/);
    expect(parseKernelLog(JOURNAL_SUSPEND, 'journalctl').plugin_queue_suspended).toBe(true);
  });

  it('an auditd line never counts as a kernel backlog message, nor a kernel record as a plugin line', () => {
    const log = parseKernelLog('Dec 01 23:12:40 web1 auditd[812]: audit: backlog limit exceeded\nDec 01 23:12:41 web1 kernel: audit: type=1300 audit(1.2:3): comm="queue to plugins is full - dropping event"', 'journalctl');
    expect(log.backlog_exceeded_count).toBe(0);
    expect(log.plugin_queue_full_count).toBe(0);
  });
});

describe('diagnosis: plugin-backpressure', () => {
  const base = { conf: DEBIAN_CONF, plugins: PLUGINS, journal: JOURNAL_SYSLOG } satisfies HostShape;
  const waits = (n: number) => status(HEALTHY, { backlog_wait_time_actual: n, backlog: 40 });

  it('auditd alive (S) but slow: stalled tasks + the message → high, says why auditd is slow, advice on plugin/q_depth/overflow_action', () => {
    const d = diagnose({ samples: [sample({ ...base, auditctl: waits(100), stalled: 3 }, 0), sample({ ...base, auditctl: waits(2600), stalled: 3 }, 10_000)] });
    const f = d.findings.find((x) => x.code === 'plugin-backpressure');
    expect(f).toMatchObject({ severity: 'high', action_code: 'fix-plugin-queue', evidence: { plugins_active: 1, plugins: '/sbin/audisp-remote', q_depth: 1200, overflow_action: 'SYSLOG', plugin_queue_full_lines: 5, reporting_ended: true } });
    expect(f?.message).toMatch(/4 tries 2 ms apart.*at most ~125 events\/s/);
    expect(f?.message).toMatch(/alive \(state S\) yet the kernel queue is not drained/);
    expect(f?.action).toMatch(/active = no/);
    expect(f?.action).toMatch(/raise q_depth to absorb bursts/);
    expect(f?.action).toMatch(/overflow_action SUSPEND keeps auditd and the kernel queue moving/);
    expect(d.state).toBe('tasks-stalled');
    expect(d.findings.find((x) => x.code === 'tasks-stalled')?.action).toMatch(/a restart helps only until the plugin has filled it again/);
  });

  it('the message on a host whose kernel queue is fine: medium (the plugin copy has holes), no stall claim', () => {
    const d = diagnose({ samples: [sample({ ...base }, 0), sample({ ...base }, 10_000)] });
    const f = d.findings.find((x) => x.code === 'plugin-backpressure');
    expect(f?.severity).toBe('medium');
    expect(f?.message).not.toMatch(/alive \(state S\)/);
    expect(d.state).toBe('degraded');
  });

  it('SUSPEND fired: auditd keeps reading, the plugins get nothing until a reload', () => {
    const conf = DEBIAN_CONF.replace('overflow_action = SYSLOG', 'overflow_action = SUSPEND');
    const d = diagnose({ samples: [sample({ ...base, conf, journal: JOURNAL_SUSPEND }, 0)] });
    const f = d.findings.find((x) => x.code === 'plugin-backpressure');
    expect(f?.message).toMatch(/SUSPEND fired: auditd keeps reading and logging, but passes nothing to its plugins until it is reloaded/);
    expect(f?.evidence).toMatchObject({ overflow_action: 'SUSPEND', suspended: true });
  });

  it('active plugins without the message: no finding (a plugin is not a problem by itself)', () => {
    expect(codes(diagnose({ samples: [sample({ conf: DEBIAN_CONF, plugins: PLUGINS }, 0)] }))).not.toContain('plugin-backpressure');
  });
});

describe('facts: a restarted auditd starts a new plugin queue', () => {
  it('lines before the last "Init complete" are history and do not count', () => {
    const log = parseKernelLog(`${JOURNAL_SYSLOG}\nDec 01 23:20:00 web1 auditd[4711]: Init complete, auditd 3.0.9 listening for events (startup state enable)`, 'journalctl');
    expect(log).toMatchObject({ plugin_queue_full_count: 0, plugin_queue_reporting_ended: false });
  });

  it('a reconfigure (SIGHUP) resets the evidence; drops logged after it count again', () => {
    const hup = 'Dec 01 23:21:00 web1 auditd[812]: config change requested by pid=5150 auid=0 subj=unconfined';
    expect(parseKernelLog(`${JOURNAL_SYSLOG}\n${hup}`, 'journalctl').plugin_queue_full_count).toBe(0);
    expect(parseKernelLog(`${JOURNAL_SYSLOG}\n${hup}\n${JOURNAL_SYSLOG.split('\n')[1]}`, 'journalctl').plugin_queue_full_count).toBe(1);
  });
});
