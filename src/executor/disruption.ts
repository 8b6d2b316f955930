/**
 * The disruption budget (`max_unavailable: N|P%`, issue 27 §5): how many of a play's hosts may
 * be unavailable at once, counting the hosts that already were before the run (unreachable, or
 * auditd not draining) as Kubernetes' PodDisruptionBudget counts members already broken. A
 * rolling restart or reboot then never takes more of a group down than allowed, even when part
 * of it was down already: Ansible's `serial` bounds the batch, not the group's availability.
 *
 * A healthy host takes a slot while its play runs and gives it back when it ends healthy; a host
 * that ends failed or unreachable keeps it (it is down now). A host that was already unavailable
 * needs no slot (it is counted), and gives its place back if the play fixed it. When no slot is
 * free, a host waits for one held by a host in flight; when none is in flight, nothing can free
 * a slot, and the host is held (E_HELD) with the budget's arithmetic as the reason.
 */
import type { BudgetLimit } from './budget.js';

/** PDB's rounding: a percentage of the group rounds up (10% of 5 hosts allows 1). */
export function allowedUnavailable(limit: BudgetLimit, hostsInPlay: number): number {
  return limit.kind === 'count' ? limit.n : Math.ceil((limit.p / 100) * hostsInPlay);
}

export type Admission = { ok: true } | { ok: false; reason: string };

export class DisruptionBudget {
  private readonly down: Map<string, string>;
  private readonly inFlight = new Set<string>();
  private waiters: (() => void)[] = [];

  /** `down`: host → why it was unavailable before the run ("unreachable", "auditd not draining (stopped)"). */
  constructor(
    private readonly allowed: number,
    private readonly hostsInPlay: number,
    down: ReadonlyMap<string, string>,
    private readonly source = 'max_unavailable',
  ) {
    this.down = new Map(down);
  }

  get unavailable(): number {
    return this.down.size + this.inFlight.size;
  }

  /** Waits for a slot for a healthy host; a host already down is admitted at once. */
  async admit(host: string): Promise<Admission> {
    for (;;) {
      if (this.down.has(host)) return { ok: true };
      if (this.unavailable < this.allowed) {
        this.inFlight.add(host);
        return { ok: true };
      }
      if (this.inFlight.size === 0) return { ok: false, reason: this.reason() };
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** A host's play ended: a slot comes back unless the host is down now. */
  finished(host: string, status: string): void {
    const broken = status === 'failed' || status === 'unreachable';
    this.inFlight.delete(host);
    if (broken) this.down.set(host, this.down.get(host) ?? status);
    else this.down.delete(host);
    const w = this.waiters;
    this.waiters = [];
    for (const wake of w) wake();
  }

  private reason(): string {
    const why = [...this.down.entries()].slice(0, 5).map(([h, r]) => `${h} ${r}`);
    const more = this.down.size > why.length ? `, +${this.down.size - why.length} more` : '';
    return `disruption budget: ${this.down.size} of ${this.hostsInPlay} hosts unavailable (${why.join(', ')}${more}); ${this.source} ${this.allowed} leaves no host to take down`;
  }
}
