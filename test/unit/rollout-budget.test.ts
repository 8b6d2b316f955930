/**
 * The pure parts of issue 27: budget limits, the run-wide count, ramp and canary plans, the
 * held exit bit and the play keywords.
 */
import { describe, expect, it } from 'vitest';
import { FailureBudget, MIN_SAMPLE, overLimit, parseBudgetLimit } from '../../src/executor/budget.js';
import { exitCodeFor, summarize } from '../../src/results/index.js';
import type { HostResult } from '../../src/results/index.js';
import { planRollout, rampBatches } from '../../src/executor/batches.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { watchProblems } from '../../src/diagnosis/watch.js';
import type { FactSample } from '../../src/facts/types.js';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);
const sizes = (b: unknown[][]) => b.map((x) => x.length);

describe('budget limits', () => {
  it('parses a count or a percentage, and refuses anything else with E_USAGE', () => {
    expect(parseBudgetLimit('3', '--max-failures')).toEqual({ kind: 'count', n: 3 });
    expect(parseBudgetLimit(0, 'max_failures')).toEqual({ kind: 'count', n: 0 });
    expect(parseBudgetLimit(' 2.5% ', '--max-failures')).toEqual({ kind: 'percent', p: 2.5 });
    for (const bad of ['x', '-1', '150%', '3 hosts', '']) expect(() => parseBudgetLimit(bad, '--max-failures')).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });

  it('a count is exceeded past N; a percentage only from the minimum sample on, strictly greater', () => {
    expect(overLimit({ kind: 'count', n: 2 }, 2, 3)).toBe(false);
    expect(overLimit({ kind: 'count', n: 2 }, 3, 3)).toBe(true);
    expect(overLimit({ kind: 'percent', p: 10 }, 5, MIN_SAMPLE - 1)).toBe(false);
    expect(overLimit({ kind: 'percent', p: 10 }, 1, 10)).toBe(false);
    expect(overLimit({ kind: 'percent', p: 10 }, 2, 10)).toBe(true);
  });

  it('counts distinct hosts across plays; failures and unreachable hosts on separate budgets; the first breach is kept', () => {
    const b = new FailureBudget({ failures: { kind: 'count', n: 1 }, unreachable: { kind: 'count', n: 1 } }, 5);
    for (const h of ['a', 'b', 'c']) b.started(h);
    b.finished('a', 'unreachable');
    b.finished('b', 'failed');
    b.finished('b', 'failed'); // the same host again (a later play): still one failure
    expect(b.exceeded).toBeUndefined();
    b.finished('c', 'failed');
    expect(b.exceeded).toBe('run-wide budget: 2 of 3 hosts attempted failed > --max-failures 1');
    b.started('d');
    b.finished('d', 'failed');
    expect(b.holdReason()).toBe('run-wide budget: 2 of 3 hosts attempted failed > --max-failures 1; hosts in flight finished: 1 more failed (overshoot bound: 4, -f 5)');
  });

  it("a play's max_failures applies beside the run's limit (the stricter wins)", () => {
    const b = new FailureBudget({ failures: { kind: 'count', n: 5 } }, 1);
    b.started('a');
    b.finished('a', 'failed', { failures: { kind: 'count', n: 0 } });
    expect(b.exceeded).toBe('run-wide budget: 1 of 1 hosts attempted failed > max_failures 0');
  });
});

describe('canary and ramp plans', () => {
  it('ramp doubles up to forks', () => {
    expect(sizes(rampBatches(hosts(12), 4))).toEqual([1, 2, 4, 4, 1]);
    expect(sizes(rampBatches(hosts(20), 50))).toEqual([1, 2, 4, 8, 5]);
    expect(sizes(rampBatches(hosts(3), 1))).toEqual([1, 1, 1]);
  });

  it('a canary is one host first, then the play\'s serial over the rest; a one-host play has none', () => {
    expect(planRollout(hosts(10), 4, { canary: true })).toEqual({ canary: true, batches: [['h1'], ['h2', 'h3', 'h4', 'h5'], ['h6', 'h7', 'h8', 'h9'], ['h10']] });
    expect(sizes(planRollout(hosts(10), 'canary').batches)).toEqual([1, 9]);
    expect(sizes(planRollout(hosts(10), undefined, { canary: true }).batches)).toEqual([1, 9]);
    expect(sizes(planRollout(hosts(10), 'ramp', { canary: true, forks: 4 }).batches)).toEqual([1, 1, 2, 4, 2]);
    expect(planRollout(hosts(1), 'canary')).toEqual({ canary: false, batches: [['h1']] });
    expect(planRollout(hosts(5), 2)).toEqual({ canary: false, batches: [['h1', 'h2'], ['h3', 'h4'], ['h5']] });
  });

  it('the play keywords: serial canary/ramp and max_failures load; a bad value is a playbook error', () => {
    const pb = parsePlaybook('p.yml', '- hosts: all\n  serial: ramp\n  max_failures: "5%"\n  tasks: []\n- hosts: all\n  serial: canary\n  max_failures: 2\n  tasks: []\n');
    expect(pb.plays.map((p) => [p.serial, p.maxFailures])).toEqual([
      ['ramp', { kind: 'percent', p: 5 }],
      ['canary', { kind: 'count', n: 2 }],
    ]);
    expect(() => parsePlaybook('p.yml', '- hosts: all\n  serial: rampage\n  tasks: []\n')).toThrow();
    expect(() => parsePlaybook('p.yml', '- hosts: all\n  max_failures: lots\n  tasks: []\n')).toThrow(/max_failures/);
  });
});

describe('held exit code', () => {
  const r = (host: string, status: HostResult['status']): HostResult => ({ host, address: host, port: 22, status, started_at: '', finished_at: '' });
  it('adds 8 to what failed; no held key in a summary without held hosts', () => {
    const held = summarize([r('a', 'failed'), r('b', 'held'), r('c', 'held')]);
    expect(held).toMatchObject({ failed: 1, held: 2 });
    expect(exitCodeFor(held, false)).toBe(10);
    expect(exitCodeFor(summarize([r('a', 'unreachable'), r('b', 'held')]), false)).toBe(12);
    expect(exitCodeFor(held, true)).toBe(130);
    const plain = summarize([r('a', 'failed')]);
    expect('held' in plain).toBe(false);
    expect(exitCodeFor(plain, false)).toBe(2);
  });
});

describe('watchProblems (the watch after a changed host)', () => {
  const BOOT = '3f1c7a52-94e4-4a5c-9d0b-1f0e6c2b8d11';
  const sample = (o: { lost?: number; backlog?: number; limit?: number; state?: string; boot?: string; stalled?: number | null; auditctl?: 'ok' | 'not-permitted' } = {}): FactSample => ({
    taken_at: 0,
    auditctl:
      o.auditctl === 'not-permitted'
        ? { kind: 'not-permitted', detail: 'Operation not permitted' }
        : { kind: 'ok', status: { enabled: 1, failure: 1, pid: 412, rate_limit: 0, backlog_limit: o.limit ?? 8192, lost: o.lost ?? 5, backlog: o.backlog ?? 0, format: 'multiline', unknown_lines: [] } },
    kernel_log: {} as FactSample['kernel_log'],
    auditd: { registered_pid: 412, processes: [{ pid: 412, state: o.state ?? 'S' }], registered_pid_exists: true, registered_pid_state: o.state ?? 'S', init: { system: 'systemd' } },
    persistent: { rules_backlog_limits: [], auditd_conf: {} },
    system: o.boot === '' ? {} : { boot_id: o.boot ?? BOOT },
    ...(o.stalled === null ? {} : { stalled_tasks: { count: o.stalled ?? 0, by_wchan: {}, comms: o.stalled ? ['sshd'] : [] } }),
    parse_errors: [],
  });

  it('a fix that held: nothing to say', () => {
    expect(watchProblems(sample(), sample({ backlog: 10 }))).toEqual([]);
  });

  it('names each way a fix did not hold', () => {
    expect(watchProblems(sample(), sample({ lost: 90 }))).toEqual(['lost rose 5 -> 90']);
    expect(watchProblems(sample(), sample({ state: 'T' }))).toEqual(['not draining: auditd (pid 412) is stopped (state T)']);
    expect(watchProblems(sample({ limit: 64 }), sample({ limit: 64, backlog: 32 }))).toEqual(['backlog growing 0 -> 32', 'backlog 32 not below half the limit 64']);
    expect(watchProblems(sample(), sample({ stalled: 3 }))).toEqual(['3 task(s) asleep on the audit queue (sshd), 0 before the watch']);
    // leftovers of the stall the fix ended wake one per kauditd pass: not a failed fix
    expect(watchProblems(sample({ stalled: 4 }), sample({ stalled: 4 }))).toEqual([]);
    expect(watchProblems(sample(), sample({ boot: 'aaaaaaaa-94e4-4a5c-9d0b-1f0e6c2b8d11' }))).toEqual([`rebooted during the watch: boot_id ${BOOT} -> aaaaaaaa-94e4-4a5c-9d0b-1f0e6c2b8d11`]);
  });

  it('fail-closed: what the samples do not say is a failed watch', () => {
    expect(watchProblems(sample(), sample({ auditctl: 'not-permitted' }))).toEqual(['unreadable: auditctl -s not-permitted (Operation not permitted)']);
    expect(watchProblems(sample(), sample({ stalled: null }))).toEqual(['unreadable: the stalled-task scan did not finish']);
    expect(watchProblems(sample(), sample({ boot: '' }))).toEqual(['unreadable: boot_id']);
  });
});
