/**
 * One simulated Linux machine: its filesystem (persistent config + dynamic /proc files),
 * its audit kernel model, its users and sudo policy, and what is installed. The SSH server
 * (server.ts) and the shell (shell.ts) act on it; tests read and mutate it directly.
 */
import type { SimClock } from './clock.js';
import { SimKernel, type KernelOptions } from './kernel.js';
import { formatDaemon, formatDmesg, formatJournal, type JournalFormat } from './klog.js';
import { VirtualFs } from './vfs.js';
import { installBootloader } from './bootloader.js';
import { installHostFactFiles } from './host-facts.js';

/** Which `auditctl -s` output this host's userspace prints (reference §2). */
export type AuditctlFlavour = 'v3' | 'v2' | 'v1' | 'missing' | 'garbage';

export interface OsRelease {
  id: string;
  versionId: string;
  prettyName: string;
  name: string;
  idLike?: string;
  /** VERSION (`12 (bookworm)`, `9.4 (Plow)`) and VERSION_CODENAME, as the distribution ships them. */
  version?: string;
  codename?: string;
}

/** What the machine passes on to its kernel (documented on KernelOptions). */
type KernelSpec = Pick<
  KernelOptions,
  | 'flavour' | 'kernelRelease' | 'eventRate' | 'uptimeMs' | 'kernelPanic' | 'downtimeMs' | 'memTotalKb' | 'memAvailableKb'
  | 'runtime' | 'auditd' | 'lost' | 'backlog' | 'waitActual' | 'historyMs'
  | 'hz' | 'execsPerSec' | 'loadTasks' | 'auditdReadRate' | 'panicRebootMs' | 'pluginRate'
>;

export interface MachineSpec extends KernelSpec {
  name: string;
  /** Inventory group besides the distro one (e.g. "web", "db"). */
  role: string;
  os: OsRelease;
  /** SSH login user; root logs in as uid 0, others are uid 1000 with sudo. */
  user: string;
  /** Optional password authentication for the login user. */
  password?: string;
  sudo: { password: string; nopasswd: boolean };
  auditctl: AuditctlFlavour;
  /** Contents of /etc/audit/rules.d/<name>. */
  rulesD: Record<string, string>;
  cmdline: string;
  auditdConf: Record<string, string>;
  /** Files of /etc/audit/plugins.d (auditd-plugins(5)), e.g. `au-remote.conf`; default: Debian's af_unix.conf, inactive. */
  plugins?: Record<string, string>;
  disk: { device: string; totalKb: number; usedKb: number; mount: string };
  /** Syslog files: RHEL writes /var/log/messages; Debian 12 has only the journal. */
  syslog: 'messages' | 'kern.log' | 'none';
  /** dmesg_restrict: non-root may not read the kernel log (Debian default). */
  dmesgRestrict?: boolean;
  /** auditd.service RefuseManualStop (default: yes on rhel, no on debian). */
  refuseManualStop?: boolean;
  /** Installed packages and the repository's versions (default: the flavour's, commands/packages.ts). */
  packages?: { installed: Record<string, string>; available?: Record<string, string> };
  /** systemd units besides auditd (default: the flavour's, commands/units.ts). */
  units?: Record<string, { enabled: boolean; active: boolean; refuseManualStop?: boolean }>;
}

export const DEBIAN_RULES = `## First rule - delete all
-D

## Increase the buffers to survive stress events.
## Make this bigger for busy systems
-b 8192

## This determine how long to wait in burst of events
--backlog_wait_time 60000

## Set failure mode to syslog
-f 1
`;

export const DEFAULT_AUDITD_CONF: Record<string, string> = {
  local_events: 'yes',
  write_logs: 'yes',
  log_file: '/var/log/audit/audit.log',
  log_group: 'adm',
  log_format: 'ENRICHED',
  flush: 'INCREMENTAL_ASYNC',
  freq: '50',
  max_log_file: '8',
  num_logs: '5',
  priority_boost: '4',
  name_format: 'NONE',
  max_log_file_action: 'ROTATE',
  space_left: '75',
  space_left_action: 'SYSLOG',
  verify_email: 'yes',
  action_mail_acct: 'root',
  admin_space_left: '50',
  admin_space_left_action: 'SUSPEND',
  disk_full_action: 'SUSPEND',
  disk_error_action: 'SUSPEND',
  use_libwrap: 'yes',
  tcp_listen_queue: '5',
  tcp_max_per_addr: '1',
  tcp_client_max_idle: '0',
  transport: 'TCP',
  krb5_principal: 'auditd',
  distribute_network: 'no',
  q_depth: '2000',
  overflow_action: 'SYSLOG',
  max_restarts: '10',
  plugin_dir: '/etc/audit/plugins.d',
  end_of_event_timeout: '2',
};

/** audit 3.0.9's shipped plugins.d/af_unix.conf (inactive). */
export const AF_UNIX_PLUGIN = `
# This file controls the configuration of the
# af_unix socket plugin. It simply takes events
# and writes them to a unix domain socket. This
# plugin can take 2 arguments, the path for the
# socket and the socket permissions in octal.

active = no
direction = out
path = builtin_af_unix
type = builtin
args = 0640 /var/run/audispd_events
format = string
`;

/** audispd-plugins' au-remote.conf with the plugin switched on (a forwarder to a remote auditd). */
export const AU_REMOTE_PLUGIN = `
# This file controls the audispd data path to the
# remote event logger. This plugin will send events to
# a remote machine (Central Logger).

active = yes
direction = out
path = /sbin/audisp-remote
type = always
#args =
format = string
`;

export class SimMachine {
  readonly fs = new VirtualFs();
  readonly kernel: SimKernel;
  /** pid of the session's shell ($$), refreshed per session. */
  shellPid = 1000;

  constructor(
    readonly spec: MachineSpec,
    clock: SimClock,
    seed: string,
  ) {
    this.populateFs();
    installHostFactFiles(this);
    this.kernel = new SimKernel({
      hostname: spec.name,
      flavour: spec.flavour,
      seed,
      clock,
      fs: this.fs,
      kernelRelease: spec.kernelRelease,
      eventRate: spec.eventRate,
      uptimeMs: spec.uptimeMs,
      kernelPanic: spec.kernelPanic,
      downtimeMs: spec.downtimeMs,
      memTotalKb: spec.memTotalKb,
      memAvailableKb: spec.memAvailableKb,
      ...(spec.runtime ? { runtime: spec.runtime } : {}),
      ...(spec.auditd ? { auditd: spec.auditd } : {}),
      ...(spec.lost !== undefined ? { lost: spec.lost } : {}),
      ...(spec.backlog !== undefined ? { backlog: spec.backlog } : {}),
      ...(spec.waitActual !== undefined ? { waitActual: spec.waitActual } : {}),
      ...(spec.historyMs !== undefined ? { historyMs: spec.historyMs } : {}),
      ...(spec.hz !== undefined ? { hz: spec.hz } : {}),
      ...(spec.execsPerSec !== undefined ? { execsPerSec: spec.execsPerSec } : {}),
      ...(spec.loadTasks !== undefined ? { loadTasks: spec.loadTasks } : {}),
      ...(spec.auditdReadRate !== undefined ? { auditdReadRate: spec.auditdReadRate } : {}),
      ...(spec.panicRebootMs !== undefined ? { panicRebootMs: spec.panicRebootMs } : {}),
      ...(spec.pluginRate !== undefined ? { pluginRate: spec.pluginRate } : {}),
    });
    // the kernel's build config, as distributions ship it (mode 0644): the fact script reads CONFIG_HZ there
    this.fs.put(`/boot/config-${spec.kernelRelease}`, kernelConfigText(spec.kernelRelease, this.kernel.hz));
    // where the next boot's command line comes from (grub or BLS entries; kernel_cmdline edits it)
    installBootloader(this);
  }

  get name(): string {
    return this.spec.name;
  }

  get loginUid(): number {
    return this.spec.user === 'root' ? 0 : 1000;
  }

  /** What is installed: auditctl may be missing (§2 failure outcomes). */
  hasCommand(name: string): boolean {
    if (name === 'auditctl' || name === 'augenrules' || name === 'auditd') return this.spec.auditctl !== 'missing';
    // each family has its own boot loader tools (src/sim/bootloader.ts)
    if (name === 'grubby' || name === 'grub2-mkconfig') return this.spec.flavour === 'rhel';
    if (name === 'update-grub' || name === 'grub-mkconfig') return this.spec.flavour !== 'rhel';
    // each family has its own package manager (what `package` detects with `command -v`)
    if (DEBIAN_TOOLS.has(name)) return this.spec.flavour !== 'rhel';
    if (RHEL_TOOLS.has(name)) return this.spec.flavour === 'rhel';
    return true;
  }

  private populateFs(): void {
    const fs = this.fs;
    const s = this.spec;
    for (const [name, text] of Object.entries(s.rulesD)) fs.put(`/etc/audit/rules.d/${name}`, text, { rootOnly: true });
    fs.put('/etc/audit/auditd.conf', Object.entries(s.auditdConf).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
    for (const [name, text] of Object.entries(s.plugins ?? { 'af_unix.conf': AF_UNIX_PLUGIN })) fs.put(`/etc/audit/plugins.d/${name}`, text, { rootOnly: true });
    fs.mkdirp('/var/log/audit');
    fs.mkdirp('/tmp');
    fs.mkdirp('/root');
    if (s.user !== 'root') fs.mkdirp(`/home/${s.user}`);
    fs.put('/etc/hostname', `${s.name}\n`);
    fs.put('/proc/cmdline', `${s.cmdline}\n`);
    fs.put('/etc/os-release', osReleaseText(s.os));
    fs.put('/etc/fstab', `${s.disk.device} ${s.disk.mount} ext4 defaults 0 1\n`);
    fs.provide('/proc/sys/kernel/random/boot_id', () => `${this.kernel.bootId}\n`);
    fs.provide('/proc/uptime', () => {
      const up = this.kernel.uptimeMs() / 1000;
      return `${up.toFixed(2)} ${(up * 1.83).toFixed(2)}\n`;
    });
    fs.provide('/proc/meminfo', () => meminfoText(this.spec.memTotalKb, this.kernel.memAvailableNowKb()));
    fs.provide('/proc/sys/kernel/panic', () => `${this.kernel.kernelPanic}\n`);
    if (s.syslog !== 'none') {
      fs.provide(`/var/log/${s.syslog}`, () => this.syslogText(), { rootOnly: true });
    }
  }

  /** dmesg output (one boot). */
  dmesgText(): string {
    this.kernel.sync();
    return this.kernel.klog.all().map(formatDmesg).join('\n') + '\n';
  }

  /** /var/log/messages: kernel lines of earlier boots and this one, `Nov 24 16:05:00 host kernel: …`. */
  syslogText(): string {
    this.kernel.sync();
    const all = [...this.kernel.syslogArchive.all(), ...this.kernel.klog.all()];
    const lines = all.map((e) => ({ wallMs: e.wallMs, line: formatJournal(e, this.spec.name, 'short') }));
    lines.push(...this.daemonLines('short'));
    lines.sort((a, b) => a.wallMs - b.wallMs);
    return lines.map((l) => l.line).join('\n') + (lines.length ? '\n' : '');
  }

  /** auditd's syslog lines as the journal / rsyslog print them (`host auditd[812]: msg`). */
  daemonLines(format: JournalFormat): { wallMs: number; line: string }[] {
    return this.kernel.daemonLog.map((e) => ({ wallMs: e.wallMs, line: formatDaemon(e, this.spec.name, format) }));
  }
}

const DEBIAN_TOOLS = new Set(['dpkg-query', 'apt-get', 'apt-cache', 'dpkg', 'apt']);
const RHEL_TOOLS = new Set(['rpm', 'dnf', 'yum']);

/** The part of /boot/config-RELEASE up to the timer frequency (kernel/Kconfig.hz), in its order. */
export function kernelConfigText(release: string, hz: number): string {
  const choices = [100, 250, 300, 1000].map((n) => (n === hz ? `CONFIG_HZ_${n}=y` : `# CONFIG_HZ_${n} is not set`));
  return [
    '#', '# Automatically generated file; DO NOT EDIT.', `# Linux/x86 ${release} Kernel Configuration`, '#',
    'CONFIG_CC_VERSION_TEXT="gcc (Debian 12.2.0-14) 12.2.0"', 'CONFIG_64BIT=y', 'CONFIG_X86_64=y', 'CONFIG_AUDIT=y', 'CONFIG_AUDITSYSCALL=y',
    'CONFIG_SMP=y', 'CONFIG_NR_CPUS=8192', ...choices, `CONFIG_HZ=${hz}`, 'CONFIG_SCHED_HRTICK=y', 'CONFIG_KEXEC=y', 'CONFIG_CRASH_DUMP=y', '',
  ].join('\n');
}

export function osReleaseText(os: OsRelease): string {
  const lines = [`PRETTY_NAME="${os.prettyName}"`, `NAME="${os.name}"`, `VERSION_ID="${os.versionId}"`, `ID=${os.id}`];
  if (os.idLike) lines.push(`ID_LIKE="${os.idLike}"`);
  if (os.version) lines.push(`VERSION="${os.version}"`);
  if (os.codename) lines.push(`VERSION_CODENAME=${os.codename}`);
  return lines.join('\n') + '\n';
}

/** /proc/meminfo: label padded to 16, value to 8, " kB" (the kernel's show_val_kb). */
export function meminfoText(totalKb: number, availableKb: number): string {
  const free = Math.round(availableKb * 0.6);
  const rows: [string, number][] = [
    ['MemTotal', totalKb],
    ['MemFree', free],
    ['MemAvailable', availableKb],
    ['Buffers', Math.round(totalKb * 0.01)],
    ['Cached', Math.round(availableKb * 0.35)],
    ['SwapCached', 0],
    ['Active', Math.round(totalKb * 0.2)],
    ['Inactive', Math.round(totalKb * 0.15)],
    ['SwapTotal', 0],
    ['SwapFree', 0],
    ['Dirty', 124],
    ['Slab', Math.round(totalKb * 0.04)],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(16)}${String(v).padStart(8)} kB`).join('\n') + '\n';
}
