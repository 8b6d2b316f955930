/**
 * The health check before a play with `max_unavailable` (issue 27 §5): every host of the play
 * is sampled once through the run's probe, so the disruption budget starts from the hosts that
 * are already down (unreachable, unreadable, auditd not running or not draining). The
 * connections stay open for the play itself: on a stalled host a login costs seconds and adds
 * records to the full queue (kernel-6.1-queue §0), so it is not paid twice.
 */
import pLimit from 'p-limit';
import { auditdStall } from '../diagnosis/concepts.js';
import { DisruptionBudget, allowedUnavailable } from '../executor/disruption.js';
import type { BudgetLimit } from '../executor/budget.js';
import type { Clock } from '../executor/clock.js';
import { toFleetmendError } from '../errors.js';
import type { FactSample } from '../facts/types.js';
import { collectSample, type FactsProbe } from '../host/sample.js';
import type { Transport } from '../transport/types.js';

/** Why a sampled host counts as unavailable, or undefined when it is healthy. */
export function unavailableReason(s: FactSample): string | undefined {
  const registered = s.auditctl.kind === 'ok' ? s.auditctl.status.pid : undefined;
  if (registered === 0) return 'auditd not running (no pid registered)';
  const stall = auditdStall(s.auditd.registered_pid_state);
  if (stall) return `auditd not draining (${stall})`;
  return undefined;
}

export interface Preflight {
  budget: DisruptionBudget;
  /** Connections opened by the check, handed to the play (each taken once). */
  connections: Map<string, Transport>;
}

export async function preflightDisruption(
  hosts: readonly { name: string }[],
  limit: BudgetLimit,
  deps: { connect(host: { name: string }): Promise<Transport>; probe: FactsProbe; clock: Clock; become?: boolean; forks: number },
): Promise<Preflight> {
  const down = new Map<string, string>();
  const connections = new Map<string, Transport>();
  const limiter = pLimit(Math.max(1, deps.forks));
  await Promise.all(
    hosts.map((h) =>
      limiter(async () => {
        let t: Transport;
        try {
          t = await deps.connect(h);
        } catch (err) {
          down.set(h.name, `unreachable (${toFleetmendError(err, h.name).code})`);
          return;
        }
        connections.set(h.name, t);
        const got = await collectSample(t, deps.probe, deps.clock, deps.become);
        const why = got.error ? `unreadable (${got.error.code})` : unavailableReason(got.sample);
        if (why) down.set(h.name, why);
      }),
    ),
  );
  return { budget: new DisruptionBudget(allowedUnavailable(limit, hosts.length), hosts.length, down), connections };
}
