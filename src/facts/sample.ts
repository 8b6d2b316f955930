/**
 * One round trip's sections → one FactSample. Total: a section that is missing or not
 * understood gives an empty default and a `parse_errors` entry; nothing is thrown.
 */
import { skippedSections, type SectionName, type SplitSections } from './script.js';
import type { AuditctlOutcome, FactSample, PersistentConfig, SystemInfo } from './types.js';
import { parseAuditctlStatus } from './auditctl.js';
import { chooseKernelLog, emptyKernelLog } from './kernel-log.js';
import { auditdFromProcs, combineAuditd, parseAuditdUnit, parseProcs, type ProcScan } from './auditd.js';
import {
  parseAuditdConf,
  parseBootId,
  parseCmdline,
  parseKernelHz,
  parseMeminfo,
  parseOsRelease,
  parsePlugins,
  parseRuleCount,
  parseRulesBacklog,
  parseUname,
  parseUptime,
} from './system.js';
import type { Parsed } from './text.js';

type Errors = FactSample['parse_errors'];

/** Runs a parser on a section, recording missing sections and parser complaints. */
function section<T>(
  sections: SplitSections,
  name: SectionName,
  fallback: T,
  errors: Errors,
  parse: (text: string, rc: number | null) => Parsed<T>,
): T {
  const s = sections[name];
  if (!s) {
    if (skippedSections(sections).has(name)) return fallback;
    errors.push({ section: name, message: 'section missing from the output (truncated?)' });
    return fallback;
  }
  try {
    const r = parse(s.text, s.rc);
    if (r.error !== undefined) errors.push({ section: name, message: r.error });
    return r.value;
  } catch (err) {
    // parsers are total; this is the belt to their braces
    errors.push({ section: name, message: `parser failed: ${err instanceof Error ? err.message : String(err)}` });
    return fallback;
  }
}

function auditctlOf(sections: SplitSections, errors: Errors): AuditctlOutcome {
  const s = sections.auditctl_s;
  if (!s) {
    errors.push({ section: 'auditctl_s', message: 'section missing from the output (truncated?)' });
    return { kind: 'unparseable', detail: 'no auditctl -s output' };
  }
  const outcome = parseAuditctlStatus(s.text, s.rc);
  if (outcome.kind === 'unparseable') errors.push({ section: 'auditctl_s', message: outcome.detail });
  return outcome;
}

function persistentOf(sections: SplitSections, errors: Errors): PersistentConfig {
  const rules = section(sections, 'rules_b', { rules_backlog_limits: [], searched: false }, errors, parseRulesBacklog);
  const cmdline = section(sections, 'cmdline', {}, errors, parseCmdline);
  const p: PersistentConfig = {
    rules_backlog_limits: rules.rules_backlog_limits,
    rules_searched: rules.searched,
    ...cmdline,
    auditd_conf: section(sections, 'auditd_conf', {}, errors, parseAuditdConf),
  };
  if (rules.effective_backlog_limit !== undefined) p.effective_backlog_limit = rules.effective_backlog_limit;
  const plugins = section(sections, 'plugins', undefined, errors, parsePlugins);
  if (plugins !== undefined) p.plugins = plugins;
  const rules_n = section(sections, 'auditctl_l', undefined, errors, parseRuleCount);
  if (rules_n !== undefined) p.rule_count = rules_n;
  return p;
}

function systemOf(sections: SplitSections, errors: Errors): SystemInfo {
  const sys: SystemInfo = {};
  const kernel = section(sections, 'uname_r', undefined, errors, parseUname);
  if (kernel !== undefined) sys.kernel_release = kernel;
  const hz = section(sections, 'kernel_hz', undefined, errors, parseKernelHz);
  if (hz !== undefined) sys.kernel_hz = hz;
  const dist = section(sections, 'os_release', undefined, errors, parseOsRelease);
  if (dist !== undefined) sys.distribution = dist;
  const boot = section(sections, 'boot_id', undefined, errors, parseBootId);
  if (boot !== undefined) sys.boot_id = boot;
  const up = section(sections, 'uptime', undefined, errors, parseUptime);
  if (up !== undefined) sys.uptime_seconds = up;
  return sys;
}

/** Parses one sample. `takenAt` is ms since epoch from the runner's clock. Never throws. */
export function parseSample(sections: SplitSections, takenAt: number): FactSample {
  const errors: Errors = [];
  let sample: FactSample;
  try {
    const auditctl = auditctlOf(sections, errors);
    const registered = auditctl.kind === 'ok' ? auditctl.status.pid : 0;
    const noScan: ProcScan = { processes: [], stalled: { count: 0, by_wchan: {}, comms: [] }, available: false };
    const scan = section(sections, 'procs', noScan, errors, parseProcs);
    const unit = section(sections, 'auditd_unit', {}, errors, parseAuditdUnit);
    sample = {
      taken_at: takenAt,
      auditctl,
      kernel_log: chooseKernelLog({
        journalctl: sections.kernel_journal?.text,
        dmesg: sections.kernel_dmesg?.text,
      }),
      auditd: auditdFromProcs(registered, scan, unit),
      persistent: persistentOf(sections, errors),
      system: systemOf(sections, errors),
      parse_errors: errors,
    };
    const memory = section(sections, 'meminfo', undefined, errors, parseMeminfo);
    if (memory) sample.memory = memory;
    if (scan.available) sample.stalled_tasks = scan.stalled;
  } catch (err) {
    errors.push({ section: '*', message: `sample parse failed: ${err instanceof Error ? err.message : String(err)}` });
    sample = {
      taken_at: takenAt,
      auditctl: { kind: 'unparseable', detail: 'sample parse failed' },
      kernel_log: emptyKernelLog(),
      auditd: combineAuditd(0, { processes: [], available: false }, { system: 'unknown' }),
      persistent: { rules_backlog_limits: [], auditd_conf: {} },
      system: {},
      parse_errors: errors,
    };
  }
  // The parsers slice their strings out of the whole command output; V8 keeps the parent
  // string alive for as long as any slice lives. A copy lets the raw output be collected, so a
  // sweep keeps ~1 KB per sample instead of the whole output (benchmark: 1,000 hosts).
  return structuredClone(sample);
}
