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
 *     the auditd unit's RefuseManualStop. Each such section is a registered fact, one file in
 *     defs/ (registry.ts); a gathering probe (`gather: true`: gather_facts, setup) adds the
 *     gathered facts' sections (hostname, /etc/hosts, /proc/mounts, DMI ids, …), builtins too.
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
import { builtinSections, FACTS, type SectionSpec } from './registry.js';
import { MARK, type SectionName, type SplitSections } from './script-sections.js';

export { splitSections, skippedSections, type SectionName, type SectionOutput, type SplitSections } from './script-sections.js';
export type { SectionSpec } from './registry.js';
export { STALL_WCHANS } from './defs/procs.js';
export { UNIT_FILES, UNIT_DROPINS } from './defs/auditd-unit.js';
export { PLUGIN_DIRS } from './defs/plugins.js';

/** The program sections of the script's frame, before and after the builtin ones. */
const FIRST = ['auditctl_s'] as const;
const LAST = ['auditctl_l', 'kernel_dmesg', 'kernel_journal', 'skipped'] as const;

/** Every section a (non-gathering) sample can have, in script order. */
export const SECTION_NAMES: readonly SectionName[] = [...FIRST, ...builtinSections(false).map((s) => s.name), ...LAST];

/** The sections only a gathering probe (gather_facts, setup) adds, in script order. */
export const GATHER_SECTION_NAMES: readonly SectionName[] = builtinSections(true)
  .map((s) => s.name)
  .filter((n) => FACTS.some((f) => f.name === n && f.gather));

/** Kernel log lines journalctl is asked for (dmesg has no such option: its ring buffer is bounded). */
export const KERNEL_LOG_LINES = 1000;

/** Programs one sample starts at most on a Linux host (auditctl -s, auditctl -l, the kernel-log reader). */
export const MAX_PROGRAMS_PER_SAMPLE = 3;

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

/** The sections every sample reads with builtins, in order (registry.ts). */
export const BUILTIN_SECTIONS: readonly SectionSpec[] = builtinSections(false);

export interface FactsScriptOptions {
  /**
   * The script runs as root (root login, or become). The log is read with journalctl either
   * way (the kernel's and auditd's lines, JOURNAL_MATCH); only root falls back to dmesg on a
   * host without journalctl (Debian's dmesg_restrict refuses other users).
   */
  root: boolean;
  /**
   * Also read the gathered facts (registry.ts: platform, distribution, mounts, …) for
   * `gather_facts`/`setup`: more builtin sections in the same round trip, no program more.
   */
  gather?: boolean;
  /**
   * Read the rule list and the kernel log when the status calls for them (the default). false:
   * a recheck after a change (apply's verification, polls) reads the status, memory and
   * auditd's state only: the log cannot change what a recheck decides, and on a host that lost
   * records it would cost two more program starts per poll, each waiting for the full queue.
   */
  logs?: boolean;
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
  const logs = [
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
  const lines = [
    'LC_ALL=C',
    'export LC_ALL',
    `echo '${MARK}:${nonce}:begin:auditctl_s'`,
    'fm_s=$(auditctl -s 2>&1)',
    'fm_rc=$?',
    `printf '%s\\n' "$fm_s"`,
    `echo "${MARK}:${nonce}:end:auditctl_s:$fm_rc"`,
    COUNTERS,
    ...builtinSections(opts.gather ?? false).map((s) => section(nonce, s)),
    ...(opts.logs === false ? [skipped] : logs),
  ];
  return lines.join('\n') + '\n';
}

/**
 * The section a cut-short sample did not finish: the one begun without an end marker, else the
 * one after the last complete section in script order (undefined when the script finished).
 */
export function unfinishedSection(sections: SplitSections): string | undefined {
  for (const [name, s] of Object.entries(sections)) if (s && s.rc === null) return name;
  const gathered = GATHER_SECTION_NAMES.some((n) => sections[n] !== undefined);
  const order: SectionName[] = ['auditctl_s', ...builtinSections(gathered).map((s) => s.name)];
  const missing = order.find((n) => sections[n] === undefined);
  if (missing) return missing;
  if (sections.skipped) return undefined;
  if (!sections.auditctl_l) return 'auditctl_l';
  if (!sections.kernel_dmesg && !sections.kernel_journal) return 'kernel log';
  return undefined;
}

/**
 * The script of facts read only when a task asks (package_facts, service_facts): their sections,
 * framed like the probe's, in one round trip of their own. Not the probe: these may start the
 * program they need (rpm, systemctl), because an operator asked for exactly that.
 */
export function buildOnDemandScript(nonce: string, facts: readonly SectionSpec[]): string {
  if (!/^[A-Za-z0-9]{8,64}$/.test(nonce)) throw new Error('nonce must be 8-64 alphanumerics');
  return ['LC_ALL=C', 'export LC_ALL', ...facts.map((s) => section(nonce, s))].join('\n') + '\n';
}
