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
 *   auditd.* / persistent.* / memory.* / system.* / host.*
 *                              each registered fact's names, declared in its own file under
 *                              src/facts/defs/ (`exposes`); host.* (platform, distribution,
 *                              mounts, virtualization, service_mgr, cmdline) only when the
 *                              sample was gathered (gather_facts, setup)
 *   persistent.rule_count / log_dir_free_kb      (auditctl -l: the script's frame)
 *   kernel_log.source / backlog_exceeded_count / retry_queue_overflow_count /
 *   kernel_log.hold_queue_overflow_count / printk_skb_suppressed / log_start_suppressed /
 *   kernel_log.panic_count / last_lost
 *   diagnosis.state / diagnosis.severity (worst)
 *   findings                   list of finding codes, e.g. "limit-drift" in findings
 *   finding_severity           map code → severity
 *   parse_errors               list of section names that failed to parse
 */
import { sampleDeltas } from '../facts/rates.js';
import type { FactSample, HostFacts } from '../facts/types.js';
import { factScope } from '../facts/registry.js';
import { worstSeverity } from '../diagnosis/severity.js';
import type { Diagnosis } from '../diagnosis/types.js';

export type PolicyScope = Record<string, unknown>;

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

/** `auditctl -l` and the retired df figure: program-read values, not registered facts. */
function persistentProgramScope(s: FactSample | undefined): Record<string, unknown> {
  return s ? { rule_count: s.persistent.rule_count, log_dir_free_kb: s.persistent.log_dir_free_kb } : {};
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

/** The evaluation scope for one host (see the header for the names). */
export function policyScope(facts: HostFacts, diagnosis: Diagnosis): PolicyScope {
  const latest = facts.samples[facts.samples.length - 1];
  const severityByCode: Record<string, string> = {};
  for (const f of diagnosis.findings) if (!(f.code in severityByCode)) severityByCode[f.code] = f.severity;
  const groups = factScope(latest);
  return {
    ...groups,
    audit: auditScope(latest),
    rates: ratesScope(facts),
    persistent: { ...groups['persistent'], ...persistentProgramScope(latest) },
    kernel_log: kernelScope(latest),
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
