/**
 * The run-wide failure budget (issue 27; README "Rolling batches: what stops a rollout"): failed
 * and unreachable hosts counted over every host attempted so far in the run, across batches and
 * plays. Ansible's `max_fail_percentage` sees one batch only (ansible#6781: 99% with `serial: 1`
 * still stops on one failure, and twenty 1-host failures in twenty batches never add up); AWS
 * SSM's `MaxErrors` counts the whole run, as a count or a percentage, and lets the executions in
 * flight finish. This is SSM's rule: a host already running when the budget is exceeded finishes,
 * so the overshoot is at most the concurrency minus one, and the stop says how large it was.
 */
import { FleetmendError } from '../errors.js';

/** `N` hosts, or `P%` of the hosts attempted so far (applied only from MIN_SAMPLE hosts on). */
export type BudgetLimit = { kind: 'count'; n: number } | { kind: 'percent'; p: number };

/**
 * A percentage of 1 failure in 2 hosts is noise, not a signal: below this many hosts attempted a
 * percentage limit does not stop the run (a count limit always applies).
 */
export const MIN_SAMPLE = 10;

export interface BudgetLimits {
  /** Hosts `failed` (a task failed, a guard refused, a watch failed). */
  failures?: BudgetLimit;
  /** Hosts `unreachable`: their own budget, as a network partition is not a bad fix. */
  unreachable?: BudgetLimit;
}

/** `3` or `5%` (from `--max-failures`, `--max-unreachable` or a play's `max_failures`). */
export function parseBudgetLimit(text: string | number, where: string): BudgetLimit {
  const s = String(text).trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (pct && Number(pct[1]) <= 100) return { kind: 'percent', p: Number(pct[1]) };
  if (/^\d+$/.test(s)) return { kind: 'count', n: Number(s) };
  throw new FleetmendError('E_USAGE', `${where}: ${JSON.stringify(text)} is neither a host count (3) nor a percentage (0-100%, e.g. 5%)`);
}

export function describeLimit(l: BudgetLimit): string {
  return l.kind === 'count' ? String(l.n) : `${l.p}%`;
}

/** Whether `bad` of `attempted` hosts is more than the limit allows (strictly more, as Ansible). */
export function overLimit(l: BudgetLimit, bad: number, attempted: number): boolean {
  if (l.kind === 'count') return bad > l.n;
  return attempted >= MIN_SAMPLE && (bad / attempted) * 100 > l.p;
}

interface Breach {
  reason: string;
  /** Bad hosts (of the breached kind) when the budget was first exceeded. */
  badAtBreach: number;
  kind: 'failed' | 'unreachable';
}

/** One per run: every play's batches report their hosts here. */
export class FailureBudget {
  private readonly attempted = new Set<string>();
  private readonly failed = new Set<string>();
  private readonly unreachable = new Set<string>();
  private breach: Breach | undefined;

  /** `concurrency`: hosts that can be in flight at once (`-f`), the bound of the overshoot. */
  constructor(
    private readonly limits: BudgetLimits,
    private readonly concurrency: number,
  ) {}

  get exceeded(): string | undefined {
    return this.breach?.reason;
  }

  started(host: string): void {
    this.attempted.add(host);
  }

  /**
   * A host's final status in a play; then the run's limits and the play's (`max_failures`: the
   * stricter of the two wins, as both apply) are checked. The first breach is kept.
   */
  finished(host: string, status: string, play: BudgetLimits = {}): void {
    if (status === 'failed') this.failed.add(host);
    if (status === 'unreachable') this.unreachable.add(host);
    if (this.breach) return;
    const n = this.attempted.size;
    const check = (kind: 'failed' | 'unreachable', bad: number, limit: BudgetLimit | undefined, source: string) => {
      if (this.breach || !limit || !overLimit(limit, bad, n)) return;
      const pct = limit.kind === 'percent' ? ` (${((bad / n) * 100).toFixed(0)}%)` : '';
      this.breach = { kind, badAtBreach: bad, reason: `run-wide budget: ${bad} of ${n} hosts attempted ${kind}${pct} > ${source} ${describeLimit(limit)}` };
    };
    check('failed', this.failed.size, this.limits.failures, '--max-failures');
    check('failed', this.failed.size, play.failures, 'max_failures');
    check('unreachable', this.unreachable.size, this.limits.unreachable, '--max-unreachable');
  }

  /** The breach, once the hosts in flight finished: how far they overshot it, and the bound. */
  holdReason(): string | undefined {
    if (!this.breach) return undefined;
    const now = (this.breach.kind === 'failed' ? this.failed : this.unreachable).size;
    const over = now - this.breach.badAtBreach;
    return `${this.breach.reason}; hosts in flight finished: ${over} more ${this.breach.kind} (overshoot bound: ${Math.max(0, this.concurrency - 1)}, -f ${this.concurrency})`;
  }
}
