/**
 * The fact-collection script: ONE round trip per sample (reference §6), and on a Linux host at
 * most THREE programs per sample. On the host that matters most, the one whose auditd stopped
 * draining, every execve waits in audit_log_start for the full queue (kernel-6.1-queue §0: one
 * uninterruptible sleep per record, ~6 records per execve with an execve rule), so the probe pays
 * for each program it starts with seconds, and each one it abandons stays stuck in the kernel.
 *
 *  1. `auditctl -s`, always, first and alone: the one fact nothing else can give.
 *  2. Everything else is read by the same shell with builtins (`read`, `while`, `for`, `case`,
 *     globs, `<` redirection): /proc files, /etc/os-release, auditd.conf, the `-b` lines of the
 *     rule files, auditd's /proc/PID/stat and wchan, the tasks sleeping in audit_log_start
 *     (a pass over every process, only when the kernel's counters allow a stall: PROCS),
 *     CONFIG_HZ from /boot/config-RELEASE (only when there are waits to convert: KERNEL_HZ),
 *     the auditd unit's RefuseManualStop.
 *  3. Only when `auditctl -s` shows `lost` other than 0, or a plugin file says `active = yes`:
 *     `auditctl -l` and ONE log reader. The diagnosis uses the kernel lines to tell a loss of this
 *     boot from an old counter (records-lost with one sample), auditd's own lines for plugin
 *     back-pressure ("queue to plugins is full - dropping event": auditd logs it with syslog(3),
 *     so it is in the journal and /var/log/messages, never in dmesg), and the rule list only as
 *     evidence of where the records come from. The reader is therefore
 *     `journalctl -b _TRANSPORT=kernel + SYSLOG_IDENTIFIER=auditd` (one program start, both
 *     sources, this boot; `-k` would AND its kernel match with the auditd one), and dmesg only
 *     as root on a host without journalctl (`command -v` is a builtin: no program starts to
 *     find out). A host with lost 0 and no active plugin gets no finding either could change, so
 *     it is spared both programs. They come last, so a hanging reader cannot hold back the
 *     sections before it.
 *
 * Each section is introduced by a marker line carrying a per-run nonce (host output can never
 * forge a boundary) and closed by a marker with the section's status, and is printed as soon as
 * it is complete: a sample cut short by a timeout or a dropped connection keeps what arrived.
 *
 * The script uses a small POSIX-sh subset, which is the contract with the simulator's shell
 * (src/sim/shell.ts): simple commands, quoted words, `;`/newlines, `&&`, `||`, `$(...)`, `$?`,
 * `if`/`for`/`while`/`case`, `read -r` with `IFS=`, `<`, `2>&1`, `2>/dev/null` and globs with
 * `*` and `[0-9]`. `[`, `printf` and `echo` are builtins of dash and bash: no program starts.
 */
export interface SectionSpec {
  name: SectionName;
  /** Shell text that prints the section's body and leaves its status in $fm_rc. */
  body: string;
}

export type SectionName =
  | 'auditctl_s'
  | 'auditctl_l'
  | 'kernel_journal'
  | 'kernel_dmesg'
  | 'meminfo'
  | 'rules_b'
  | 'cmdline'
  | 'auditd_conf'
  | 'uname_r'
  | 'kernel_hz'
  | 'os_release'
  | 'boot_id'
  | 'uptime'
  | 'procs'
  | 'auditd_unit'
  | 'plugins'
  | 'skipped';

/** Every section a sample can have, in script order. */
export const SECTION_NAMES: readonly SectionName[] = [
  'auditctl_s', 'meminfo', 'cmdline', 'uptime', 'boot_id', 'uname_r', 'kernel_hz', 'os_release', 'auditd_conf', 'rules_b', 'procs', 'auditd_unit', 'plugins',
  'auditctl_l', 'kernel_dmesg', 'kernel_journal', 'skipped',
];

/** Kernel log lines journalctl is asked for (dmesg has no such option: its ring buffer is bounded). */
export const KERNEL_LOG_LINES = 1000;

/** Programs one sample starts at most on a Linux host (auditctl -s, auditctl -l, the kernel-log reader). */
export const MAX_PROGRAMS_PER_SAMPLE = 3;

/** The wait channels of tasks stalled on the audit queue (kernel-6.1-queue §0, T04). */
export const STALL_WCHANS = ['audit_log_start', 'audit_receive'] as const;

/** Where systemd looks for auditd.service (first found wins) and its drop-ins (all apply, in order). */
export const UNIT_FILES = ['/etc/systemd/system/auditd.service', '/usr/lib/systemd/system/auditd.service', '/lib/systemd/system/auditd.service'];
export const UNIT_DROPINS = ['/usr/lib/systemd/system/auditd.service.d/*.conf', '/etc/systemd/system/auditd.service.d/*.conf'];

const MARK = '@@fleetmend';

/** Prints a file line by line (a last line without newline included); $fm_rc 0, or 2 if unreadable. */
function readFile(path: string, filter?: string): string {
  const print = filter ?? `printf '%s\\n' "$fm_l"`;
  return [
    `if [ -r ${path} ]; then`,
    `  while IFS= read -r fm_l || [ -n "$fm_l" ]; do ${print}; done < ${path}`,
    '  fm_rc=0',
    `else echo 'cannot read ${path}'; fm_rc=2; fi`,
  ].join('\n');
}

/** The first line of a file (no trailing newline needed: /proc/PID/wchan has none). */
function readLine(path: string): string {
  return `if [ -r ${path} ]; then fm_l=; read -r fm_l < ${path}; printf '%s\\n' "$fm_l"; fm_rc=0; else echo 'cannot read ${path}'; fm_rc=2; fi`;
}

/** `-b` lines of the rule files as `file:line` (the parser keeps those that are `-b N`). */
const RULES_B = [
  'fm_rc=2',
  'for fm_f in /etc/audit/rules.d/*.rules /etc/audit/audit.rules; do',
  '  if [ -r "$fm_f" ]; then',
  '    fm_rc=0',
  `    while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in -b*) printf '%s:%s\\n' "$fm_f" "$fm_l";; esac; done < "$fm_f"`,
  '  fi',
  'done',
].join('\n');

/**
 * auditd's state and the tasks asleep on the audit queue, from /proc with builtins.
 *
 * A task sleeps in audit_log_start only while the main queue is over its limit, and a stall
 * shows in the kernel's own counters within one kauditd pass (< 1 s, kernel-6.1-queue §0): the
 * pass moves the over-full queue to the retry queue, which overflows (`lost` + 1), and each
 * woken sleeper adds its wait to `backlog_wait_time_actual`. So when `auditctl -s` reads
 * `lost 0`, `backlog_wait_time_actual 0` and a backlog within the limit, and the pid the kernel
 * has registered is an auditd, no task can be asleep: only that auditd's comm, wait channel
 * and stat are read (3 files), and the section says why the pass over every process was
 * skipped. Otherwise (anything lost or waited since boot, a queue over its limit, no
 * registered auditd, or a status the shell cannot read: the one-line `key=value` format) one
 * pass over /proc reads every process: auditd processes (comm `auditd`) with their stat line
 * and wait channel, and every task whose wait channel is one of STALL_WCHANS. The pass costs
 * two reads per process, ~15 ms of the host's CPU on a host with 400 processes; a healthy host
 * is spared it. A process that exits during the pass only costs an error message, sent to
 * /dev/null.
 */
const PROCS = [
  'fm_rc=0',
  'fm_all=1',
  'if [ -n "$fm_calm" ] && [ -r "/proc/$fm_pid/stat" ]; then',
  '  fm_c=; fm_w=; fm_l=',
  '  read -r fm_c < "/proc/$fm_pid/comm"',
  '  read -r fm_w < "/proc/$fm_pid/wchan"',
  '  read -r fm_l < "/proc/$fm_pid/stat"',
  "  case $fm_c in auditd) fm_all=; printf 'auditd wchan=%s stat=%s\\n' \"$fm_w\" \"$fm_l\"; printf 'scan skipped lost=%s wait_actual=%s backlog=%s limit=%s\\n' \"$fm_lost\" \"$fm_wa\" \"$fm_bl\" \"$fm_lim\";; esac",
  'fi 2>/dev/null',
  'if [ -n "$fm_all" ]; then',
  '  for fm_d in /proc/[0-9]*; do',
  '    fm_c=; fm_w=',
  '    read -r fm_c < "$fm_d/comm"',
  '    read -r fm_w < "$fm_d/wchan"',
  '    case $fm_c in auditd) fm_l=; read -r fm_l < "$fm_d/stat"; printf \'auditd wchan=%s stat=%s\\n\' "$fm_w" "$fm_l";; esac',
  `    case $fm_w in ${STALL_WCHANS.join('|')}) printf 'stalled wchan=%s comm=%s\\n' "$fm_w" "$fm_c";; esac`,
  '  done 2>/dev/null',
  'fi',
  'fm_c=; read -r fm_c < /proc/1/comm 2>/dev/null',
  `printf 'init comm=%s\\n' "$fm_c"`,
].join('\n');

/** RefuseManualStop from the unit file systemd would load and its drop-ins, as `file:line`. */
const AUDITD_UNIT = [
  'fm_rc=1',
  `for fm_f in ${UNIT_FILES.join(' ')}; do`,
  '  if [ -r "$fm_f" ]; then fm_rc=0; break; fi',
  'done',
  `for fm_f in "$fm_f" ${UNIT_DROPINS.join(' ')}; do`,
  '  if [ -r "$fm_f" ]; then',
  `    while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in RefuseManualStop*) printf '%s:%s\\n' "$fm_f" "$fm_l";; esac; done < "$fm_f"`,
  '  fi',
  'done',
].join('\n');

/**
 * Where auditd 3.x (plugin_dir, default /etc/audit/plugins.d) and audispd 2.x (RHEL 7,
 * /etc/audisp/plugins.d) read plugin files. A plugin_dir elsewhere is reported from auditd.conf,
 * its files are not read (a builtin cannot cut the value out of `plugin_dir = X` portably).
 */
export const PLUGIN_DIRS = ['/etc/audit/plugins.d', '/etc/audisp/plugins.d'];

/**
 * `active` and `path` lines of every plugin file as `file:line`. Sets $fm_act to 1 when a line
 * says `active = yes`: a host with an active plugin gets the log reader even with lost 0,
 * because a plugin queue that overflows drops records for the plugin (the SIEM copy) without
 * the kernel counting anything (audisp/queue.c do_overflow_action).
 */
const PLUGINS = [
  'fm_rc=1',
  'fm_act=0',
  `for fm_f in ${PLUGIN_DIRS.map((d) => `${d}/*.conf`).join(' ')}; do`,
  '  if [ -r "$fm_f" ]; then',
  '    fm_rc=0',
  `    while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in active*|path*) printf '%s:%s\\n' "$fm_f" "$fm_l";; esac; case $fm_l in active*yes*) fm_act=1;; esac; done < "$fm_f"`,
  '  fi',
  'done',
].join('\n');

/**
 * The counters of `auditctl -s` that decide what else is worth reading, cut out with builtins
 * (`set -f`: the status is split into words without globbing them): the registered pid,
 * `lost`, `backlog`, `backlog_limit`, `backlog_wait_time_actual` (absent before audit 3.0:
 * taken as 0). $fm_calm is 1 when nothing was lost or waited since boot and the queue is within
 * its limit; not for the one-line `key=value` format, which this does not read.
 */
const COUNTERS = [
  'fm_pid=; fm_lost=; fm_bl=; fm_lim=; fm_wa=0; fm_k=; fm_calm=',
  'set -f',
  'for fm_w in $fm_s; do',
  '  case $fm_k in pid) fm_pid=$fm_w;; lost) fm_lost=$fm_w;; backlog) fm_bl=$fm_w;; backlog_limit) fm_lim=$fm_w;; backlog_wait_time_actual) fm_wa=$fm_w;; esac',
  '  fm_k=$fm_w',
  'done',
  'set +f',
  'if [ "$fm_lost" = 0 ] && [ "$fm_wa" = 0 ] && [ "$fm_bl" -le "$fm_lim" ]; then fm_calm=1; fi 2>/dev/null',
].join('\n');

/**
 * The running kernel's CONFIG_HZ from /boot/config-RELEASE (Debian, Ubuntu, RHEL, Fedora and
 * SUSE ship it, readable by everyone): the tick rate backlog_wait_time and
 * backlog_wait_time_actual count in (reference §2). The line comes early in the file (processor
 * options), so the read stops there; still ~550 lines on Debian, ~8 ms of the host's CPU, so a
 * calm host ($fm_calm: no wait to convert) is spared it and gets the stock value of its
 * release, as does a host without the file ($fm_rc 2).
 */
const KERNEL_HZ = [
  'fm_rc=2',
  'if [ -n "$fm_calm" ]; then fm_rc=0; else',
  'fm_r=; read -r fm_r < /proc/sys/kernel/osrelease 2>/dev/null',
  'if [ -n "$fm_r" ] && [ -r "/boot/config-$fm_r" ]; then',
  '  fm_rc=0',
  `  while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in CONFIG_HZ=*) printf '%s\\n' "$fm_l"; break;; esac; done < "/boot/config-$fm_r"`,
  'else echo "cannot read /boot/config-$fm_r"; fi',
  'fi',
].join('\n');

/** The sections every sample reads with builtins, in order. */
export const BUILTIN_SECTIONS: readonly SectionSpec[] = [
  { name: 'meminfo', body: readFile('/proc/meminfo') },
  { name: 'cmdline', body: readLine('/proc/cmdline') },
  { name: 'uptime', body: readLine('/proc/uptime') },
  { name: 'boot_id', body: readLine('/proc/sys/kernel/random/boot_id') },
  { name: 'uname_r', body: readLine('/proc/sys/kernel/osrelease') },
  { name: 'kernel_hz', body: KERNEL_HZ },
  { name: 'os_release', body: readFile('/etc/os-release') },
  { name: 'auditd_conf', body: readFile('/etc/audit/auditd.conf') },
  { name: 'rules_b', body: RULES_B },
  { name: 'procs', body: PROCS },
  { name: 'auditd_unit', body: AUDITD_UNIT },
  { name: 'plugins', body: PLUGINS },
];

export interface FactsScriptOptions {
  /**
   * The script runs as root (root login, or become). The log is read with journalctl either
   * way (the kernel's and auditd's lines, JOURNAL_MATCH); only root falls back to dmesg on a
   * host without journalctl (Debian's dmesg_restrict refuses other users).
   */
  root: boolean;
}

/**
 * journalctl matches: the kernel's lines OR auditd's syslog lines. Matches on different fields
 * are ANDed unless separated by `+` (journalctl(1)); `-b` is ANDed with the whole group.
 */
export const JOURNAL_MATCH = '_TRANSPORT=kernel + SYSLOG_IDENTIFIER=auditd';

const indent = (text: string): string => text.split('\n').map((l) => `  ${l}`).join('\n');

function section(nonce: string, s: SectionSpec): string {
  return [`echo '${MARK}:${nonce}:begin:${s.name}'`, s.body, `echo "${MARK}:${nonce}:end:${s.name}:$fm_rc"`].join('\n');
}

function programSection(nonce: string, name: SectionName, command: string): string {
  return section(nonce, { name, body: `${command}\nfm_rc=$?` });
}

/** The whole script for one sample. `nonce` must be unpredictable by the host (random per run). */
export function buildFactsScript(nonce: string, opts: FactsScriptOptions = { root: true }): string {
  if (!/^[A-Za-z0-9]{8,64}$/.test(nonce)) throw new Error('nonce must be 8-64 alphanumerics');
  const journal = programSection(nonce, 'kernel_journal', `journalctl -b -q --no-pager -n ${KERNEL_LOG_LINES} ${JOURNAL_MATCH} 2>&1`);
  const reader = opts.root
    ? [
        'if command -v journalctl >/dev/null 2>&1; then',
        indent(journal),
        'else',
        indent(programSection(nonce, 'kernel_dmesg', 'dmesg 2>&1')),
        'fi',
      ].join('\n')
    : journal;
  const skipped = section(nonce, { name: 'skipped', body: `echo 'auditctl_l ${opts.root ? 'kernel_journal kernel_dmesg' : 'kernel_journal'}'\nfm_rc=0` });
  const lines = [
    'LC_ALL=C',
    'export LC_ALL',
    `echo '${MARK}:${nonce}:begin:auditctl_s'`,
    'fm_s=$(auditctl -s 2>&1)',
    'fm_rc=$?',
    `printf '%s\\n' "$fm_s"`,
    `echo "${MARK}:${nonce}:end:auditctl_s:$fm_rc"`,
    COUNTERS,
    ...BUILTIN_SECTIONS.map((s) => section(nonce, s)),
    // "lost 0" (multiline, -i) / "lost=0" (one-line): nothing the kernel log or the rule list
    // could add to the diagnosis. Any other status, including none, is worth the two programs
    // only when it names a lost counter at all, or when an active plugin may be overflowing.
    'fm_need=$fm_act',
    'case $fm_s in',
    '  *"lost 0"*|*"lost=0"*) ;;',
    '  *lost*) fm_need=1;;',
    'esac',
    'if [ "$fm_need" = 1 ]; then',
    indent(programSection(nonce, 'auditctl_l', 'auditctl -l 2>&1')),
    indent(reader),
    'else',
    indent(skipped),
    'fi',
  ];
  return lines.join('\n') + '\n';
}

export interface SectionOutput {
  /** Raw text between the markers (without the trailing newline before the end marker). */
  text: string;
  /** Exit status of the section's last pipeline element, or null if the end marker is missing. */
  rc: number | null;
}

export type SplitSections = Partial<Record<SectionName, SectionOutput>>;

/**
 * Splits the script's stdout into sections. Pure and total: truncated output yields the
 * sections seen so far (an unterminated one gets rc null); text outside markers is ignored.
 */
export function splitSections(stdout: string, nonce: string): SplitSections {
  const out: SplitSections = {};
  const begin = `${MARK}:${nonce}:begin:`;
  const end = `${MARK}:${nonce}:end:`;
  // One pass over the line starts, the section texts cut out of stdout as whole slices: no
  // array of every line (a host sending megabytes of short lines would cost tens of bytes each).
  let current: SectionName | null = null;
  let bodyStart = 0;
  const body = (to: number) => (to > bodyStart ? stdout.slice(bodyStart, to - 1) : '');
  let pos = 0;
  while (pos <= stdout.length) {
    const nl = stdout.indexOf('\n', pos);
    const lineEnd = nl === -1 ? stdout.length : nl;
    if (stdout.startsWith(begin, pos)) {
      if (current) out[current] = { text: body(pos), rc: null };
      current = stdout.slice(pos + begin.length, lineEnd).trim() as SectionName;
      bodyStart = lineEnd + 1;
    } else if (current && stdout.startsWith(end, pos)) {
      const rest = stdout.slice(pos + end.length, lineEnd);
      const rc = Number(rest.slice(rest.lastIndexOf(':') + 1));
      out[current] = { text: body(pos), rc: Number.isInteger(rc) ? rc : null };
      current = null;
    }
    if (nl === -1) break;
    pos = nl + 1;
  }
  if (current) out[current] = { text: bodyStart <= stdout.length ? stdout.slice(bodyStart) : '', rc: null };
  return out;
}

/** The sections the host skipped on purpose (the `skipped` section lists them). */
export function skippedSections(sections: SplitSections): Set<string> {
  return new Set((sections.skipped?.text ?? '').split(/\s+/).filter((s) => s !== ''));
}

/**
 * The section a cut-short sample did not finish: the one begun without an end marker, else the
 * one after the last complete section in script order (undefined when the script finished).
 */
export function unfinishedSection(sections: SplitSections): string | undefined {
  for (const [name, s] of Object.entries(sections)) if (s && s.rc === null) return name;
  const order: SectionName[] = ['auditctl_s', ...BUILTIN_SECTIONS.map((s) => s.name)];
  const missing = order.find((n) => sections[n] === undefined);
  if (missing) return missing;
  if (sections.skipped) return undefined;
  if (!sections.auditctl_l) return 'auditctl_l';
  if (!sections.kernel_dmesg && !sections.kernel_journal) return 'kernel log';
  return undefined;
}
