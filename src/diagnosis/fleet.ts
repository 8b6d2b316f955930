/**
 * Fleet outliers: the incident was noticed because other hosts had no loss at all. A host is
 * an outlier when its metric is far above its group's median, measured with a robust spread
 * (1.4826 × median absolute deviation) so that one sick host cannot hide itself by inflating
 * the spread, plus an absolute floor so that tiny differences on a quiet fleet are not news.
 */
import { sampleDeltas } from '../facts/rates.js';
import type { HostFacts } from '../facts/types.js';
import type { Diagnosis, Finding } from './types.js';

export interface FleetHost {
  host: string;
  group?: string;
  facts?: HostFacts;
  diagnosis?: Diagnosis;
}

/** Hosts needed in a group (the candidate included) before comparing makes sense. */
export const MIN_GROUP_SIZE = 3;
/** How many robust spreads above the median counts as far. */
export const OUTLIER_K = 4;

interface Metric {
  name: 'lost_per_s' | 'backlog_ratio';
  /** Absolute distance from the median below which nothing is reported. */
  floor: number;
  describe: (v: number) => string;
}

const METRICS: readonly Metric[] = [
  { name: 'lost_per_s', floor: 0.1, describe: (v) => `${v.toFixed(2)} lost records/s` },
  { name: 'backlog_ratio', floor: 0.2, describe: (v) => `backlog at ${Math.round(v * 100)}% of its limit` },
];

/**
 * lost_per_s: between samples when there are two, else `lost / uptime` (the average since
 * boot) — so single-sample sweeps still compare. backlog_ratio: backlog / backlog_limit now.
 */
function metricsOf(facts: HostFacts | undefined): Partial<Record<Metric['name'], number>> {
  const latest = facts?.samples[facts.samples.length - 1];
  if (!facts || !latest || latest.auditctl.kind !== 'ok') return {};
  const st = latest.auditctl.status;
  const out: Partial<Record<Metric['name'], number>> = {};
  const d = sampleDeltas(facts.samples);
  if (d && d.lost_per_s !== null) out.lost_per_s = d.lost_per_s;
  else if (!d && latest.system.uptime_seconds) out.lost_per_s = st.lost / latest.system.uptime_seconds;
  if (st.backlog_limit > 0) out.backlog_ratio = st.backlog / st.backlog_limit;
  return out;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Findings to append, by host (hosts without outlier findings are absent). */
export function diagnoseFleet(hosts: readonly FleetHost[]): Map<string, Finding[]> {
  const out = new Map<string, Finding[]>();
  const groups = new Map<string, { host: string; m: ReturnType<typeof metricsOf> }[]>();
  for (const h of hosts) {
    const key = h.group ?? '';
    const list = groups.get(key) ?? [];
    list.push({ host: h.host, m: metricsOf(h.facts) });
    groups.set(key, list);
  }
  for (const [group, members] of groups) {
    for (const metric of METRICS) {
      const values = members.flatMap((x) => (x.m[metric.name] === undefined ? [] : [{ host: x.host, v: x.m[metric.name] as number }]));
      if (values.length < MIN_GROUP_SIZE) continue;
      const med = median(values.map((x) => x.v));
      const spread = 1.4826 * median(values.map((x) => Math.abs(x.v - med)));
      const threshold = med + Math.max(OUTLIER_K * spread, metric.floor);
      for (const { host, v } of values) {
        if (v <= threshold) continue;
        const f: Finding = {
          code: 'fleet-outlier',
          severity: 'medium',
          message: `${metric.describe(v)} vs ${metric.describe(med)} typical in group ${group || '(all)'} (${values.length} hosts)`,
          evidence: { metric: metric.name, value: v, group_median: med, robust_spread: spread, threshold, group: group || null, group_size: values.length },
          action: 'compare this host with its peers: auditd state, rule set, workload',
          action_code: 'investigate',
        };
        out.set(host, [...(out.get(host) ?? []), f]);
      }
    }
  }
  return out;
}
