/**
 * Two samples turn counters into rates (reference §6). `lost` and `backlog_wait_time_actual`
 * are counters since boot; `backlog` is a gauge. A reboot between samples resets the
 * counters: that is reported as `boot_changed`, never as a negative rate.
 */
import type { AuditStatus, FactSample } from './types.js';

export interface SampleDeltas {
  /** Seconds between the first and the last usable sample (runner clock). */
  interval_s: number;
  /** Samples the deltas span (first and last usable ones). */
  samples: number;
  /** backlog(last) - backlog(first); null when not comparable. */
  backlog_delta: number | null;
  lost_delta: number | null;
  /** In kernel ticks (§2); null when either sample lacks the field. */
  wait_actual_delta: number | null;
  lost_per_s: number | null;
  backlog_per_s: number | null;
  /** wait ticks accumulated per second of wall time. */
  wait_actual_per_s: number | null;
  /** boot_id differs (or uptime went backwards): counters restarted, deltas are null. */
  boot_changed: boolean;
  /** A counter went down without a detected reboot (wrap, or reboot without boot_id): deltas null. */
  counter_reset: boolean;
}

function statusOf(s: FactSample): AuditStatus | undefined {
  return s.auditctl.kind === 'ok' ? s.auditctl.status : undefined;
}

function bootChanged(a: FactSample, b: FactSample): boolean {
  const ia = a.system.boot_id;
  const ib = b.system.boot_id;
  if (ia !== undefined && ib !== undefined) return ia !== ib;
  const ua = a.system.uptime_seconds;
  const ub = b.system.uptime_seconds;
  return ua !== undefined && ub !== undefined && ub < ua;
}

function perSecond(delta: number | null, seconds: number): number | null {
  return delta === null || seconds <= 0 ? null : delta / seconds;
}

/**
 * Deltas between the first and the last sample that have an audit status (oldest first).
 * Undefined with fewer than two such samples.
 */
export function sampleDeltas(samples: readonly FactSample[]): SampleDeltas | undefined {
  const usable = samples.filter((s) => statusOf(s) !== undefined);
  const first = usable[0];
  const last = usable[usable.length - 1];
  if (!first || !last || usable.length < 2) return undefined;
  const a = statusOf(first) as AuditStatus;
  const b = statusOf(last) as AuditStatus;
  const interval_s = (last.taken_at - first.taken_at) / 1000;
  const boot_changed = usable.some((s, i) => i > 0 && bootChanged(usable[i - 1] as FactSample, s));
  const rawLost = b.lost - a.lost;
  const rawWait =
    a.backlog_wait_time_actual !== undefined && b.backlog_wait_time_actual !== undefined
      ? b.backlog_wait_time_actual - a.backlog_wait_time_actual
      : null;
  const counter_reset = !boot_changed && (rawLost < 0 || (rawWait !== null && rawWait < 0));
  const comparable = !boot_changed && !counter_reset;
  const backlog_delta = comparable ? b.backlog - a.backlog : null;
  const lost_delta = comparable ? rawLost : null;
  const wait_actual_delta = comparable ? rawWait : null;
  return {
    interval_s,
    samples: usable.length,
    backlog_delta,
    lost_delta,
    wait_actual_delta,
    lost_per_s: perSecond(lost_delta, interval_s),
    backlog_per_s: perSecond(backlog_delta, interval_s),
    wait_actual_per_s: perSecond(wait_actual_delta, interval_s),
    boot_changed,
    counter_reset,
  };
}
