import type { Diagnosis } from '../diagnosis/types.js';
import type { HostFacts } from '../facts/types.js';
import type { HostResult, HostStatus } from './types.js';

/** The worse of two plays' statuses wins the host's (an unreachable host stays unreachable). */
// held above changed: a host that ran play 1 and was held before play 2 is not done (--resume redoes it)
const RANK: Record<HostStatus, number> = { skipped: 0, ok: 1, changed: 2, held: 3, interrupted: 4, failed: 5, unreachable: 6 };

/**
 * A host's result so far (`a`, undefined before its first play) with one more play's (`b`):
 * tasks appended, the worse status, the last error; facts and diagnosis are the host's latest.
 */
export function mergePlay(a: HostResult | undefined, b: HostResult, latest?: { facts?: HostFacts; diagnosis?: Diagnosis }): HostResult {
  const merged: HostResult = a
    ? {
        ...a,
        status: RANK[b.status] > RANK[a.status] ? b.status : a.status,
        finished_at: b.finished_at,
        tasks: [...(a.tasks ?? []), ...(b.tasks ?? [])],
        ...(b.error ? { error: b.error } : {}),
      }
    : { ...b };
  const samples = latest?.facts?.samples ?? [];
  const last = samples[samples.length - 1];
  if (latest?.facts) merged.facts = latest.facts;
  if (latest?.diagnosis) merged.diagnosis = latest.diagnosis;
  if (last?.auditctl.kind === 'ok') merged.audit = last.auditctl.status;
  return merged;
}
