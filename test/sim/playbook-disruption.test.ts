/**
 * The disruption budget (issue 27 §5, `max_unavailable`) on the simulated fleet: a rolling
 * reboot never has more of the play's hosts down at once than allowed, counting a host that was
 * already down before the run (PodDisruptionBudget's rule), although `serial` alone would
 * reboot two at a time; with no slot left, healthy hosts are held, not rebooted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scenarioOf, simHarness, type SimHarness } from '../fixtures/playbooks/sim-harness.js';
import { DisruptionBudget, allowedUnavailable } from '../../src/executor/disruption.js';

const scenario = scenarioOf('disruption', (mk) => [
  { spec: mk.debian('d-down'), faults: [{ kind: 'down' }] },
  { spec: mk.debian('d-1') },
  { spec: mk.rhel('d-2') },
  { spec: mk.debian('d-3') },
  { spec: mk.debian('d-4') },
]);

let sim: SimHarness;
beforeAll(async () => {
  sim = await simHarness(scenario, { downtimeMs: 1500 });
}, 60_000);
afterAll(async () => {
  await sim?.stop();
});

const play = (maxUnavailable: string | number) => `- name: rolling reboot
  hosts: all
  become: true
  serial: 2
  # the host already down fails its batch's half: the rollout goes on (fleetmend's serial default stops on any failure)
  max_fail_percentage: 50
  max_unavailable: ${JSON.stringify(maxUnavailable)}
  tasks:
    - name: Reboot
      reboot: { reboot_timeout: 60 }
`;

/** The most healthy hosts down at the same time, from the machines' own power events. */
function watchDowntime(names: string[]): { peak: () => number; stop: () => void } {
  let down = 0;
  let peak = 0;
  const offs = names.map((n) =>
    sim.machine(n).kernel.onPower((ev) => {
      down += ev.kind === 'down' ? 1 : -1;
      peak = Math.max(peak, down);
    }),
  );
  return { peak: () => peak, stop: () => offs.forEach((f) => f()) };
}

describe('max_unavailable', () => {
  it('counts the host already down: with max_unavailable 2, one healthy host reboots at a time (serial 2 would take two)', async () => {
    const healthy = ['d-1', 'd-2', 'd-3', 'd-4'];
    const boots = Object.fromEntries(healthy.map((h) => [h, sim.machine(h).kernel.bootId]));
    const w = watchDowntime(healthy);
    const r = await sim.runText(play(2), { forks: 10 });
    w.stop();
    expect(w.peak()).toBe(1);
    for (const h of healthy) {
      expect(r.hosts.find((x) => x.host === h)!.status, h).toBe('changed');
      expect(sim.machine(h).kernel.bootId, h).not.toBe(boots[h]);
    }
    expect(r.hosts.find((x) => x.host === 'd-down')!.status).toBe('unreachable');
  }, 120_000);

  it('with no slot left (max_unavailable 1, one host down) the healthy hosts are held, none rebooted', async () => {
    const healthy = ['d-1', 'd-2', 'd-3', 'd-4'];
    const boots = Object.fromEntries(healthy.map((h) => [h, sim.machine(h).kernel.bootId]));
    const r = await sim.runText(play(1), { forks: 10 });
    for (const h of healthy) {
      const host = r.hosts.find((x) => x.host === h)!;
      expect(host.status, h).toBe('held');
      expect(host.error?.code, h).toBe('E_HELD');
      expect(host.tasks![0]!.msg, h).toMatch(/disruption budget: 1 of 5 hosts unavailable \(d-down unreachable \(E_CONNECT\)\); max_unavailable 1/);
      expect(sim.machine(h).kernel.bootId, h).toBe(boots[h]);
    }
  }, 60_000);
});

describe('DisruptionBudget', () => {
  it('rounds a percentage up as a PodDisruptionBudget does', () => {
    expect(allowedUnavailable({ kind: 'percent', p: 10 }, 5)).toBe(1);
    expect(allowedUnavailable({ kind: 'percent', p: 50 }, 5)).toBe(3);
    expect(allowedUnavailable({ kind: 'count', n: 2 }, 5)).toBe(2);
  });

  it('a host that ends broken keeps its slot; a fixed host that was down frees one', async () => {
    const b = new DisruptionBudget(2, 4, new Map([['x', 'auditd not draining (stopped)']]));
    expect(await b.admit('a')).toEqual({ ok: true });
    const waiting = b.admit('b');
    b.finished('a', 'failed'); // a is down now: x + a = 2, nobody in flight
    expect(await waiting).toMatchObject({ ok: false });
    expect(await b.admit('x')).toEqual({ ok: true }); // already counted: admitted
    b.finished('x', 'changed'); // fixed: its place comes back
    expect(await b.admit('c')).toEqual({ ok: true });
  });
});
