/**
 * A finished sweep as Prometheus metric families. Pure: the run and its host results in,
 * families out. Labels are only `host` and `state` (both bounded by the inventory and the
 * diagnosis states), so the series count is fixed per host: nothing from a finding's text,
 * a kernel line or an error message becomes a label.
 */
import type { HostResult, RunInfo } from '../results/index.js';
import type { HostState } from '../diagnosis/types.js';
import type { SystemInfo } from '../facts/types.js';
import { STATE_PRECEDENCE, hostHz } from '../diagnosis/index.js';
import { family, type MetricFamily, type Sample } from './exposition.js';

/** Every diagnosis state, in a stable order (a host's state series has one 1 and the rest 0). */
export const METRIC_STATES: readonly HostState[] = [...STATE_PRECEDENCE].sort();

/**
 * The kernel's tick rate (CONFIG_HZ), which `backlog_wait_time_actual` counts in (reference
 * "backlog_wait_time units"): the host's own, read from /boot/config-RELEASE by the fact script,
 * or the stock value of its kernel release (diagnosis hostHz: the same HZ the findings quote).
 * Only when neither is known, the distribution's stock kernel: RHEL and its rebuilds and Fedora
 * build with HZ=1000; Ubuntu from 25.04 too; Debian, older Ubuntu, SUSE and anything unknown
 * are taken as 250. Not `getconf CLK_TCK`: that is USER_HZ, always 100, not the jiffy rate.
 */
export function kernelHz(system: SystemInfo | undefined): number {
  const known = hostHz(system);
  if (known !== undefined) return known;
  const id = system?.distribution?.id?.toLowerCase();
  if (id && ['rhel', 'centos', 'rocky', 'almalinux', 'ol', 'fedora'].includes(id)) return 1000;
  if (id === 'ubuntu' && versionAtLeast(system?.distribution?.version_id, 25.04)) return 1000;
  return 250;
}

function versionAtLeast(v: string | undefined, min: number): boolean {
  const n = v === undefined ? NaN : Number.parseFloat(v);
  return Number.isFinite(n) && n >= min;
}

function lastSystem(r: HostResult): SystemInfo | undefined {
  const samples = r.facts?.samples;
  return samples?.[samples.length - 1]?.system;
}

/** The host answered the fact script at least once: its values below are its own. */
function hostUp(r: HostResult): boolean {
  return (r.facts?.samples.length ?? 0) > 0;
}

const millis = (iso: string | undefined): number | undefined => {
  const ms = iso === undefined ? NaN : Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
};

type PerHost = (r: HostResult) => number | undefined;

function perHost(results: readonly HostResult[], value: PerHost): Sample[] {
  const out: Sample[] = [];
  for (const r of results) {
    const v = value(r);
    if (v !== undefined) out.push({ labels: { host: r.host }, value: v });
  }
  return out;
}

/**
 * The families of one finished sweep. A value the sweep could not read (an unreachable host,
 * auditctl missing, an old kernel without backlog_wait_time_actual) is absent rather than 0, so
 * `rate()` and alerts never see a fake reset; `fleetmend_host_up` says why it is absent.
 */
export function sweepFamilies(run: RunInfo, results: readonly HostResult[]): MetricFamily[] {
  const hosts = [...results].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  const audit = (pick: (a: NonNullable<HostResult['audit']>) => number | undefined): PerHost => (r) => (r.audit ? pick(r.audit) : undefined);
  // milliseconds until the end: (a - b) / 1000 prints 8.656, a / 1000 - b / 1000 8.656000137329102
  const started = millis(run.started_at);
  const finished = millis(run.finished_at);
  const byState = new Map<HostState, number>(METRIC_STATES.map((s) => [s, 0]));
  for (const r of hosts) if (r.diagnosis) byState.set(r.diagnosis.state, (byState.get(r.diagnosis.state) ?? 0) + 1);

  return [
    family({ name: 'fleetmend_host_up', type: 'gauge', help: '1 if the last sweep read the host (SSH and the fact script answered), 0 if not (unreachable, timed out).', samples: perHost(hosts, (r) => (hostUp(r) ? 1 : 0)) }),
    family({ name: 'fleetmend_audit_enabled', type: 'gauge', help: "Kernel audit 'enabled' flag: 0 off, 1 on, 2 on and locked until reboot.", samples: perHost(hosts, audit((a) => a.enabled)) }),
    family({ name: 'fleetmend_audit_failure_mode', type: 'gauge', help: "Kernel audit 'failure' mode when a record cannot be queued: 0 silent, 1 printk, 2 panic.", samples: perHost(hosts, audit((a) => a.failure)) }),
    family({ name: 'fleetmend_audit_backlog', type: 'gauge', help: 'Audit records queued in the kernel, waiting for auditd (auditctl -s backlog).', samples: perHost(hosts, audit((a) => a.backlog)) }),
    family({ name: 'fleetmend_audit_backlog_limit', type: 'gauge', help: 'Kernel audit queue limit in records (auditctl -s backlog_limit).', samples: perHost(hosts, audit((a) => a.backlog_limit)) }),
    family({ name: 'fleetmend_audit_lost_total', type: 'counter', help: 'Audit records the kernel dropped since boot (auditctl -s lost; resets on reboot).', samples: perHost(hosts, audit((a) => a.lost)) }),
    family({
      name: 'fleetmend_audit_backlog_wait_seconds_total',
      type: 'counter',
      unit: 'seconds',
      help: "Time tasks spent blocked on a full audit queue since boot: backlog_wait_time_actual ticks / the host's CONFIG_HZ (/boot/config-RELEASE; without it the distribution's stock HZ: 1000 for RHEL-family and Ubuntu >= 25.04, else 250).",
      samples: perHost(hosts, (r) => (r.audit?.backlog_wait_time_actual !== undefined ? r.audit.backlog_wait_time_actual / kernelHz(lastSystem(r)) : undefined)),
    }),
    family({
      name: 'fleetmend_host_state',
      type: 'gauge',
      help: "The host's diagnosed state: 1 for the current state, 0 for the others.",
      samples: hosts.flatMap((r) => (r.diagnosis ? METRIC_STATES.map((s) => ({ labels: { host: r.host, state: s }, value: r.diagnosis!.state === s ? 1 : 0 })) : [])),
    }),
    family({ name: 'fleetmend_host_compliant', type: 'gauge', help: '1 if the host passed every control of the compliance policy, 0 if not (absent without a policy).', samples: perHost(hosts, (r) => (r.compliance ? (r.compliance.compliant ? 1 : 0) : undefined)) }),
    family({ name: 'fleetmend_hosts', type: 'gauge', help: 'Hosts of the last sweep in each diagnosed state (unread hosts have no state).', samples: METRIC_STATES.map((s) => ({ labels: { state: s }, value: byState.get(s) ?? 0 })) }),
    family({ name: 'fleetmend_sweep_hosts', type: 'gauge', help: 'Hosts the last sweep targeted.', samples: [{ labels: {}, value: hosts.length }] }),
    family({
      name: 'fleetmend_sweep_duration_seconds',
      type: 'gauge',
      unit: 'seconds',
      help: 'Wall time of the last completed sweep.',
      samples: started !== undefined && finished !== undefined ? [{ labels: {}, value: (finished - started) / 1000 }] : [],
    }),
    family({
      name: 'fleetmend_sweep_last_success_timestamp_seconds',
      type: 'gauge',
      unit: 'seconds',
      help: 'Unix time the last completed (not interrupted) sweep finished; unreachable hosts do not make it fail (see fleetmend_host_up).',
      samples: finished !== undefined ? [{ labels: {}, value: finished / 1000 }] : [],
    }),
  ];
}
