/**
 * Parsers for the small sections: memory, persistent configuration (reference §1, §6) and
 * system identity. Each is total and answers a sensible empty value plus an error string when
 * the input is not what the command prints.
 */
import type { AuditPlugin, MemInfo, PersistentConfig, SystemInfo } from './types.js';
import { describe, failed, linesOf, ok, toUint, type Parsed } from './text.js';

/** `/proc/meminfo`: `MemTotal:        1004548 kB`. */
export function parseMeminfo(text: string): Parsed<MemInfo | undefined> {
  const kb: Record<string, number> = {};
  for (const line of linesOf(text)) {
    const m = /^([A-Za-z()_]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    const n = toUint(m?.[2]);
    if (m && n !== undefined) kb[m[1] ?? ''] = n;
  }
  const total = kb['MemTotal'];
  if (total === undefined) return failed(undefined, `meminfo: no MemTotal (${describe(text)})`);
  const available = kb['MemAvailable'];
  if (available !== undefined) return ok({ mem_total_kb: total, mem_available_kb: available });
  // kernels before 3.14 have no MemAvailable: the classic estimate
  const estimate = (kb['MemFree'] ?? 0) + (kb['Buffers'] ?? 0) + (kb['Cached'] ?? 0);
  return ok({ mem_total_kb: total, mem_available_kb: estimate, mem_available_estimated: true });
}

export const AUDIT_RULES = '/etc/audit/audit.rules';

export interface RulesBacklog {
  rules_backlog_limits: { file: string; value: number }[];
  effective_backlog_limit?: number;
  searched: boolean;
}

/**
 * `grep -H -e -b <rules.d/*.rules> /etc/audit/audit.rules`: `file:-b 8192`. The pattern also
 * matches `--backlog_wait_time 60000` and any rule containing `-b`; only a line that IS a
 * `-b N` option counts. grep exits 1 for "no match" (searched, none found) and 2 on error.
 */
export function parseRulesBacklog(text: string, rc: number | null): Parsed<RulesBacklog> {
  const found: { file: string; value: number }[] = [];
  for (const line of linesOf(text)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const m = /^-b\s+(\d+)\s*(?:#.*)?$/.exec(line.slice(colon + 1).trim());
    const value = toUint(m?.[1]);
    if (value !== undefined) found.push({ file: line.slice(0, colon), value });
  }
  const result: RulesBacklog = { rules_backlog_limits: found, searched: rc === 0 || rc === 1 || found.length > 0 };
  const effective = effectiveBacklogLimit(found);
  if (effective !== undefined) result.effective_backlog_limit = effective;
  return ok(result);
}

/**
 * The limit that applies after the next auditd start or reboot: the last `-b` of
 * /etc/audit/audit.rules (what auditctl -R loads), else the last across rules.d files in
 * lexical order (the order augenrules concatenates them).
 */
export function effectiveBacklogLimit(found: readonly { file: string; value: number }[]): number | undefined {
  const main = found.filter((f) => f.file === AUDIT_RULES);
  if (main.length) return main[main.length - 1]?.value;
  const fromDir = found
    .map((f, i) => ({ ...f, i }))
    .filter((f) => f.file !== AUDIT_RULES)
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.i - b.i));
  return fromDir[fromDir.length - 1]?.value;
}

/** `/proc/cmdline`: `audit_backlog_limit=N`, `audit=0|1|off|on` (the last occurrence wins, as in the kernel). */
export function parseCmdline(text: string): Parsed<Pick<PersistentConfig, 'cmdline_backlog_limit' | 'cmdline_audit'>> {
  const out: Pick<PersistentConfig, 'cmdline_backlog_limit' | 'cmdline_audit'> = {};
  for (const word of text.trim().split(/\s+/)) {
    const limit = /^audit_backlog_limit=(\d+)$/.exec(word);
    if (limit) {
      const n = toUint(limit[1]);
      if (n !== undefined) out.cmdline_backlog_limit = n;
    }
    const audit = /^audit=(0|1|off|on)$/i.exec(word);
    if (audit) out.cmdline_audit = /^(1|on)$/i.test(audit[1] ?? '') ? 1 : 0;
  }
  return ok(out);
}

const CONF_KEYS = ['disk_full_action', 'space_left_action', 'admin_space_left_action', 'disk_error_action', 'overflow_action'] as const;

/**
 * `/etc/audit/auditd.conf`: `key = value`; action values are case-insensitive for auditd, kept
 * upper case. Also the plugin queue: `q_depth` (a number), `overflow_action`, `plugin_dir`.
 * auditd takes the last assignment of a key; so does this parser.
 */
export function parseAuditdConf(text: string, rc: number | null): Parsed<PersistentConfig['auditd_conf']> {
  const conf: PersistentConfig['auditd_conf'] = {};
  let pairs = 0;
  for (const line of linesOf(text)) {
    const m = /^\s*([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    pairs++;
    const key = m[1] ?? '';
    const value = m[2] ?? '';
    if ((CONF_KEYS as readonly string[]).includes(key) && value) {
      const [action, ...args] = value.split(/\s+/);
      conf[key as (typeof CONF_KEYS)[number]] = [action?.toUpperCase(), ...args].join(' ');
    } else if (key === 'q_depth') {
      const n = toUint(value);
      if (n !== undefined) conf.q_depth = n;
    } else if (key === 'plugin_dir' && value) conf.plugin_dir = value.slice(0, 200);
  }
  if (pairs === 0 && (text.trim() !== '' || (rc !== 0 && rc !== null))) {
    return failed(conf, `auditd.conf: ${describe(text)}`);
  }
  return ok(conf);
}

/**
 * The `plugins` section: `file:active = yes` / `file:path = /sbin/audisp-remote` lines of each
 * plugin file (auditd-plugins(5): keys and yes/no values case-insensitive). rc 1: no plugin
 * file could be read (none installed, or not root): undefined, not "no plugins".
 */
export function parsePlugins(text: string, rc: number | null): Parsed<AuditPlugin[] | undefined> {
  const byFile = new Map<string, AuditPlugin>();
  for (const line of linesOf(text)) {
    const m = /^(\/[^:]*\.conf):\s*(active|path)\s*=\s*(.*?)\s*$/i.exec(line);
    if (!m) continue;
    const file = m[1] ?? '';
    const p = byFile.get(file) ?? { file, active: false };
    if ((m[2] ?? '').toLowerCase() === 'active') p.active = (m[3] ?? '').toLowerCase() === 'yes';
    else if (m[3]) p.path = m[3].slice(0, 200);
    byFile.set(file, p);
  }
  if (rc === 0) return ok([...byFile.values()]);
  return ok(byFile.size ? [...byFile.values()] : undefined);
}

/**
 * `auditctl -l`: rules are lines starting with `-` (`-w ...`, `-a ...`); `No rules` = 0. The
 * script caps the listing at 5000 lines, so counts at that size are a lower bound.
 */
export function parseRuleCount(text: string, rc: number | null): Parsed<number | undefined> {
  if (rc === 127) return ok(undefined); // auditctl missing: reported once, by auditctl_s
  let count = 0;
  let noRules = false;
  for (const line of linesOf(text)) {
    const t = line.trim();
    if (t === 'No rules') noRules = true;
    else if (/^-[a-zA-Z]\s/.test(t)) count++;
  }
  if (count > 0 || noRules) return ok(count);
  return failed(undefined, `auditctl -l: ${describe(text)}`);
}

export function parseUname(text: string): Parsed<string | undefined> {
  const t = text.trim();
  return /^[A-Za-z0-9._+~-]{1,128}$/.test(t) ? ok(t) : failed(undefined, `uname -r: ${describe(text)}`);
}

/**
 * The `CONFIG_HZ=N` line of /boot/config-RELEASE. A host without the file (a container, a
 * custom kernel without its config) is not an error: the stock value of its release is used.
 */
export function parseKernelHz(text: string, rc: number | null): Parsed<number | undefined> {
  if (rc !== 0) return ok(undefined);
  const t = text.trim();
  if (t === '') return ok(undefined);
  const m = /^CONFIG_HZ=(\d{1,5})$/.exec(t);
  const hz = m ? Number(m[1]) : NaN;
  // the kernel's choices are 100, 250, 300 and 1000 (24 to 1200 on some architectures)
  return hz >= 10 && hz <= 10_000 ? ok(hz) : failed(undefined, `CONFIG_HZ: ${describe(text)}`);
}

function unquote(v: string): string {
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(v) ?? /^'([^']*)'$/.exec(v);
  return m ? (m[1] ?? '').replace(/\\(.)/g, '$1') : v;
}

/** `/etc/os-release`: shell-style `KEY=value`, `KEY="value"`. */
export function parseOsRelease(text: string): Parsed<SystemInfo['distribution'] | undefined> {
  const d: NonNullable<SystemInfo['distribution']> = {};
  for (const line of linesOf(text)) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const value = unquote(m[2] ?? '').slice(0, 200);
    if (m[1] === 'ID') d.id = value;
    else if (m[1] === 'VERSION_ID') d.version_id = value;
    else if (m[1] === 'PRETTY_NAME') d.pretty_name = value;
  }
  if (d.id === undefined && d.pretty_name === undefined) return failed(undefined, `os-release: ${describe(text)}`);
  return ok(d);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `/proc/sys/kernel/random/boot_id`, strictly one UUID and nothing else: a login banner or
 * a wall message in the output must not be taken for a boot id (§5: reboot verification).
 */
export function parseBootId(text: string): Parsed<string | undefined> {
  const t = text.trim();
  return UUID.test(t) ? ok(t.toLowerCase()) : failed(undefined, `boot_id is not a UUID: ${describe(text)}`);
}

/** `/proc/uptime`: `12345.67 23456.78` (seconds up, seconds idle). */
export function parseUptime(text: string): Parsed<number | undefined> {
  const m = /^(\d{1,12}(?:\.\d+)?)\s+\d{1,15}(?:\.\d+)?$/.exec(text.trim());
  return m ? ok(Number(m[1])) : failed(undefined, `uptime: ${describe(text)}`);
}
