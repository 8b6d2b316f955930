/**
 * Guards on what a file task writes (issue 23 item 7). Hardening content does not call
 * `auditctl`: it writes `-f 2`, `-e 2`, `-b N` into rules.d, `audit_backlog_limit=` into
 * /etc/default/grub and plugin/disk actions into auditd.conf, then loads them. Here the content
 * such a task would leave is parsed and judged with the auditctl module's own predicates
 * (panicRisks, memoryGuard), so a file task and a load command (`augenrules --load`,
 * `auditctl -R`, an auditd (re)start) are refused or flagged exactly where `auditctl` would be.
 * One place for the parsing and the verdicts; every file module and command/shell call it.
 */
import type { AuditStatus, FactSample } from '../facts/types.js';
import { parseAuditdConf, parseCmdline } from '../facts/system.js';
import { OVERFLOW_EFFECT } from '../diagnosis/diagnose.js';
import { memoryGuard, panicRisks, parsePersistRead, persistReadCommand } from './auditctl.js';
import { run, sampleStatus } from './common.js';
import { failed, type ModuleContext, type ModuleOutcome } from './types.js';

/** The settings a rules text sets; the last of each wins, as `auditctl -R` applies them in order. */
export interface RulesSettings {
  backlog_limit?: number;
  failure?: number;
  enabled?: number;
  backlog_wait_time?: number;
}

const RULE_OPTIONS: Record<string, keyof RulesSettings> = { '-b': 'backlog_limit', '-f': 'failure', '-e': 'enabled', '--backlog_wait_time': 'backlog_wait_time' };
const FLAG_OF: Record<keyof RulesSettings, string> = { backlog_limit: '-b', failure: '-f', enabled: '-e', backlog_wait_time: '--backlog_wait_time' };

export function parseRulesSettings(text: string): RulesSettings {
  const out: RulesSettings = {};
  for (const raw of text.split('\n')) {
    const m = /^\s*(-b|-f|-e|--backlog_wait_time)\s+(\d+)\s*(?:#.*)?$/.exec(raw);
    if (m) out[RULE_OPTIONS[m[1] as string] as keyof RulesSettings] = Number(m[2]);
  }
  return out;
}

/** Settings `after` sets differently from `before` (what a write introduces). */
export function introducedSettings(before: RulesSettings, after: RulesSettings): RulesSettings {
  const out: RulesSettings = {};
  for (const k of Object.keys(after) as (keyof RulesSettings)[]) if (after[k] !== before[k]) out[k] = after[k];
  return out;
}

export type AuditFileKind = 'rules' | 'grub' | 'auditd-conf';

/** Which audit file a path is (the files augenrules, auditd and grub-mkconfig read), if any. */
export function auditFileKind(path: string): AuditFileKind | undefined {
  if (/^\/etc\/audit\/rules\.d\/[^/]+\.rules$/.test(path) || path === '/etc/audit/audit.rules') return 'rules';
  if (path === '/etc/default/grub' || /^\/etc\/default\/grub\.d\/[^/]+\.cfg$/.test(path)) return 'grub';
  if (path === '/etc/audit/auditd.conf') return 'auditd-conf';
  return undefined;
}

/**
 * The `audit_backlog_limit=` the kernel line would get: grub-mkconfig's 10_linux writes
 * `${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}`, each variable's last assignment
 * counts, and the kernel takes the last occurrence of a parameter (parseCmdline).
 */
export function grubBacklogLimit(text: string): number | undefined {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=(?:"([^"]*)"|'([^']*)'|(\S*))/.exec(line);
    if (m) vars[m[1] as string] = m[2] ?? m[3] ?? m[4] ?? '';
  }
  const line = `${vars.GRUB_CMDLINE_LINUX ?? ''} ${vars.GRUB_CMDLINE_LINUX_DEFAULT ?? ''}`;
  const parsed = parseCmdline(line);
  return parsed.value?.cmdline_backlog_limit;
}

export interface FileVerdict {
  /** The task must not run: the outcome to report (check mode and apply alike). */
  refuse?: ModuleOutcome;
  warnings: string[];
  findings: Record<string, unknown>[];
}

const none = (): FileVerdict => ({ warnings: [], findings: [] });

/** The guards for writing `after` (over `before`, absent for a new file) to `path`. */
export async function auditFileGuards(ctx: ModuleContext, path: string, before: string | undefined, after: string | undefined): Promise<FileVerdict> {
  const kind = auditFileKind(path);
  if (kind === undefined || after === undefined) return none();
  if (kind === 'rules') {
    const settings = introducedSettings(parseRulesSettings(before ?? ''), parseRulesSettings(after));
    return Object.keys(settings).length ? rulesVerdict(ctx, settings, path) : none();
  }
  if (kind === 'grub') return grubVerdict(ctx, path, before ?? '', after);
  return auditdConfVerdict(path, before ?? '', after);
}

/** `settings` in numbers the runtime does not have yet (what loading them would change). */
function runtimeChanges(s: AuditStatus, settings: RulesSettings): (keyof RulesSettings)[] {
  return (Object.keys(settings) as (keyof RulesSettings)[]).filter((k) => settings[k] !== undefined && settings[k] !== s[k]);
}

const LOADS = 'the next `augenrules --load`, auditd start or restart (ExecStartPost runs augenrules), or reboot';

/**
 * The rules' settings judged as the auditctl module judges `auditctl -f/-e/-b` (reference §3–§5):
 * `-b` through the memory guard; `-f 2` refused on a host that is losing records or close to
 * it; `-e 2` flagged, and refused on a host that needs a fix first (once locked nothing can be
 * fixed until reboot). `where` names the file or the load command.
 */
export async function rulesVerdict(ctx: ModuleContext, settings: RulesSettings, where: string): Promise<FileVerdict> {
  const v = none();
  const first = await ctx.session.sample(ctx.become);
  const s1 = sampleStatus(ctx, first);
  const changes = runtimeChanges(s1, settings);
  const what = changes.map((k) => `${FLAG_OF[k]} ${settings[k]}`).join(', ');
  if (!changes.length) return v;
  if (settings.backlog_limit !== undefined && changes.includes('backlog_limit')) {
    const mem = memoryGuard(ctx, settings.backlog_limit, first.memory);
    if (typeof mem === 'string') v.warnings.push(mem);
    else if (mem) return { ...v, refuse: { ...mem, msg: `${where}: ${mem.msg}`, error: { code: 'E_GUARD', message: `${where}: ${mem.msg}` } } };
  }
  if (s1.enabled === 2) {
    v.warnings.push(`${where}: the audit configuration is locked until reboot (enabled 2): ${what} takes effect only at the next boot`);
    return v;
  }
  const toPanic = changes.includes('failure') && settings.failure === 2;
  const toLock = changes.includes('enabled') && settings.enabled === 2;
  if (!toPanic && !toLock) return v;
  const risks = await riskNow(ctx, s1);
  if (toPanic && risks.length) {
    return { ...v, refuse: failed('E_GUARD', `panic guard: refusing -f 2 in ${where}: ${LOADS} would apply failure 2 (panic) and panic this host: ${risks.join('; ')}`, { data: { settings } }) };
  }
  if (toLock && risks.length) {
    return {
      ...v,
      refuse: failed('E_GUARD', `lock guard: refusing -e 2 in ${where}: this host needs a fix first (${risks.join('; ')}), and once ${LOADS} locks the configuration no runtime fix (auditctl -b/-f, a rules reload) is possible until reboot`, { data: { settings } }),
    };
  }
  if (toLock) {
    v.warnings.push(`${where}: -e 2 locks the audit configuration until reboot once loaded (${LOADS})`);
    v.findings.push({ code: 'rules-lock', file: where });
  }
  return v;
}

/** A second sample after the guard interval: one cannot tell a busy host from one that stopped draining (§4). */
async function riskNow(ctx: ModuleContext, s1: AuditStatus): Promise<string[]> {
  await ctx.clock.sleep(ctx.guardSampleMs, ctx.session.signal);
  const second = await ctx.session.takeSample(ctx.become);
  if (second.error) throw second.error;
  const s2 = sampleStatus(ctx, second.sample);
  return panicRisks(s1, s2, second.sample.auditd.registered_pid_state);
}

/** grub: a new `audit_backlog_limit=` judged as any boot-time limit (bootBacklogVerdict). */
async function grubVerdict(ctx: ModuleContext, path: string, before: string, after: string): Promise<FileVerdict> {
  const limit = grubBacklogLimit(after);
  if (limit === undefined || limit === grubBacklogLimit(before)) return none();
  return bootBacklogVerdict(ctx, await ctx.session.sample(ctx.become), limit, path);
}

/**
 * A boot-time `audit_backlog_limit=` (a grub file, the kernel_cmdline module) judged as
 * `auditctl -b` is: through the memory guard (the early queue pins the same memory), and
 * reported when lower than the running limit. `where` names the file or the module. A host whose
 * audit status cannot be read is not compared (the limit applies at boot, not now).
 */
export function bootBacklogVerdict(ctx: ModuleContext, sample: FactSample, limit: number, where: string): FileVerdict {
  const v = none();
  const mem = memoryGuard(ctx, limit, sample.memory);
  if (typeof mem === 'string') v.warnings.push(mem);
  else if (mem) return { ...v, refuse: { ...mem, msg: `${where}: audit_backlog_limit=${limit}: ${mem.msg}` } };
  const runtime = sample.auditctl.kind === 'ok' ? sample.auditctl.status.backlog_limit : undefined;
  if (runtime !== undefined && limit < runtime) {
    // The kernel queues with this limit from boot until auditd's rules load (§5): a burst at
    // boot meets the lower limit, and with failure 2 the first loss panics during boot.
    v.warnings.push(`${where}: audit_backlog_limit=${limit} is lower than the runtime backlog_limit ${runtime}: after the boot configuration is regenerated and the host reboots, the queue holds only ${limit} records, below the running limit, until auditd loads its rules`);
    v.findings.push({ code: 'grub-backlog-limit-lower', file: where, grub: limit, runtime });
  }
  return v;
}

/** auditd.conf: the disk and plugin-queue actions a write sets, with what each does when it fires. */
function auditdConfVerdict(path: string, before: string, after: string): FileVerdict {
  const v = none();
  const b = parseAuditdConf(before, 0).value ?? {};
  const a = parseAuditdConf(after, 0).value ?? {};
  for (const key of ['disk_full_action', 'admin_space_left_action'] as const) {
    const act = (a[key] ?? '').split(' ')[0];
    if (a[key] === b[key] || !act) continue;
    if (act === 'HALT') v.warnings.push(`${path}: ${key} = HALT shuts the host down when /var/log/audit runs out of space`);
    if (act === 'SUSPEND') v.warnings.push(`${path}: ${key} = SUSPEND: auditd keeps reading but discards records when /var/log/audit is full (an incomplete trail, not counted in lost)`);
    if (act === 'HALT' || act === 'SUSPEND') v.findings.push({ code: 'auditd-disk-action', file: path, key, value: a[key] });
  }
  const overflow = (a.overflow_action ?? '').split(' ')[0] ?? '';
  if (a.overflow_action !== b.overflow_action && (overflow === 'HALT' || overflow === 'SINGLE')) {
    v.warnings.push(`${path}: overflow_action = ${overflow}: a full plugin queue ${OVERFLOW_EFFECT[overflow] ?? 'applies it'}`);
    v.findings.push({ code: 'auditd-overflow-action', file: path, value: overflow });
  }
  if (a.q_depth !== undefined && b.q_depth !== undefined && a.q_depth < b.q_depth) {
    // auditd.conf(5): q_depth only grows on SIGHUP; a lower one applies at the next restart
    v.warnings.push(`${path}: q_depth ${b.q_depth} -> ${a.q_depth}: a smaller plugin queue overflows sooner, and takes effect only at an auditd restart (a reload only grows it)`);
    v.findings.push({ code: 'auditd-q-depth-lower', file: path, before: b.q_depth, after: a.q_depth });
  }
  return v;
}

/**
 * Commands that load the audit rules, and which rules they load: `augenrules --load` and an
 * auditd (re)start (its ExecStartPost runs augenrules on both families) load rules.d;
 * `auditctl -R FILE` loads FILE.
 */
export function rulesLoadedBy(line: string): { what: string; file?: string } | undefined {
  const r = /\bauditctl\b[^;&|\n]*\s-R\s+(['"]?)(\/[^\s'";&|]+)\1/.exec(line);
  if (r) return { what: `auditctl -R ${r[2]}`, file: r[2] as string };
  if (/\baugenrules\s+--load\b/.test(line)) return { what: 'augenrules --load' };
  if (/\bsystemctl\s+(?:[-\w]+\s+)*(?:re)?start\s+(?:[-\w.@]+\s+)*['"]?auditd(?:\.service)?\b/.test(line)) return { what: 'an auditd start (ExecStartPost: augenrules --load)' };
  if (/\bservice\s+['"]?auditd['"]?\s+(?:re)?start\b/.test(line)) return { what: 'an auditd start (ExecStartPost: augenrules --load)' };
  return undefined;
}

/** The guards for a command that loads rules: the settings it would load, judged as a file task's. */
export async function loadCommandGuards(ctx: ModuleContext, line: string): Promise<FileVerdict> {
  const load = rulesLoadedBy(line);
  return load ? rulesLoadGuards(ctx, load) : none();
}

/** The rules a load reads (`file`, else rules.d as augenrules compiles it), judged by rulesVerdict. */
export async function rulesLoadGuards(ctx: ModuleContext, load: { what: string; file?: string }): Promise<FileVerdict> {
  const r = await run(ctx, persistReadCommand(load.file ?? '/dev/null'));
  const read = parsePersistRead(r.stdout);
  // rules.d option lines come as `file:line`, in glob (C-locale) order as augenrules reads them
  const text = load.file ? read.before : read.options.split('\n').map((l) => l.slice(l.indexOf(':') + 1)).join('\n');
  try {
    return await rulesVerdict(ctx, parseRulesSettings(text), load.what);
  } catch (err) {
    // no readable audit status (auditctl missing, not root): the command decides, the run is told
    return { warnings: [`${load.what}: the rules guards could not read the audit status (${err instanceof Error ? err.message : String(err)})`], findings: [] };
  }
}
