/** systemd, service, ps, kill, logs, df, shutdown: the init system and kernel views. */
import { systemctlList } from './unit-listings.js';
import type { SimMachine } from '../machine.js';
import { formatDmesg, formatJournal, type JournalFormat } from '../klog.js';
import type { CommandContext, CommandRegistry } from '../shell.js';
import { hangUntilClosed } from './audit.js';
import { otherUnit, unitStates } from './units.js';

const REFUSED = (verb: string) =>
  `Failed to ${verb} auditd.service: Operation refused, unit auditd.service may be requested by dependency only (it is configured to refuse manual start/stop).\nSee system logs and 'systemctl status auditd.service' for details.\n`;

export function refuseManualStop(m: SimMachine): boolean {
  return m.spec.refuseManualStop ?? m.spec.flavour === 'rhel';
}

function unitName(arg: string | undefined): string {
  return (arg ?? '').replace(/\.service$/, '');
}

function unitState(m: SimMachine): { active: string; sub: string; pid: number } {
  const a = m.kernel.auditd;
  if (a.state === 'stopped') return a.unitFailed ? { active: 'failed', sub: 'failed', pid: 0 } : { active: 'inactive', sub: 'dead', pid: 0 };
  // systemd cannot tell a SIGSTOPped daemon from a healthy one (§4).
  return { active: 'active', sub: 'running', pid: a.pid };
}

async function systemctl(ctx: CommandContext): Promise<number> {
  const m = ctx.machine;
  m.kernel.sync();
  const args = ctx.argv.slice(1).filter((a) => a !== '--no-pager' && a !== '-q' && a !== '--quiet');
  const verb = args[0];
  const unit = unitName(args.find((a, i) => i > 0 && !a.startsWith('-') && args[i - 1] !== '-p' && args[i - 1] !== '--property'));
  const known = unit === 'auditd';
  const props: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-p' || a === '--property') props.push(...(args[++i] ?? '').split(','));
    else if (a.startsWith('--property=')) props.push(...a.slice(11).split(','));
  }
  if (verb !== undefined && verb !== 'daemon-reload' && verb !== 'list-units' && verb !== 'list-unit-files') {
    const other = await otherUnit(ctx, verb, unit, props);
    if (other !== null) return other;
  }
  const auditdUnit = unitStates(m).get('auditd');
  switch (verb) {
    case 'show': {
      const st = unitState(m);
      // systemctl prints properties in the unit's order, not the order asked (fixture 13).
      const all: [string, string][] = known
        ? [
            ['Type', 'forking'],
            ['MainPID', String(st.pid)],
            ['Id', 'auditd.service'],
            ['LoadState', 'loaded'],
            ['ActiveState', st.active],
            ['SubState', st.sub],
            ['UnitFileState', auditdUnit?.enabled === false ? 'disabled' : 'enabled'],
            ['RefuseManualStart', 'no'],
            ['RefuseManualStop', refuseManualStop(m) ? 'yes' : 'no'],
          ]
        : [['MainPID', '0'], ['Id', `${unit}.service`], ['LoadState', 'not-found'], ['ActiveState', 'inactive'], ['SubState', 'dead'], ['RefuseManualStart', 'no'], ['RefuseManualStop', 'no']];
      const shown = props.length ? all.filter(([k]) => props.includes(k)) : all;
      await ctx.stdout.write(shown.map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
      return 0;
    }
    case 'is-active': {
      const st = known ? unitState(m).active : 'inactive';
      if (!ctx.argv.includes('-q') && !ctx.argv.includes('--quiet')) await ctx.stdout.write(`${st}\n`);
      return st === 'active' ? 0 : 3;
    }
    case 'is-enabled': {
      const enabled = auditdUnit?.enabled !== false;
      await ctx.stdout.write(enabled ? 'enabled\n' : 'disabled\n');
      return enabled ? 0 : 1;
    }
    case 'enable':
    case 'disable': {
      const denied = await needRoot(ctx, verb);
      if (denied !== null) return denied;
      if (auditdUnit) auditdUnit.enabled = verb === 'enable';
      return 0;
    }
    case 'reload': {
      const denied = await needRoot(ctx, verb);
      if (denied !== null) return denied;
      // auditd.service: ExecReload=/bin/kill -HUP $MAINPID (auditd re-reads auditd.conf)
      if (!m.kernel.signalAuditd('HUP')) {
        await ctx.stderr.write('Job for auditd.service failed.\n');
        return 1;
      }
      return 0;
    }
    case 'status': {
      if (!known) {
        await ctx.stderr.write(`Unit ${unit}.service could not be found.\n`);
        return 4;
      }
      const st = unitState(m);
      await ctx.stdout.write(
        `● auditd.service - Security Auditing Service\n     Loaded: loaded (/lib/systemd/system/auditd.service; enabled; preset: enabled)\n     Active: ${st.active} (${st.sub})\n` +
          (st.pid ? `   Main PID: ${st.pid} (auditd)\n` : ''),
      );
      return st.active === 'active' ? 0 : 3;
    }
    case 'list-units':
    case 'list-unit-files':
      return systemctlList(ctx, verb, unitState(m));
    case 'daemon-reload':
      return (await needRoot(ctx, 'reload')) ?? 0;
    case 'start':
    case 'stop':
    case 'restart':
    case 'try-restart':
    case 'kill': {
      if (!known) {
        await ctx.stderr.write(`Failed to ${verb} ${unit}.service: Unit ${unit}.service not found.\n`);
        return 5;
      }
      const denied = await needRoot(ctx, verb);
      if (denied !== null) return denied;
      if ((verb === 'stop' || verb === 'restart' || verb === 'try-restart') && refuseManualStop(m)) {
        await ctx.stderr.write(REFUSED(verb === 'try-restart' ? 'restart' : verb));
        return 4;
      }
      if (verb === 'start') m.kernel.startAuditd();
      else if (verb === 'stop') {
        // systemd sends SIGTERM and then SIGCONT: a SIGSTOPped daemon stops too.
        m.kernel.stopAuditd();
      } else if (verb === 'kill') m.kernel.signalAuditd('TERM');
      else m.kernel.restartAuditd();
      return 0;
    }
    default:
      await ctx.stderr.write(`Unknown command verb ${verb ?? ''}.\n`);
      return 1;
  }
}

async function needRoot(ctx: CommandContext, verb: string): Promise<number | null> {
  if (ctx.uid === 0) return null;
  await ctx.stderr.write(`Failed to ${verb} auditd.service: Interactive authentication required.\nSee system logs and 'systemctl status auditd.service' for details.\n`);
  return 1;
}

/** `service auditd ACTION`: RHEL runs its legacy action scripts (they ignore RefuseManualStop). */
async function service(ctx: CommandContext): Promise<number> {
  const m = ctx.machine;
  const [name, action] = ctx.argv.slice(1);
  if (unitName(name) !== 'auditd') {
    // /usr/sbin/service forwards a systemd unit to systemctl
    if (unitStates(m).has(unitName(name))) return systemctl({ ...ctx, argv: ['systemctl', action ?? '', `${unitName(name)}.service`] });
    await ctx.stderr.write(`${name ?? ''}: unrecognized service\n`);
    return 1;
  }
  if (action === 'status') return systemctl({ ...ctx, argv: ['systemctl', 'status', 'auditd'] });
  if (m.spec.flavour !== 'rhel' || !['stop', 'restart', 'rotate', 'resume', 'reload', 'condrestart'].includes(action ?? '')) {
    return systemctl({ ...ctx, argv: ['systemctl', action ?? '', 'auditd.service'] });
  }
  if (ctx.uid !== 0) {
    await ctx.stderr.write('Stopping logging: auditd: Operation not permitted\n');
    return 4;
  }
  if (action === 'stop') {
    // legacy-actions/auditd/stop sends SIGTERM only: a SIGSTOPped auditd keeps it pending.
    if (m.kernel.auditd.state === 'stuck') m.kernel.signalAuditd('TERM');
    else m.kernel.stopAuditd();
    await ctx.stdout.write('Stopping logging:                                          [  OK  ]\n');
  } else if (action === 'restart' || action === 'condrestart') {
    await ctx.stdout.write('Stopping logging:                                          [  OK  ]\nRedirecting start to /bin/systemctl start auditd.service\n');
    // stop (TERM, no CONT) then `systemctl start` on a unit still active: a stopped auditd stays.
    m.kernel.legacyRestartAuditd();
  } else {
    m.kernel.signalAuditd(action === 'rotate' ? 'USR1' : action === 'resume' ? 'USR2' : 'HUP');
  }
  return 0;
}

export interface Proc {
  pid: number;
  stat: string;
  cmd: string;
  comm: string;
  wchan: string;
}

/** auditd is registered (a socket kauditd can block on). */
function a0(m: SimMachine): boolean {
  return m.kernel.auditd.state !== 'stopped';
}

/** First pid of the tasks shown asleep in audit_log_start on a stalled host. */
const STALLED_PID_BASE = 3000;

/** The machine's processes, as ps and /proc show them. */
export function machineProcesses(m: SimMachine, withPs = false): Proc[] {
  m.kernel.sync();
  const list: Proc[] = [
    { pid: 1, stat: 'Ss', cmd: '/sbin/init', comm: 'systemd', wchan: 'ep_poll' },
    // kauditd sits in its 100-ms send timeout while auditd does not read (observed on the VM)
    { pid: 22, stat: 'S', cmd: '[kauditd]', comm: 'kauditd', wchan: m.kernel.isLosing() && a0(m) ? 'netlink_attachskb' : 'kauditd_thread' },
  ];
  const a = m.kernel.auditd;
  if (a.state !== 'stopped') {
    const st = m.kernel.auditdProcState() ?? 'S';
    const wchan = st === 'T' ? 'do_signal_stop' : st === 'D' ? 'jbd2_log_wait_commit' : 'ep_poll';
    list.push({ pid: a.pid, stat: `${st}<sl`, cmd: '/sbin/auditd', comm: 'auditd', wchan });
  }
  // Tasks of a stalled host asleep on the full queue (TASK_UNINTERRUPTIBLE, kernel-6.1-queue §0, T04)
  const blocked = m.kernel.blockedTasks();
  for (let i = 0; i < blocked; i++) {
    const comm = ['cron', 'sshd', 'systemd-journal', 'bash'][i % 4] as string;
    list.push({ pid: STALLED_PID_BASE + i, stat: 'D', cmd: comm, comm, wchan: 'audit_log_start' });
  }
  list.push({ pid: m.shellPid, stat: 'Ss', cmd: 'sh', comm: 'sh', wchan: 'do_wait' });
  if (withPs) list.push({ pid: m.shellPid + 3, stat: 'R', cmd: 'ps', comm: 'ps', wchan: '-' });
  return list;
}

function processes(ctx: CommandContext): Proc[] {
  return machineProcesses(ctx.machine, true);
}

/** /proc/PID/stat as the kernel prints it (fields after the state are plausible, not modelled). */
function statLine(p: Proc): string {
  return `${p.pid} (${p.comm}) ${p.stat.slice(0, 1)} 1 ${p.pid} ${p.pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n`;
}

/**
 * /proc/PID/{comm,stat,wchan} of the machine's processes, and the auditd unit file systemd
 * reads (RefuseManualStop), for the fact script's builtin reads. wchan has no trailing newline.
 */
export function installProcFiles(m: SimMachine): void {
  m.fs.provideTree('/proc', () => {
    const files: Record<string, string> = {};
    for (const p of machineProcesses(m)) {
      files[`${p.pid}/comm`] = `${p.comm}\n`;
      files[`${p.pid}/stat`] = statLine(p);
      files[`${p.pid}/wchan`] = p.stat.startsWith('R') ? '0' : p.wchan;
    }
    return files;
  });
  if (!m.fs.stat('/proc/sys/kernel/osrelease')) m.fs.provide('/proc/sys/kernel/osrelease', () => `${m.kernel.kernelRelease}\n`);
  const unit = m.spec.flavour === 'rhel' ? '/usr/lib/systemd/system/auditd.service' : '/lib/systemd/system/auditd.service';
  m.fs.provide(unit, () =>
    ['[Unit]', 'Description=Security Auditing Service', 'DefaultDependencies=no', `RefuseManualStop=${refuseManualStop(m) ? 'yes' : 'no'}`, '', '[Service]', 'Type=forking', 'PIDFile=/run/auditd.pid', 'ExecStart=/sbin/auditd', 'ExecStartPost=-/sbin/augenrules --load', ''].join('\n'),
  );
}

const PS_COLS: Record<string, { header: string; width: number; get: (p: Proc) => string; left?: boolean }> = {
  pid: { header: 'PID', width: 7, get: (p) => String(p.pid) },
  stat: { header: 'STAT', width: 4, get: (p) => p.stat, left: true },
  s: { header: 'S', width: 1, get: (p) => p.stat.slice(0, 1), left: true },
  cmd: { header: 'CMD', width: 0, get: (p) => p.cmd, left: true },
  args: { header: 'COMMAND', width: 0, get: (p) => p.cmd, left: true },
  comm: { header: 'COMMAND', width: 0, get: (p) => p.comm, left: true },
  wchan: { header: 'WCHAN', width: 6, get: (p) => p.wchan, left: true },
};

async function ps(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  let names: string[] | null = null;
  let cols: { key: string; header: string | null; width: number }[] | null = null;
  let all = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-C') names = (args[++i] ?? '').split(',');
    else if (a === '-o' || a === '-eo') {
      if (a === '-eo') all = true;
      const more: { key: string; header: string | null; width: number }[] = (args[++i] ?? '').split(',').map((spec) => {
          const [k = '', h] = spec.split('=');
          const [key = '', w] = k.split(':');
          return { key, header: h === undefined ? null : h, width: w ? Number(w) : -1 };
        });
      cols = [...(cols ?? []), ...more];
    } else if (a === '-e' || a === '-A' || a === 'aux' || a === '-ef') all = true;
    else {
      await ctx.stderr.write(`error: unsupported option (BSD syntax)\n`);
      return 1;
    }
  }
  let procs = processes(ctx);
  if (names) procs = procs.filter((p) => names?.includes(p.comm));
  else if (!all) procs = procs.filter((p) => p.comm === 'sh' || p.comm === 'ps');
  const spec = cols ?? [
    { key: 'pid', header: null, width: -1 },
    { key: 'tty', header: null, width: -1 },
    { key: 'time', header: null, width: -1 },
    { key: 'cmd', header: null, width: -1 },
  ];
  const colOf = (key: string) =>
    PS_COLS[key] ?? (key === 'tty' ? { header: 'TTY', width: 8, get: () => '?', left: true } : key === 'time' ? { header: '    TIME', width: 8, get: () => '00:00:00' } : undefined);
  for (const c of spec) {
    if (!colOf(c.key)) {
      await ctx.stderr.write(`error: unknown user-defined format specifier "${c.key}"\n`);
      return 1;
    }
  }
  const fmt = (vals: string[]) =>
    spec
      .map((c, i) => {
        const d = colOf(c.key);
        const w = c.width >= 0 ? c.width : (d?.width ?? 0);
        const v = vals[i] ?? '';
        return d?.left ? (i === spec.length - 1 ? v : v.padEnd(w)) : v.padStart(w);
      })
      .join(' ');
  const lines: string[] = [];
  const headers = spec.map((c) => (c.header !== null ? c.header : (colOf(c.key)?.header ?? '')));
  if (headers.some((h) => h !== '')) lines.push(fmt(headers));
  for (const p of procs) lines.push(fmt(spec.map((c) => colOf(c.key)?.get(p) ?? '')));
  if (lines.length) await ctx.stdout.write(lines.map((l) => l.replace(/\s+$/, '')).join('\n') + '\n');
  return procs.length ? 0 : 1;
}

async function pidof(ctx: CommandContext): Promise<number> {
  const pids = processes(ctx).filter((p) => ctx.argv.slice(1).includes(p.comm)).map((p) => p.pid);
  if (pids.length) await ctx.stdout.write(pids.join(' ') + '\n');
  return pids.length ? 0 : 1;
}

const SIGNAL_NAMES: Record<string, 'STOP' | 'CONT' | 'TERM' | 'KILL' | 'HUP' | 'USR1' | 'USR2'> = {
  STOP: 'STOP', '19': 'STOP', CONT: 'CONT', '18': 'CONT', TERM: 'TERM', '15': 'TERM', KILL: 'KILL', '9': 'KILL', HUP: 'HUP', '1': 'HUP', USR1: 'USR1', '10': 'USR1', USR2: 'USR2', '12': 'USR2',
};

async function kill(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  let sig: string = 'TERM';
  let i = 0;
  if (args[0] === '-s') {
    sig = args[1] ?? '';
    i = 2;
  } else if (args[0]?.startsWith('-') && args[0] !== '--') {
    sig = args[0].slice(1);
    i = 1;
  }
  const signal = SIGNAL_NAMES[sig.replace(/^SIG/, '')];
  if (!signal) {
    await ctx.stderr.write(`sh: ${ctx.line}: kill: invalid signal number or name: ${sig}\n`);
    return 2;
  }
  const pids = args.slice(i).filter((a) => a !== '--');
  if (!pids.length) {
    await ctx.stderr.write(`sh: ${ctx.line}: kill: Usage: kill [-s sigspec | -signum | -sigspec] [pid | job]... or\nkill -l [exitstatus]\n`);
    return 2;
  }
  let rc = 0;
  const m = ctx.machine;
  for (const p of pids) {
    const pid = Number(p);
    const known = processes(ctx).find((x) => x.pid === pid);
    if (!known) {
      await ctx.stderr.write(`sh: ${ctx.line}: kill: No such process\n`);
      rc = 1;
      continue;
    }
    if (ctx.uid !== 0 && pid !== m.shellPid) {
      await ctx.stderr.write(`sh: ${ctx.line}: kill: Operation not permitted\n`);
      rc = 1;
      continue;
    }
    if (pid === m.kernel.auditd.pid) m.kernel.signalAuditd(signal);
  }
  return rc;
}

async function dmesg(ctx: CommandContext): Promise<number> {
  const m = ctx.machine;
  const args = ctx.argv.slice(1);
  if (ctx.uid !== 0 && (m.spec.dmesgRestrict ?? m.spec.flavour === 'debian')) {
    await ctx.stderr.write('dmesg: read kernel buffer failed: Operation not permitted\n');
    return 1;
  }
  if (args.includes('-C') || args.includes('--clear') || args.includes('-c')) {
    if (ctx.uid !== 0) {
      await ctx.stderr.write('dmesg: klogctl failed: Operation not permitted\n');
      return 1;
    }
    const before = args.includes('-c') ? m.dmesgText() : '';
    m.kernel.klog.clear();
    if (before) await ctx.stdout.write(before);
    return 0;
  }
  m.kernel.sync();
  const lines = m.kernel.klog.all().map(formatDmesg);
  if (lines.length) await ctx.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/**
 * journalctl over the kernel ring and auditd's syslog lines. Matches (`FIELD=VALUE`) on
 * different fields AND, `+` ORs groups (journalctl(1)); `-k` ANDs `_TRANSPORT=kernel` with
 * them, `-t ID` adds `SYSLOG_IDENTIFIER=ID`. Kernel lines carry `_TRANSPORT=kernel`,
 * `SYSLOG_IDENTIFIER=kernel`; auditd's `_TRANSPORT=syslog`, `SYSLOG_IDENTIFIER=auditd`, `_COMM=auditd`.
 */
async function journalctl(ctx: CommandContext): Promise<number> {
  const m = ctx.machine;
  const args = ctx.argv.slice(1);
  let format: JournalFormat = 'short';
  let kernel = false;
  let n: number | null = null;
  let quiet = false;
  let unit: string | null = null;
  const groups: Record<string, string>[] = [{}];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-k' || a === '--dmesg') kernel = true;
    else if (a === '-q' || a === '--quiet') quiet = true;
    else if (a === '-o' || a === '--output') format = (args[++i] ?? 'short') as JournalFormat;
    else if (a.startsWith('--output=')) format = a.slice(9) as JournalFormat;
    else if (a === '-n' || a === '--lines') n = Number(args[++i] ?? '10');
    else if (a === '-u' || a === '--unit') unit = args[++i] ?? '';
    else if (a === '-t' || a === '--identifier') (groups[groups.length - 1] as Record<string, string>)['SYSLOG_IDENTIFIER'] = args[++i] ?? '';
    else if (a === '+') groups.push({});
    else if (/^[A-Z_][A-Z0-9_]*=/.test(a)) {
      const eq = a.indexOf('=');
      (groups[groups.length - 1] as Record<string, string>)[a.slice(0, eq)] = a.slice(eq + 1);
    } else if (a === '-b' || a === '--boot') {
      if (args[i + 1] !== undefined && /^-?\d+$/.test(args[i + 1] as string)) i++;
    } else if (a === '--since' || a === '--until') i++;
    else if (a === '--no-pager' || a === '--no-hostname' || a === '-a' || a === '--all' || a.startsWith('--since=') || a === '-x') continue;
    else {
      await ctx.stderr.write(`journalctl: unrecognized option '${a}'\n`);
      return 1;
    }
  }
  if (!['short', 'short-monotonic', 'short-iso', 'cat'].includes(format)) {
    await ctx.stderr.write(`Failed to parse output format: ${format}\n`);
    return 1;
  }
  if (ctx.uid !== 0) {
    // Non-root without the adm/systemd-journal group sees only its own user journal.
    if (!quiet) await ctx.stderr.write(`Hint: You are currently not seeing messages from other users and the system.\n      Users in groups 'adm', 'systemd-journal' can see all messages.\n      Pass -q to turn off this notice.\n`);
    if (!quiet) await ctx.stdout.write('-- No entries --\n');
    return 0;
  }
  m.kernel.sync();
  const KERNEL = { _TRANSPORT: 'kernel', SYSLOG_IDENTIFIER: 'kernel' } as Record<string, string>;
  const AUDITD = { _TRANSPORT: 'syslog', SYSLOG_IDENTIFIER: 'auditd', _COMM: 'auditd' } as Record<string, string>;
  const matches = groups.filter((g) => Object.keys(g).length > 0);
  const wanted = (fields: Record<string, string>): boolean => {
    if (kernel && fields['_TRANSPORT'] !== 'kernel') return false;
    if (unit !== null && !kernel && !matches.length) return false;
    return !matches.length || matches.some((g) => Object.entries(g).every(([k, v]) => fields[k] === v));
  };
  const entries: { wallMs: number; line: string }[] = [];
  if (wanted(KERNEL)) entries.push(...m.kernel.klog.all().map((e) => ({ wallMs: e.wallMs, line: formatJournal(e, m.name, format) })));
  if (wanted(AUDITD)) entries.push(...m.daemonLines(format));
  entries.sort((a, b) => a.wallMs - b.wallMs);
  let lines = entries.map((e) => e.line);
  if (n !== null) lines = lines.slice(-n);
  if (lines.length) await ctx.stdout.write(lines.join('\n') + '\n');
  else if (!quiet) await ctx.stdout.write('-- No entries --\n');
  return 0;
}

async function df(ctx: CommandContext): Promise<number> {
  const d = ctx.machine.spec.disk;
  const paths = ctx.argv.slice(1).filter((a) => !a.startsWith('-'));
  for (const p of paths) {
    if (!ctx.machine.fs.stat(p)) {
      await ctx.stderr.write(`df: ${p}: No such file or directory\n`);
      return 1;
    }
  }
  const avail = Math.max(0, d.totalKb - d.usedKb);
  const cap = Math.ceil((d.usedKb / Math.max(1, d.totalKb)) * 100);
  const row = `${d.device.padEnd(14)} ${String(d.totalKb).padStart(11)} ${String(d.usedKb).padStart(8)} ${String(avail).padStart(9)} ${`${cap}%`.padStart(8)} ${d.mount}`;
  await ctx.stdout.write(`Filesystem     1024-blocks     Used Available Capacity Mounted on\n${row}\n`);
  return 0;
}

function fmtWhen(ms: number): string {
  const d = new Date(ms);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  return `${day} ${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

async function shutdown(ctx: CommandContext): Promise<number> {
  const m = ctx.machine;
  const args = ctx.argv.slice(1);
  if (ctx.uid !== 0) {
    await ctx.stderr.write('Failed to set wall message, ignoring: Interactive authentication required.\nFailed to reboot system via logind: Interactive authentication required.\n');
    return 1;
  }
  if (args.includes('-c')) {
    m.kernel.cancelReboot();
    return 0;
  }
  if (!args.includes('-r')) {
    await ctx.stderr.write('shutdown: only reboots (-r) and cancel (-c) are simulated\n');
    return 1;
  }
  const rest = args.filter((a) => a !== '-r');
  const when = rest[0] ?? '+1';
  const message = rest.slice(1).join(' ');
  let delayMs: number;
  if (when === 'now') delayMs = 0;
  else if (/^\+\d+$/.test(when)) delayMs = Number(when.slice(1)) * 60_000;
  else {
    await ctx.stderr.write(`Failed to parse time specification: ${when}\n`);
    return 1;
  }
  const at = m.kernel.scheduleReboot(delayMs, message);
  if (delayMs > 0) {
    await ctx.stderr.write(`Reboot scheduled for ${fmtWhen(at)}, use 'shutdown -c' to cancel.\n`);
    return 0;
  }
  return hangUntilClosed(ctx);
}

async function reboot(ctx: CommandContext): Promise<number> {
  if (ctx.uid !== 0) {
    await ctx.stderr.write('Failed to reboot system via logind: Interactive authentication required.\n');
    return 1;
  }
  ctx.machine.kernel.scheduleReboot(0, '');
  return hangUntilClosed(ctx);
}

export function registerSystem(r: CommandRegistry): void {
  r.register('systemctl', systemctl)
    .register('service', service)
    .register('ps', ps)
    .register('pidof', pidof)
    .register('kill', kill)
    .register('dmesg', dmesg)
    .register('journalctl', journalctl)
    .register('df', df)
    .register('shutdown', shutdown)
    .register('reboot', reboot);
}
