/**
 * Deterministic (seeded) fleets. Each scenario is a list of special hosts plus healthy
 * filler; `hosts: N` scales any scenario (special hosts are always kept, the rest healthy).
 */
import type { Fault } from './faults.js';
import { AF_UNIX_PLUGIN, AU_REMOTE_PLUGIN, DEBIAN_RULES, DEFAULT_AUDITD_CONF, type MachineSpec } from './machine.js';
import { Rng } from './rng.js';

export interface ScenarioHost {
  spec: MachineSpec;
  faults: Fault[];
  /** What this host demonstrates (docs, tests, `fleetmend sim` output). */
  note: string;
}

export interface Scenario {
  name: string;
  description: string;
  /** Hosts with a story; always present. */
  special(rng: Rng, opts: ScenarioOptions): ScenarioHost[];
  /** Healthy hosts added when no host count is given. */
  defaultHealthy: number;
}

export interface ScenarioOptions {
  /** Downtime of a reboot/panic-reboot, ms. */
  downtimeMs: number;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export function debianSpec(name: string, rng: Rng, opts: ScenarioOptions, role = 'app'): MachineSpec {
  return {
    name,
    flavour: 'debian',
    role,
    os: { id: 'debian', versionId: '12', name: 'Debian GNU/Linux', prettyName: 'Debian GNU/Linux 12 (bookworm)', version: '12 (bookworm)', codename: 'bookworm' },
    kernelRelease: '6.1.0-50-amd64',
    user: 'root',
    sudo: { password: 'sim-sudo', nopasswd: true },
    auditctl: 'v3',
    eventRate: rng.pick([5, 20, 80, 300]),
    uptimeMs: rng.int(2, 90) * DAY + rng.int(0, DAY),
    // Debian 12's default: a panic hangs the host until it is power-cycled (T19).
    kernelPanic: 0,
    downtimeMs: opts.downtimeMs,
    memTotalKb: 4_013_000,
    memAvailableKb: rng.int(1_800_000, 3_200_000),
    rulesD: { 'audit.rules': DEBIAN_RULES },
    cmdline: 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-50-amd64 root=/dev/vda1 ro quiet',
    auditdConf: { ...DEFAULT_AUDITD_CONF },
    disk: { device: '/dev/vda1', totalKb: 20_466_256, usedKb: rng.int(3_000_000, 9_000_000), mount: '/' },
    syslog: 'none',
  };
}

export function rhelSpec(name: string, rng: Rng, opts: ScenarioOptions, role = 'db'): MachineSpec {
  return {
    ...debianSpec(name, rng, opts, role),
    flavour: 'rhel',
    os: { id: 'rhel', versionId: '9.4', name: 'Red Hat Enterprise Linux', prettyName: 'Red Hat Enterprise Linux 9.4 (Plow)', idLike: 'fedora', version: '9.4 (Plow)' },
    kernelRelease: '5.14.0-427.13.1.el9_4.x86_64',
    user: 'fleet',
    sudo: { password: 'sim-sudo', nopasswd: true },
    cmdline: 'BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-427.13.1.el9_4.x86_64 root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M rhgb quiet',
    rulesD: { 'audit.rules': '## RHEL default\n-D\n-b 8192\n-f 1\n--backlog_wait_time 60000\n' },
    auditdConf: { ...DEFAULT_AUDITD_CONF, log_format: 'ENRICHED', admin_space_left_action: 'SINGLE', disk_full_action: 'SUSPEND' },
    disk: { device: '/dev/mapper/rhel-var', totalKb: 10_475_520, usedKb: rng.int(1_000_000, 4_000_000), mount: '/var' },
    syslog: 'messages',
  };
}

const healthy = (s: MachineSpec, note = 'healthy'): ScenarioHost => ({ spec: s, faults: [], note });

/**
 * The stuck-auditd incident host (reference §3–§4, kernel-6.1-queue §0, at production scale):
 * Debian's own rules (`--backlog_wait_time 60000`, 240 s at HZ 250), auditd SIGSTOPped and a
 * workload (20 000 records/s from noisy rules) that overflows one 0.6-s kauditd pass. The
 * millions lost date from earlier; now `lost` trickles (≈ one per pass), backlog reads
 * anywhere up to 8193, and tasks sleep in audit_log_start: the frozen host.
 */
function incidentHost(name: string, rng: Rng, o: ScenarioOptions): ScenarioHost {
  const s = debianSpec(name, rng, o, 'app');
  return {
    spec: {
      ...s,
      eventRate: 20_000,
      auditd: 'stuck',
      lost: 4_218_000 + rng.int(0, 99_999),
      historyMs: 15 * MIN,
    },
    faults: [],
    note: 'incident: auditd stuck (T), Debian defaults (wait 60000), queue overflowing every pass, tasks stalled, lost in the millions',
  };
}

/**
 * auditd alive but slow: an active audisp-remote that takes 20 events/s has filled auditd's
 * plugin queue (q_depth 2000, overflow_action SYSLOG, Debian's defaults), so every event
 * auditd hands over waits 4 × 2 ms and auditd reads ~145 records/s of the 300 offered. The
 * kernel queue (-b 128, wait 60000) overflows every pass behind it and tasks sleep in
 * audit_log_start, while ps shows auditd in S and auditd's journal says
 * "queue to plugins is full - dropping event" (src/sim/plugins.ts).
 */
export function slowPluginSpec(s: MachineSpec): MachineSpec {
  return {
    ...s,
    eventRate: 300,
    pluginRate: 20,
    plugins: { 'af_unix.conf': AF_UNIX_PLUGIN, 'au-remote.conf': AU_REMOTE_PLUGIN },
    rulesD: { 'audit.rules': DEBIAN_RULES.replace('-b 8192', '-b 128') },
    historyMs: MIN,
  };
}

function lockedHost(name: string, rng: Rng, o: ScenarioOptions, role = 'mon'): ScenarioHost {
  const s = debianSpec(name, rng, o, role);
  return { spec: { ...s, rulesD: { ...s.rulesD, '99-finalize.rules': '## Make the configuration immutable\n-e 2\n' } }, faults: [], note: 'configuration locked (enabled 2)' };
}

export const SCENARIOS: Record<string, Scenario> = {
  incident: {
    name: 'incident',
    description: 'the demo: ~20 hosts, one stuck-auditd incident host, one locked, one down',
    defaultHealthy: 17,
    special: (rng, o) => [
      incidentHost('app-03', rng, o),
      lockedHost('mon-01', rng, o),
      { spec: debianSpec('mon-02', rng, o, 'mon'), faults: [{ kind: 'down' }], note: 'unreachable (connection refused)' },
    ],
  },
  healthy: {
    name: 'healthy',
    description: 'N healthy hosts (benchmarks, scale)',
    defaultHealthy: 10,
    special: () => [],
  },
  states: {
    name: 'states',
    description: 'one host per diagnosis state',
    defaultHealthy: 0,
    special: (rng, o) => {
      const d = (n: string) => debianSpec(n, rng, o, 'states');
      const r = (n: string) => rhelSpec(n, rng, o, 'states');
      return [
        healthy(d('st-healthy')),
        { spec: { ...d('st-backlog-growing'), eventRate: 40, auditd: 'stuck' }, faults: [], note: 'auditd stuck (T), queue not drained (records vanish each pass), not yet counted as lost' },
        // wait 0 and more records per 0.6-s pass than the limit holds: every one over it is lost
        { spec: { ...d('st-records-lost'), eventRate: 1000, auditd: 'stuck', lost: 120_000, rulesD: { 'audit.rules': DEBIAN_RULES.replace('60000', '0').replace('-b 8192', '-b 256') }, historyMs: 2 * MIN }, faults: [], note: 'records lost (wait 0, -b 256, stuck)' },
        { spec: { ...d('st-auditd-stopped'), auditd: 'stopped' }, faults: [], note: 'auditd not running (pid 0)' },
        { spec: { ...d('st-audit-disabled'), runtime: { enabled: 0 } }, faults: [], note: 'auditing disabled (enabled 0)' },
        lockedHost('st-config-locked', rng, o, 'states'),
        { spec: { ...d('st-panic-mode'), runtime: { failure: 2 } }, faults: [], note: 'failure 2 (panic) on a healthy host' },
        // 300 rec/s overflow a -b 128 queue within one pass: tasks sleep (at -b 8192 they would
        // not: the whole queue moves to the retry queue every pass and nothing blocks)
        { spec: { ...d('st-tasks-stalled'), eventRate: 300, auditd: 'stuck', lost: 900, waitActual: 40_157, historyMs: MIN, rulesD: { 'audit.rules': DEBIAN_RULES.replace('-b 8192', '-b 128') } }, faults: [], note: 'tasks stalled: wait 60000, -b 128, stuck, slow logins' },
        { spec: { ...d('st-limit-drift'), runtime: { backlogLimit: 16384 } }, faults: [], note: 'runtime -b 16384 ≠ rules.d 8192' },
        {
          spec: { ...d('st-memory-headroom'), memTotalKb: 2_015_000, memAvailableKb: 900_000, rulesD: { 'audit.rules': DEBIAN_RULES.replace('-b 8192', '-b 262144') } },
          faults: [],
          note: 'limit 262144 (≈2.2 GiB of buffers) vs MemAvailable ≈ 0.9 GiB',
        },
        {
          spec: { ...d('st-auditd-disk-action'), disk: { device: '/dev/vdb1', totalKb: 2_031_616, usedKb: 2_001_000, mount: '/var/log/audit' }, auditdConf: { ...DEFAULT_AUDITD_CONF, disk_full_action: 'SUSPEND', admin_space_left_action: 'SUSPEND' } },
          faults: [],
          // the sweep does not read free space (no df fact): the disk is full for `df` on the host,
          // and the note says what a sweep shows, so `sim`'s listing and the table agree
          note: 'healthy, with finding auditd-disk-action: disk_full_action = SUSPEND (its /var/log/audit is 99% full for df; the sweep does not read free space)',
        },
        {
          spec: {
            ...r('st-auditctl-v1'),
            auditctl: 'v1',
            os: { id: 'centos', versionId: '6', name: 'CentOS', prettyName: 'CentOS release 6.10 (Final)', idLike: 'rhel fedora', version: '6.10 (Final)' },
            kernelRelease: '2.6.32-754.35.1.el6.x86_64',
            rulesD: { 'audit.rules': '-D\n-b 320\n' },
          },
          faults: [],
          note: 'old one-line AUDIT_STATUS auditctl (v1)',
        },
        { spec: { ...d('st-no-auditctl'), auditctl: 'missing' }, faults: [], note: 'auditctl not installed (exit 127)' },
        healthy(r('st-rhel'), 'rhel flavour (RefuseManualStop=yes, sudo user)'),
      ];
    },
  },
  plugins: {
    name: 'plugins',
    description: 'a slow audit plugin back-pressuring auditd (alive, slow, tasks stalled), and a healthy host',
    defaultHealthy: 1,
    special: (rng, o) => [
      { spec: slowPluginSpec(debianSpec('pl-slow-plugin', rng, o, 'plugins')), faults: [], note: 'auditd alive but slow: audisp-remote fills the plugin queue ("queue to plugins is full")' },
    ],
  },
  faults: {
    name: 'faults',
    description: 'one host per transport/host fault, plus two healthy hosts',
    defaultHealthy: 2,
    special: (rng, o) => {
      const d = (n: string) => debianSpec(n, rng, o, 'faults');
      const f = (n: string, faults: Fault[], note: string, spec?: Partial<MachineSpec>): ScenarioHost => ({ spec: { ...d(n), ...spec }, faults, note });
      return [
        f('f-down', [{ kind: 'down' }], 'connection refused'),
        f('f-no-banner', [{ kind: 'no-banner' }], 'TCP accepted, no SSH banner'),
        f('f-auth-fail', [{ kind: 'auth-fail' }], 'authentication always fails'),
        f('f-hostkey-changed', [{ kind: 'hostkey-changed' }], 'host key differs from known_hosts'),
        f('f-drop', [{ kind: 'drop-mid-command' }], 'connection dropped mid-command'),
        f('f-hang', [{ kind: 'hang' }], 'commands never end'),
        f('f-slow', [{ kind: 'slow', perCommandMs: 1500 }], 'each command takes 1.5 s longer'),
        f('f-huge', [{ kind: 'huge-output', bytes: 32 * 1024 * 1024 }], '32 MiB of output per command'),
        f('f-binary', [{ kind: 'binary-output' }], 'invalid UTF-8 before the output'),
        f('f-garbage', [{ kind: 'auditctl-garbage' }], 'auditctl prints garbage', { auditctl: 'garbage' }),
        f('f-panic-reboot', [{ kind: 'panic-reboot', afterMs: 5000 }], 'panics 5 s after start, reboots'),
      ];
    },
  },
};

export function scenarioNames(): string[] {
  return Object.keys(SCENARIOS);
}

/** The hosts of a scenario, scaled to `hosts` (special ones kept; healthy filler named node-NNNN). */
export function buildScenario(scenario: Scenario, opts: { hosts?: number; seed?: string; downtimeMs?: number }): ScenarioHost[] {
  const rng = new Rng(`${scenario.name}:${opts.seed ?? 'fleetmend'}`);
  const o: ScenarioOptions = { downtimeMs: opts.downtimeMs ?? 3000 };
  const special = scenario.special(rng, o);
  const total = Math.max(opts.hosts ?? special.length + scenario.defaultHealthy, special.length);
  const filler: ScenarioHost[] = [];
  const width = Math.max(2, String(total).length);
  const roles = ['web', 'app', 'db'];
  for (let i = 0; filler.length < total - special.length; i++) {
    const role = roles[i % roles.length] as string;
    const name = scenario.name === 'incident' && total <= 99 ? `${role}-${String(Math.floor(i / roles.length) + 1).padStart(2, '0')}` : `node-${String(i + 1).padStart(width, '0')}`;
    if (special.some((h) => h.spec.name === name)) continue;
    const spec = role === 'db' ? rhelSpec(name, rng, o, role) : debianSpec(name, rng, o, role);
    // Some hosts are busy: a few records queued even with a healthy daemon (normal).
    if (i % 4 === 1) spec.eventRate = rng.pick([1500, 2500, 3000]);
    filler.push(healthy(spec, spec.eventRate >= 1500 ? 'healthy, busy (a few records queued)' : 'healthy'));
  }
  return [...special, ...filler].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
}
