/**
 * The fact-collection script: ONE round trip per sample (reference §6). Each section is
 * introduced by a marker line carrying a per-run nonce, so host output can never forge a
 * section boundary, and is closed by a marker with the section's exit status.
 *
 * The script deliberately uses a small POSIX-sh subset, which is the contract with the
 * simulator's shell (src/sim/shell.ts): simple commands, quoted words, `;` and newlines,
 * `&&`, `||`, pipes, `2>&1`, `2>/dev/null`, `>/dev/null`, `$?`, and `*` globs in the last
 * path component. Every command it names has a simulator implementation.
 */
export interface SectionSpec {
  name: SectionName;
  command: string;
}

export type SectionName =
  | 'auditctl_s'
  | 'auditctl_l'
  | 'kernel_journal'
  | 'kernel_dmesg'
  | 'kernel_messages'
  | 'auditd_ps'
  | 'auditd_systemd'
  | 'meminfo'
  | 'rules_b'
  | 'cmdline'
  | 'auditd_conf'
  | 'log_df'
  | 'uname_r'
  | 'os_release'
  | 'boot_id'
  | 'uptime';

/** Kernel log lines kept per source: enough for counts and the last values, bounded. */
export const KERNEL_LOG_LINES = 400;

export const SECTIONS: readonly SectionSpec[] = [
  { name: 'auditctl_s', command: 'auditctl -s 2>&1' },
  { name: 'auditctl_l', command: 'auditctl -l 2>&1 | head -n 5000' },
  { name: 'kernel_journal', command: `journalctl -k -q --no-pager -b 2>/dev/null | grep -F audit | tail -n ${KERNEL_LOG_LINES}` },
  { name: 'kernel_dmesg', command: `dmesg 2>/dev/null | grep -F audit | tail -n ${KERNEL_LOG_LINES}` },
  {
    name: 'kernel_messages',
    command: `grep -hF audit /var/log/messages /var/log/kern.log 2>/dev/null | tail -n ${KERNEL_LOG_LINES}`,
  },
  { name: 'auditd_ps', command: 'ps -C auditd -o pid=,stat= 2>&1' },
  {
    name: 'auditd_systemd',
    command: 'systemctl show auditd -p ActiveState -p SubState -p MainPID -p RefuseManualStop 2>&1',
  },
  { name: 'meminfo', command: 'cat /proc/meminfo' },
  { name: 'rules_b', command: 'grep -H -e -b /etc/audit/rules.d/*.rules /etc/audit/audit.rules 2>/dev/null' },
  { name: 'cmdline', command: 'cat /proc/cmdline' },
  { name: 'auditd_conf', command: 'cat /etc/audit/auditd.conf 2>&1' },
  { name: 'log_df', command: 'df -Pk /var/log/audit 2>&1' },
  { name: 'uname_r', command: 'uname -r' },
  { name: 'os_release', command: 'cat /etc/os-release 2>&1' },
  { name: 'boot_id', command: 'cat /proc/sys/kernel/random/boot_id' },
  { name: 'uptime', command: 'cat /proc/uptime' },
];

const MARK = '@@fleetmend';

/** The whole script for one sample. `nonce` must be unpredictable by the host (random per run). */
export function buildFactsScript(nonce: string, sections: readonly SectionSpec[] = SECTIONS): string {
  if (!/^[A-Za-z0-9]{8,64}$/.test(nonce)) throw new Error('nonce must be 8-64 alphanumerics');
  const lines = ['LC_ALL=C', 'export LC_ALL', 'fm_out=$('];
  for (const s of sections) {
    lines.push(`echo '${MARK}:${nonce}:begin:${s.name}'`);
    lines.push(s.command);
    lines.push(`echo "${MARK}:${nonce}:end:${s.name}:$?"`);
  }
  // The sections' output is collected on the host and sent at once: one SSH data packet
  // instead of one per section (each a wakeup through ssh2's packet path on the runner; the
  // benchmark measured ~32 per host). A section that hangs loses nothing more than before: the
  // command times out either way.
  lines.push(')', `printf '%s\\n' "$fm_out"`);
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
  let current: SectionName | null = null;
  let buf: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith(begin)) {
      if (current) out[current] = { text: buf.join('\n'), rc: null };
      current = line.slice(begin.length).trim() as SectionName;
      buf = [];
    } else if (line.startsWith(end) && current) {
      const rest = line.slice(end.length);
      const colon = rest.lastIndexOf(':');
      const rc = Number(rest.slice(colon + 1));
      out[current] = { text: buf.join('\n'), rc: Number.isInteger(rc) ? rc : null };
      current = null;
      buf = [];
    } else if (current) {
      buf.push(line);
    }
  }
  if (current) out[current] = { text: buf.join('\n'), rc: null };
  return out;
}
