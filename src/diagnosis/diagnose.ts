/**
 * Facts (one or more samples of a host) → state and findings. Pure.
 *
 * The central fact (reference §4, fixtures README): the queue drains only when auditd reads it,
 * and a registered, non-zero pid does NOT prove that. Only the queue itself tells: a backlog at
 * limit+1 while `lost` grows is a stuck auditd, and the fix is to restart it. Raising the limit
 * there only moves the moment records are lost and pins more memory, so no finding here ever
 * recommends it for a host that is not draining.
 */
import { kernelLogShowsLoss } from '../facts/kernel-log.js';
import { sampleDeltas, type SampleDeltas } from '../facts/rates.js';
import type { AuditStatus, FactSample, HostFacts } from '../facts/types.js';
import { compareFindings, stateOf } from './severity.js';
import {
  BYTES_PER_BUFFER,
  AUDITD_CONF_DEFAULTS,
  MEMORY_SHARE,
  PLUGIN_FULL_READ_RATE,
  backlogGrowing,
  hostHz,
  limitBytes,
  ticksText,
  auditdStall,
} from './concepts.js';
import type { Diagnosis, Finding, Severity } from './types.js';

/** The kernel's limit without rules or boot parameter (§1). */
export const KERNEL_DEFAULT_BACKLOG_LIMIT = 64;
export interface DiagnoseContext {
  /** Share (0..1] of MemAvailable the backlog limit may pin; default MEMORY_SHARE (0.1), the guard's share. */
  memoryShare?: number;
}

interface View {
  latest: FactSample;
  status: AuditStatus;
  deltas: SampleDeltas | undefined;
  /** lost increased between samples. */
  losing: boolean;
  /** backlog at or above the limit (65 > 64 observed while stuck). */
  atLimit: boolean;
  /** The auditd side: why it cannot be draining, if we can tell. */
  notDraining?: { why: string; code: 'pid-0' | 'pid-gone' | 'stopped' | 'blocked-io' };
}

const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

/** The restart command for this host's init (§5: RefuseManualStop decides). */
function restartCommand(s: FactSample): string {
  const init = s.auditd.init;
  if (init.system === 'systemd' && init.refuse_manual_stop === false) return '`systemctl restart auditd`';
  if (init.refuse_manual_stop === true) return '`service auditd restart` (the unit refuses manual stop: RHEL family)';
  return '`service auditd restart`';
}

function auditctlFinding(s: FactSample): Finding | undefined {
  const o = s.auditctl;
  const detail = o.kind === 'ok' ? '' : o.detail;
  switch (o.kind) {
    case 'ok':
      return undefined;
    case 'missing':
      return {
        code: 'auditctl-missing',
        severity: 'medium',
        message: 'auditctl is not installed: the audit state cannot be read',
        evidence: { detail },
        action: 'install the audit userspace (auditd / audit package) or exclude the host',
        action_code: 'install-auditctl',
      };
    case 'not-permitted':
      return {
        code: 'auditctl-not-permitted',
        severity: 'medium',
        message: 'auditctl -s was refused: not running as root',
        evidence: { detail },
        action: 'run with become (sudo) so auditctl can read the status',
        action_code: 'use-become',
      };
    case 'unsupported':
      return {
        code: 'audit-unsupported',
        severity: 'low',
        message: 'the kernel has no audit support: there is no audit backlog to remediate',
        evidence: { detail },
        action: 'none on this host; exclude it from audit remediation',
        action_code: 'none',
      };
    case 'unparseable':
      return {
        code: 'auditctl-unparseable',
        severity: 'medium',
        message: 'auditctl -s printed something that is not an audit status',
        evidence: { detail },
        action: 'inspect the output of `auditctl -s` on the host',
        action_code: 'investigate',
      };
  }
}

export function notDraining(s: FactSample, status: AuditStatus): View['notDraining'] {
  if (status.pid === 0) return { why: 'no auditd registered (pid 0)', code: 'pid-0' };
  const a = s.auditd;
  if (a.ps_available !== false && !a.registered_pid_exists) {
    // Not an auditd process: gone, or another audit consumer (auditbeat, go-audit, osquery)
    // holds the audit socket; it must keep up, or nothing drains.
    return { why: `registered pid ${status.pid} is not a running auditd (gone, or another audit consumer such as auditbeat, go-audit or osquery)`, code: 'pid-gone' };
  }
  const stall = auditdStall(a.registered_pid_state);
  if (stall === 'stopped') return { why: `auditd (pid ${status.pid}) is stopped (state ${a.registered_pid_state})`, code: 'stopped' };
  if (stall === 'blocked-io') return { why: `auditd (pid ${status.pid}) is blocked in uninterruptible I/O (state D)`, code: 'blocked-io' };
  return undefined;
}

function lossFindings(v: View): Finding[] {
  const { status, deltas, latest } = v;
  const out: Finding[] = [];
  const stuck = v.atLimit || v.notDraining !== undefined;
  const restart = restartCommand(latest);
  if (v.losing && deltas) {
    const draining = !stuck && status.backlog < status.backlog_limit * 0.5;
    out.push({
      code: 'records-lost',
      // records disappearing right now is the most urgent fact on a host (the audit trail has
      // holes), so with the cause (backlog-growing, also critical) it names the state
      severity: 'critical',
      message: `${deltas.lost_delta} audit record${deltas.lost_delta === 1 ? '' : 's'} lost in ${deltas.interval_s}s (${(deltas.lost_per_s ?? 0).toFixed(1)}/s): the audit trail has holes`,
      evidence: {
        lost: status.lost,
        lost_delta: deltas.lost_delta,
        lost_per_s: deltas.lost_per_s,
        interval_s: deltas.interval_s,
        backlog: status.backlog,
        backlog_limit: status.backlog_limit,
      },
      ...(draining
        ? {
            action:
              'auditd drains but bursts overflow the queue: reduce noisy rules, or raise the limit persistently within memory headroom',
            action_code: 'tune-rules-or-limit' as const,
          }
        : {
            action: `restart auditd (${restart}) so it drains the queue; do not raise the backlog limit: it only delays the loss`,
            action_code: 'restart-auditd' as const,
          }),
    });
  } else if (!deltas && status.lost > 0) {
    // One sample cannot tell a loss that is happening from one that happened earlier since
    // boot. Kernel loss messages of this boot make it likely enough to report (medium); a bare
    // counter without them is history (low) and leaves the host healthy.
    const log = latest.kernel_log;
    const withLog = kernelLogShowsLoss(log);
    out.push({
      code: 'records-lost',
      severity: withLog ? 'medium' : 'low',
      message: withLog
        ? `lost=${status.lost} since boot and the kernel log shows audit loss; one sample cannot tell whether it continues`
        : `lost=${status.lost} since boot (no loss messages in the kernel log): records were lost earlier`,
      evidence: {
        lost: status.lost,
        samples: 1,
        kernel_source: log.source,
        backlog_exceeded_count: log.backlog_exceeded_count,
        retry_queue_overflow_count: log.retry_queue_overflow_count,
        hold_queue_overflow_count: log.hold_queue_overflow_count,
        last_kernel_lost: log.last_lost?.lost ?? null,
      },
      action: 'take a second sample a few seconds later to see whether lost still grows',
      action_code: 'resample',
    });
  }
  return out;
}

function backlogFinding(v: View): Finding | undefined {
  const { status, deltas } = v;
  const rising = deltas !== undefined && backlogGrowing(status.backlog - (deltas.backlog_delta ?? 0), status.backlog, status.backlog_limit);
  // A registered auditd that does not read (T or D): on kernel 6.1 kauditd moves the whole
  // queue to its retry queue every ≈0.6 s pass, so `backlog` reads anywhere from 0 to
  // limit+1 and most records vanish without a count (kernel-6.1-queue §0). Being stuck must
  // not wait for backlog to sit at the limit.
  const registeredStuck = status.enabled !== 0 && (v.notDraining?.code === 'stopped' || v.notDraining?.code === 'blocked-io');
  if (!v.atLimit && !rising && !registeredStuck) return undefined;
  return {
    code: 'backlog-growing',
    severity: v.losing ? 'critical' : 'high',
    message: v.atLimit
      ? `audit queue full: backlog ${status.backlog} of limit ${status.backlog_limit}; auditd is not draining${v.notDraining ? ` (${v.notDraining.why})` : ' although its pid is registered'}`
      : registeredStuck
        ? `the audit queue is not drained: ${v.notDraining?.why}; kauditd moves it to its retry queue and drops it about every 0.6 s, so backlog (${status.backlog} of ${status.backlog_limit} now) rises and falls while records are lost, mostly without a count`
        : `audit backlog growing: ${status.backlog} of ${status.backlog_limit} (+${deltas?.backlog_delta} in ${deltas?.interval_s}s)`,
    evidence: {
      backlog: status.backlog,
      backlog_limit: status.backlog_limit,
      backlog_delta: deltas?.backlog_delta ?? null,
      lost_delta: deltas?.lost_delta ?? null,
      pid: status.pid,
    },
    action: `restart auditd (${restartCommand(v.latest)}) so it drains the queue. Do NOT raise the backlog limit: while auditd is not draining that only delays the loss and pins more memory`,
    action_code: 'restart-auditd',
  };
}

function auditdFinding(v: View): Finding | undefined {
  const nd = v.notDraining;
  if (!nd || v.status.enabled === 0) return undefined;
  const init = v.latest.auditd.init;
  const stopped = nd.code === 'stopped';
  return {
    code: 'auditd-not-running',
    severity: v.losing ? 'critical' : 'high',
    message: `${nd.why}: nothing drains the audit queue${nd.code === 'pid-0' ? '; records go to the kernel log' : ''}`,
    evidence: {
      registered_pid: v.status.pid,
      registered_pid_exists: v.latest.auditd.registered_pid_exists,
      process_state: v.latest.auditd.registered_pid_state ?? null,
      active_state: init.active_state ?? null,
      backlog: v.status.backlog,
    },
    action: stopped
      ? `resume auditd (\`kill -CONT ${v.status.pid}\`) or restart it (${restartCommand(v.latest)})`
      : nd.code === 'blocked-io'
        ? `find what auditd waits on (\`cat /proc/${v.status.pid}/wchan\`, \`df /var/log/audit\`): it drains again only once its I/O returns`
        : `start auditd (${init.system === 'systemd' ? '`systemctl start auditd`' : '`service auditd start`'})`,
    action_code: stopped ? 'resume-auditd' : nd.code === 'pid-gone' || nd.code === 'blocked-io' ? 'restart-auditd' : 'start-auditd',
  };
}

function waitFinding(v: View): Finding | undefined {
  const { status, deltas } = v;
  const hz = hostHz(v.latest.system);
  const delta = deltas?.wait_actual_delta;
  const stalled = v.latest.stalled_tasks;
  if (stalled && stalled.count > 0) {
    // Seen directly in /proc (wchan audit_log_start): not a counter that may be history.
    return {
      code: 'tasks-stalled',
      severity: 'high',
      message: `${stalled.count} task${stalled.count === 1 ? ' is' : 's are'} asleep waiting for the audit queue (${Object.entries(stalled.by_wchan).map(([w, n]) => `${n} in ${w}`).join(', ')}): every new process start, SSH login and sudo on this host waits the same way, and may take tens of seconds`,
      evidence: {
        stalled_tasks: stalled.count,
        audit_log_start: stalled.by_wchan['audit_log_start'] ?? 0,
        audit_receive: stalled.by_wchan['audit_receive'] ?? 0,
        comms: stalled.comms.join(','),
        wait_actual_delta: delta ?? null,
        backlog_wait_time: status.backlog_wait_time ?? null,
        backlog: status.backlog,
        backlog_limit: status.backlog_limit,
      },
      action: `restart auditd (${restartCommand(v.latest)}) to drain the queue, without starting other programs on the host first; tasks already asleep stay blocked until woken or their wait (backlog_wait_time, in ticks) expires`,
      action_code: 'restart-auditd',
    };
  }
  if (delta !== null && delta !== undefined && delta > 0) {
    return {
      code: 'tasks-stalled',
      severity: 'high',
      message: `processes waited ${ticksText(delta, hz)} for the audit queue in ${deltas?.interval_s}s: the host feels frozen, SSH logins may take tens of seconds`,
      evidence: {
        wait_actual_delta: delta,
        wait_actual_per_s: deltas?.wait_actual_per_s ?? null,
        backlog_wait_time: status.backlog_wait_time ?? null,
        hz: hz ?? null,
        backlog_wait_time_s: hz && status.backlog_wait_time !== undefined ? status.backlog_wait_time / hz : null,
        backlog: status.backlog,
        backlog_limit: status.backlog_limit,
      },
      action: `restart auditd (${restartCommand(v.latest)}) to drain the queue; tasks already asleep stay blocked until a kauditd pass wakes them or their wait (backlog_wait_time ${status.backlog_wait_time === undefined ? 'ticks' : ticksText(status.backlog_wait_time, hz)}) expires`,
      action_code: 'restart-auditd',
    };
  }
  if (!deltas && (status.backlog_wait_time_actual ?? 0) > 0) {
    return {
      code: 'tasks-stalled',
      severity: 'low',
      message: `processes have waited ${ticksText(status.backlog_wait_time_actual ?? 0, hz)} for the audit queue since boot (one sample: not known whether still)`,
      evidence: { backlog_wait_time_actual: status.backlog_wait_time_actual ?? null, samples: 1 },
      action: 'take a second sample to see whether backlog_wait_time_actual still grows',
      action_code: 'resample',
    };
  }
  return undefined;
}

function modeFindings(v: View): Finding[] {
  const { status } = v;
  const out: Finding[] = [];
  if (status.enabled === 0) {
    out.push({
      code: 'audit-disabled',
      severity: 'high',
      message: 'auditing is disabled (enabled 0): nothing is recorded',
      evidence: { enabled: 0, cmdline_audit: v.latest.persistent.cmdline_audit ?? null },
      action: 'enable auditing (`auditctl -e 1`) once auditd is running and draining',
      action_code: 'enable-audit',
    });
  }
  if (status.enabled === 2) {
    out.push({
      code: 'config-locked',
      severity: 'medium',
      message: 'audit configuration locked (enabled 2): -b, -f, -e and rule changes fail until reboot; resuming or restarting auditd still works (its pid registration is not locked)',
      evidence: { enabled: 2 },
      action: 'to drain a stuck queue, resume (kill -CONT) or restart auditd now, which -e 2 allows; for -b, -f, -e or rule changes fix the persistent rules (rules.d) and reboot',
      action_code: 'reboot-to-unlock',
    });
  }
  if (status.failure === 2) {
    const danger = v.losing || v.atLimit;
    out.push({
      code: 'panic-mode',
      severity: danger ? 'critical' : 'medium',
      message: danger
        ? 'failure mode panic (-f 2) while the queue is full or losing records: the next lost record panics the host'
        : 'failure mode panic (-f 2): any lost audit record will panic the host',
      evidence: { failure: 2, backlog: status.backlog, backlog_limit: status.backlog_limit, losing: v.losing },
      action:
        'drain the queue first (restart auditd), and change -f only while backlog is low and lost is not growing: the change itself emits a record, which panics a host that cannot queue it',
      action_code: 'drain-before-changing-failure',
    });
  }
  return out;
}

function driftFinding(v: View): Finding | undefined {
  const p = v.latest.persistent;
  let target: number;
  let source: string;
  let reverts: string;
  if (p.effective_backlog_limit !== undefined) {
    target = p.effective_backlog_limit;
    source = 'rules';
    reverts = 'at the next auditd restart (rules are reloaded) or reboot';
  } else if (p.rules_searched) {
    target = p.cmdline_backlog_limit ?? KERNEL_DEFAULT_BACKLOG_LIMIT;
    source = p.cmdline_backlog_limit !== undefined ? 'cmdline' : 'kernel-default';
    reverts = 'at reboot (no -b in the rule files)';
  } else return undefined;
  if (v.status.backlog_limit === target) return undefined;
  return {
    code: 'limit-drift',
    severity: 'medium',
    message: `runtime backlog_limit ${v.status.backlog_limit} differs from the persistent ${target} (${source}): it reverts ${reverts}`,
    evidence: { runtime_backlog_limit: v.status.backlog_limit, persistent_backlog_limit: target, source },
    action: 'make the persistent configuration (-b in /etc/audit/rules.d) match the intended limit',
    action_code: 'persist-runtime-limit',
  };
}

function memoryFinding(v: View, share: number): Finding | undefined {
  const mem = v.latest.memory;
  if (!mem || mem.mem_available_kb <= 0) return undefined;
  const persistent = v.latest.persistent.effective_backlog_limit;
  const limit = Math.max(v.status.backlog_limit, persistent ?? 0);
  const bytes = limitBytes(limit);
  const available = mem.mem_available_kb * 1024;
  if (bytes <= available * share) return undefined;
  const pct = Math.round((bytes / available) * 100);
  return {
    code: 'memory-headroom',
    severity: bytes > available ? 'high' : 'medium',
    message: `backlog_limit ${limit} may pin ${mib(bytes)} MiB when the queue fills: ${pct}% of MemAvailable (${mib(available)} MiB)`,
    evidence: {
      backlog_limit: limit,
      limit_bytes: bytes,
      limit_mib: mib(bytes),
      mem_available_kb: mem.mem_available_kb,
      share_allowed: share,
      estimated_available: mem.mem_available_estimated ?? false,
    },
    action: `keep the limit under ${Math.floor((available * share) / BYTES_PER_BUFFER)} buffers on this host, and fix draining instead of raising it`,
    action_code: 'lower-backlog-limit',
  };
}

const STOPPING_ACTIONS = new Set(['SUSPEND', 'HALT']);

/**
 * audit=1 without audit_backlog_limit=: from boot until auditd loads its rules the limit is the
 * kernel default 64, and with audit=1 records that find no daemon go to the hold queue, which
 * overflows at that limit (`kauditd hold queue overflow`, lost++; a panic with -f 2).
 */
function bootLimitFinding(s: FactSample): Finding | undefined {
  const p = s.persistent;
  if (p.cmdline_audit !== 1 || p.cmdline_backlog_limit !== undefined) return undefined;
  return {
    code: 'boot-backlog-limit',
    severity: 'low',
    message: `audit=1 on the kernel command line without audit_backlog_limit=: early-boot records queue against the default limit ${KERNEL_DEFAULT_BACKLOG_LIMIT} until auditd starts, and the overflow is lost (kauditd hold queue overflow)`,
    evidence: { cmdline_audit: 1, cmdline_backlog_limit: null },
    action: 'add audit_backlog_limit=8192 (or the rules\' -b) to the kernel command line',
    action_code: 'set-boot-backlog-limit',
  };
}

/** Below this much free space in /var/log/audit the disk actions are about to matter. */
const LOW_LOG_SPACE_KB = 100 * 1024;

function diskActionFinding(v: View | undefined, s: FactSample): Finding | undefined {
  const conf = s.persistent.auditd_conf;
  const bad = (['disk_full_action', 'admin_space_left_action'] as const).filter((k) =>
    STOPPING_ACTIONS.has((conf[k] ?? '').split(' ')[0] ?? ''),
  );
  if (!bad.length) return undefined;
  const free = s.persistent.log_dir_free_kb;
  const low = free !== undefined && free < LOW_LOG_SPACE_KB;
  // SUSPEND stops writing, not reading: auditd keeps draining the kernel queue and discards
  // what it reads (auditd-event.c), so the trail loses records that `lost` never counts and
  // the queue stays small. It is never a cause of a full queue. HALT stops the machine.
  const what = bad.some((k) => (conf[k] ?? '').startsWith('HALT'))
    ? 'HALT shuts the host down when /var/log/audit runs out of space'
    : 'when /var/log/audit runs out of space auditd stops writing but keeps reading the kernel queue and discards the records: they are missing from the trail without being counted in lost, and the queue stays small (this never fills the queue)';
  return {
    code: 'auditd-disk-action',
    severity: low ? 'medium' : 'low',
    message: `${bad.map((k) => `${k} = ${conf[k]}`).join(', ')}: ${what}${low ? ` (only ${Math.round((free ?? 0) / 1024)} MiB free now)` : ''}`,
    evidence: {
      disk_full_action: conf.disk_full_action ?? null,
      admin_space_left_action: conf.admin_space_left_action ?? null,
      log_dir_free_kb: s.persistent.log_dir_free_kb ?? null,
      backlog: v?.status.backlog ?? null,
    },
    action: 'keep free space in /var/log/audit; choose ROTATE or KEEP_LOGS (or SYSLOG with a size-capped log) where a silently incomplete trail is worse than a rotated one',
    action_code: 'review-disk-actions',
  };
}

/** How each overflow_action treats the event that finds the plugin queue full (audisp/queue.c). */
export const OVERFLOW_EFFECT: Record<string, string> = {
  IGNORE: 'drops it for the plugins without a word',
  SYSLOG: 'drops it for the plugins and logs that for the first 5 drops only',
  SUSPEND: 'stops passing any event to the plugins until auditd is reloaded (SIGHUP) or restarted; auditd itself keeps reading and logging',
  SINGLE: 'drops it and switches the host to single-user mode (`init 1`)',
  HALT: 'drops it and halts the host (`init 0`)',
};

/**
 * Plugin back-pressure (auditd-plugins(5), audisp/queue.c): a plugin that cannot keep up fills
 * auditd's plugin queue (`q_depth` events). From then on every event auditd hands over waits
 * 4 × 2 ms before overflow_action applies, so auditd itself reads at most ~125 events/s: alive
 * (state S), registered, and too slow for the kernel queue, which fills behind it. Only
 * SUSPEND ends that cost, by feeding the plugins nothing more. A bigger q_depth absorbs bursts;
 * it does not help a plugin that is slower than the event rate (it only fills later).
 */
function pluginFinding(v: View | undefined, s: FactSample): Finding | undefined {
  const log = s.kernel_log;
  const fired = log.plugin_queue_full_count > 0 || log.plugin_queue_reporting_ended || log.plugin_queue_suspended || log.plugin_queue_runlevel_lines.length > 0;
  if (!fired) return undefined;
  const conf = s.persistent.auditd_conf;
  const action = (conf.overflow_action ?? AUDITD_CONF_DEFAULTS.overflow_action).split(' ')[0] ?? AUDITD_CONF_DEFAULTS.overflow_action;
  const depth = conf.q_depth ?? AUDITD_CONF_DEFAULTS.q_depth;
  const active = (s.persistent.plugins ?? []).filter((p) => p.active);
  const names = active.map((p) => p.path ?? p.file).join(', ');
  const state = s.auditd.registered_pid_state;
  const alive = v !== undefined && v.status.pid > 0 && v.notDraining === undefined && (state === undefined || /^[SR]$/.test(state));
  const stall = v !== undefined && ((s.stalled_tasks?.count ?? 0) > 0 || (v.deltas?.wait_actual_delta ?? 0) > 0 || v.losing || v.atLimit);
  const slowAuditd = alive && stall && !log.plugin_queue_suspended;
  const suspended = log.plugin_queue_suspended
    ? 'overflow_action SUSPEND fired: auditd keeps reading and logging, but passes nothing to its plugins until it is reloaded (SIGHUP) or restarted'
    : `each event auditd hands to the full queue waits 4 tries 2 ms apart, then overflow_action ${action} ${OVERFLOW_EFFECT[action] ?? 'applies'}: auditd reads at most ~${PLUGIN_FULL_READ_RATE} events/s from the kernel`;
  const dir = conf.plugin_dir && conf.plugin_dir !== AUDITD_CONF_DEFAULTS.plugin_dir ? ` (plugin_dir ${conf.plugin_dir} was not read)` : '';
  return {
    code: 'plugin-backpressure',
    severity: slowAuditd ? 'high' : 'medium',
    message: `auditd's plugin queue (q_depth ${depth}) overflowed: ${active.length ? `active plugin${active.length === 1 ? '' : 's'} ${names}` : 'a plugin'}${dir} did not keep up, so the plugins' copy of the trail (a SIEM, audisp-remote) has holes; ${suspended}${slowAuditd ? '. That is why auditd is alive (state S) yet the kernel queue is not drained and tasks wait on it' : ''}`,
    evidence: {
      plugins_active: active.length,
      plugins: names || null,
      q_depth: depth,
      overflow_action: action,
      plugin_queue_full_lines: log.plugin_queue_full_count,
      reporting_ended: log.plugin_queue_reporting_ended,
      suspended: log.plugin_queue_suspended,
      auditd_state: state ?? null,
      stalled_tasks: s.stalled_tasks?.count ?? null,
    },
    action: `make the slow plugin keep up (its destination, its own queue) or set \`active = no\` in its file and reload auditd (\`auditctl --signal HUP\`); raise q_depth to absorb bursts (a SIGHUP can only grow it; a plugin slower than the event rate fills any size); ${action === 'SUSPEND' ? 'SUSPEND keeps auditd fast but the plugins stay unfed until the reload' : 'overflow_action SUSPEND keeps auditd and the kernel queue moving at the cost of the plugin feed until a reload'}; SINGLE or HALT take the host down and suit only sites that require it`,
    action_code: 'fix-plugin-queue',
  };
}

/** Counters restarted between samples: loss and waits cannot be judged from these samples. */
function resetFinding(d: SampleDeltas | undefined): Finding | undefined {
  if (!d || (!d.boot_changed && !d.counter_reset)) return undefined;
  return {
    code: d.boot_changed ? 'host-rebooted' : 'counter-reset',
    severity: 'info',
    message: d.boot_changed
      ? 'the host rebooted between samples: lost and wait counters restarted, rates are not known'
      : 'an audit counter went down between samples: rates are not known',
    evidence: { boot_changed: d.boot_changed, counter_reset: d.counter_reset, interval_s: d.interval_s },
    action: 'take new samples after the reboot',
    action_code: 'resample',
  };
}

function finish(findings: Finding[]): Diagnosis {
  findings.sort(compareFindings);
  return { state: stateOf(findings), findings };
}

/** Diagnoses one host from its samples (oldest first). */
export function diagnose(facts: HostFacts, ctx: DiagnoseContext = {}): Diagnosis {
  const latest = facts.samples[facts.samples.length - 1];
  if (!latest) {
    return finish([
      {
        code: 'no-sample',
        severity: 'medium',
        message: 'no facts were collected',
        evidence: {},
        action: 'collect facts first',
        action_code: 'investigate',
      },
    ]);
  }
  const findings: Finding[] = [];
  const failed = auditctlFinding(latest);
  if (failed || latest.auditctl.kind !== 'ok') {
    if (failed) findings.push(failed);
    const disk = diskActionFinding(undefined, latest);
    if (disk) findings.push(disk);
    const plugin = pluginFinding(undefined, latest);
    if (plugin) findings.push(plugin);
    return finish(findings);
  }
  const status = latest.auditctl.status;
  const deltas = sampleDeltas(facts.samples);
  const v: View = {
    latest,
    status,
    deltas,
    losing: (deltas?.lost_delta ?? 0) > 0,
    atLimit: status.backlog_limit > 0 && status.backlog >= status.backlog_limit,
  };
  const nd = notDraining(latest, status);
  if (nd) v.notDraining = nd;
  const share = ctx.memoryShare !== undefined && ctx.memoryShare > 0 ? ctx.memoryShare : MEMORY_SHARE;
  const backlog = backlogFinding(v);
  const candidates: (Finding | undefined)[] = [
    ...modeFindings(v),
    auditdFinding(v),
    backlog,
    ...lossFindings(v),
    waitFinding(v),
    driftFinding(v),
    memoryFinding(v, share),
    diskActionFinding(v, latest),
    bootLimitFinding(latest),
    resetFinding(deltas),
  ];
  const plugin = pluginFinding(v, latest);
  if (plugin) candidates.push(plugin);
  for (const f of candidates) if (f) findings.push(f);
  if (plugin?.severity === 'high') {
    // auditd alive but slowed by its plugin queue: a restart empties that queue, so it helps
    // only until the slow plugin has filled it again.
    for (const f of findings) {
      if (f.code === 'tasks-stalled' || f.code === 'backlog-growing') f.action += '; auditd is alive but slowed by its full plugin queue (plugin-backpressure): a restart helps only until the plugin has filled it again';
    }
  }
  return finish(findings);
}

export type { Severity };
