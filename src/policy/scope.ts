/**
 * The names a policy condition (or a playbook `when:` over facts) can use. Built from the
 * latest sample, the deltas between samples and the diagnosis. A fact that is not known is
 * `undefined` (never a made-up 0), so conditions over it are false and the control says why.
 *
 *   audit.available            true when `auditctl -s` was read
 *   audit.outcome              ok | missing | not-permitted | unsupported | unparseable
 *   audit.enabled / failure / pid / rate_limit / backlog_limit / backlog / lost
 *   audit.backlog_wait_time / backlog_wait_time_actual     (kernel ticks; may be undefined)
 *   audit.backlog_ratio        backlog / backlog_limit
 *   audit.format               multiline | interpreted | oneline
 *   rates.samples              number of samples with a status (always set)
 *   rates.interval_s / backlog_delta / lost_delta / wait_actual_delta / lost_per_s /
 *   rates.backlog_per_s / wait_actual_per_s       (need two samples; null across a reboot)
 *   rates.boot_changed / counter_reset
 *   auditd.running             registered pid > 0, exists (when ps works), not stopped (T)
 *   auditd.registered_pid / registered_pid_exists / state / process_count
 *   auditd.init / active_state / sub_state / main_pid / refuse_manual_stop
 *   persistent.effective_backlog_limit   last -b of audit.rules, else of rules.d
 *   persistent.reboot_backlog_limit      what applies after reboot: rules, else cmdline, else 64
 *   persistent.cmdline_backlog_limit / cmdline_audit / rule_count / log_dir_free_kb
 *   persistent.disk_full_action / space_left_action / admin_space_left_action / disk_error_action
 *                              (auditd's defaults when auditd.conf was read but lacks the key)
 *   memory.mem_total_kb / mem_available_kb / mem_available_bytes
 *   memory.backlog_limit_bytes  max(runtime, persistent limit) × 8970 (reference §4)
 *   kernel_log.source / backlog_exceeded_count / retry_queue_overflow_count /
 *   kernel_log.hold_queue_overflow_count / printk_skb_suppressed / log_start_suppressed /
 *   kernel_log.panic_count / last_lost
 *   system.kernel_release / os_id / os_version_id / boot_id / uptime_seconds
 *   diagnosis.state / diagnosis.severity (worst)
 *   findings                   list of finding codes, e.g. "limit-drift" in findings
 *   finding_severity           map code → severity
 *   parse_errors               list of section names that failed to parse
 */
import { sampleDeltas } from '../facts/rates.js';
import type { FactSample, HostFacts } from '../facts/types.js';
import { KERNEL_DEFAULT_BACKLOG_LIMIT } from '../diagnosis/diagnose.js';
import { AUDITD_CONF_DEFAULTS, limitBytes } from '../diagnosis/concepts.js';
import { worstSeverity } from '../diagnosis/severity.js';
import { auditdStall } from '../diagnosis/concepts.js';
import type { Diagnosis } from '../diagnosis/types.js';

export type PolicyScope = Record<string, unknown>;

/** auditd's own defaults for the disk actions, when auditd.conf was read but lacks the key. */
const { disk_full_action, space_left_action, admin_space_left_action, disk_error_action } = AUDITD_CONF_DEFAULTS;
const DISK_ACTION_DEFAULTS = { disk_full_action, space_left_action, admin_space_left_action, disk_error_action };

function auditScope(s: FactSample | undefined): Record<string, unknown> {
  const o = s?.auditctl;
  if (!o || o.kind !== 'ok') return { available: false, outcome: o?.kind ?? 'unparseable' };
  const st = o.status;
  return {
    available: true,
    outcome: 'ok',
    enabled: st.enabled,
    failure: st.failure,
    pid: st.pid,
    rate_limit: st.rate_limit,
    backlog_limit: st.backlog_limit,
    backlog: st.backlog,
    lost: st.lost,
    backlog_wait_time: st.backlog_wait_time,
    backlog_wait_time_actual: st.backlog_wait_time_actual,
    backlog_ratio: st.backlog_limit > 0 ? st.backlog / st.backlog_limit : undefined,
    format: st.format,
  };
}

function ratesScope(facts: HostFacts): Record<string, unknown> {
  const d = sampleDeltas(facts.samples);
  const samples = facts.samples.filter((s) => s.auditctl.kind === 'ok').length;
  return d ? { ...d, samples } : { samples };
}

function auditdScope(s: FactSample | undefined): Record<string, unknown> {
  if (!s) return {};
  const a = s.auditd;
  const known = s.auditctl.kind === 'ok';
  const stopped = auditdStall(a.registered_pid_state) === 'stopped';
  const exists = a.ps_available === false ? undefined : a.registered_pid_exists;
  return {
    running: known ? a.registered_pid > 0 && exists !== false && !stopped : undefined,
    registered_pid: known ? a.registered_pid : undefined,
    registered_pid_exists: exists,
    state: a.registered_pid_state,
    process_count: a.ps_available === false ? undefined : a.processes.length,
    init: a.init.system,
    active_state: a.init.active_state,
    sub_state: a.init.sub_state,
    main_pid: a.init.main_pid,
    refuse_manual_stop: a.init.refuse_manual_stop,
  };
}

function persistentScope(s: FactSample | undefined): Record<string, unknown> {
  if (!s) return {};
  const p = s.persistent;
  const confRead = !s.parse_errors.some((e) => e.section === 'auditd_conf') && Object.keys(p.auditd_conf).length > 0;
  const conf = confRead ? { ...DISK_ACTION_DEFAULTS, ...p.auditd_conf } : p.auditd_conf;
  return {
    effective_backlog_limit: p.effective_backlog_limit,
    reboot_backlog_limit:
      p.effective_backlog_limit ?? (p.rules_searched ? (p.cmdline_backlog_limit ?? KERNEL_DEFAULT_BACKLOG_LIMIT) : undefined),
    cmdline_backlog_limit: p.cmdline_backlog_limit,
    cmdline_audit: p.cmdline_audit,
    rule_count: p.rule_count,
    log_dir_free_kb: p.log_dir_free_kb,
    rules_backlog_limits: p.rules_backlog_limits.map((r) => ({ ...r })),
    ...conf,
  };
}

function memoryScope(s: FactSample | undefined): Record<string, unknown> {
  const m = s?.memory;
  if (!s || !m) return {};
  const runtime = s.auditctl.kind === 'ok' ? s.auditctl.status.backlog_limit : undefined;
  const persistent = s.persistent.effective_backlog_limit;
  const limit = runtime === undefined ? persistent : Math.max(runtime, persistent ?? 0);
  return {
    mem_total_kb: m.mem_total_kb,
    mem_available_kb: m.mem_available_kb,
    mem_available_bytes: m.mem_available_kb * 1024,
    mem_available_estimated: m.mem_available_estimated ?? false,
    backlog_limit_bytes: limit === undefined ? undefined : limitBytes(limit),
  };
}

function kernelScope(s: FactSample | undefined): Record<string, unknown> {
  if (!s) return {};
  const k = s.kernel_log;
  return {
    source: k.source,
    backlog_exceeded_count: k.backlog_exceeded_count,
    retry_queue_overflow_count: k.retry_queue_overflow_count,
    hold_queue_overflow_count: k.hold_queue_overflow_count,
    printk_skb_suppressed: k.printk_skb_suppressed,
    log_start_suppressed: k.log_start_suppressed,
    panic_count: k.panic_lines.length,
    last_lost: k.last_lost?.lost,
  };
}

function systemScope(s: FactSample | undefined): Record<string, unknown> {
  const sys = s?.system;
  if (!sys) return {};
  return {
    kernel_release: sys.kernel_release,
    os_id: sys.distribution?.id,
    os_version_id: sys.distribution?.version_id,
    boot_id: sys.boot_id,
    uptime_seconds: sys.uptime_seconds,
  };
}

/** The evaluation scope for one host (see the header for the names). */
export function policyScope(facts: HostFacts, diagnosis: Diagnosis): PolicyScope {
  const latest = facts.samples[facts.samples.length - 1];
  const severityByCode: Record<string, string> = {};
  for (const f of diagnosis.findings) if (!(f.code in severityByCode)) severityByCode[f.code] = f.severity;
  return {
    audit: auditScope(latest),
    rates: ratesScope(facts),
    auditd: auditdScope(latest),
    persistent: persistentScope(latest),
    memory: memoryScope(latest),
    kernel_log: kernelScope(latest),
    system: systemScope(latest),
    diagnosis: { state: diagnosis.state, severity: worstSeverity(diagnosis) },
    findings: diagnosis.findings.map((f) => f.code),
    finding_severity: severityByCode,
    parse_errors: latest ? latest.parse_errors.map((e) => e.section) : [],
  };
}

/** Why a scope name can be undefined, for "cannot be evaluated" messages. */
export function whyUnknown(path: string, scope: PolicyScope): string {
  const audit = scope['audit'] as { outcome?: string } | undefined;
  if (path.startsWith('audit.')) return `audit status unavailable (auditctl: ${audit?.outcome ?? 'unknown'})`;
  if (path.startsWith('rates.')) return 'needs two samples with an audit status';
  if (path.startsWith('auditd.')) return audit?.outcome === 'ok' ? 'auditd process state not known' : `audit status unavailable (auditctl: ${audit?.outcome ?? 'unknown'})`;
  if (path === 'persistent.effective_backlog_limit') return 'no -b found in /etc/audit/audit.rules or rules.d';
  if (path.startsWith('persistent.')) return 'persistent configuration not read';
  if (path.startsWith('memory.')) return '/proc/meminfo not read';
  return 'not known';
}
