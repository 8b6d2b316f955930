/**
 * schedule-reboot.yml on the simulated fleet: a rolling reboot (serial: 1) that verifies each
 * host (back, new boot_id, auditd running, backlog low) before the next batch; a host key that
 * changes across the reboot fails the host and stops the rollout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlaybookRunResult } from '../../src/playbook/run.js';
import { scenarioOf, simHarness, type SimHarness } from '../fixtures/playbooks/sim-harness.js';

const scenario = scenarioOf('reboot', (mk) => [
  { spec: mk.debian('rb-1') },
  { spec: mk.rhel('rb-2') },
  { spec: mk.debian('rb-3') },
  { spec: mk.debian('rb-4') },
]);

let sim: SimHarness;
beforeAll(async () => {
  sim = await simHarness(scenario, { downtimeMs: 1500 });
}, 60_000);
afterAll(async () => {
  await sim?.stop();
});

const statusOf = (r: PlaybookRunResult) => Object.fromEntries(r.hosts.map((h) => [h.host, h.status]));
const boots = (names: string[]) => Object.fromEntries(names.map((n) => [n, sim.machine(n).kernel.bootId]));
const vars = { extraVars: { reboot_timeout: 60 } };

describe('schedule-reboot.yml', () => {
  const only = ['rb-1', 'rb-2'];

  it('check mode predicts the reboots and reboots nothing', async () => {
    const before = boots(only);
    const r = await sim.run('schedule-reboot.yml', { ...vars, only, check: true });
    expect(Object.values(statusOf(r))).toEqual(['changed', 'changed']);
    expect(boots(only)).toEqual(before);
    expect(r.plays[0]!.batches).toEqual([['rb-1'], ['rb-2']]);
  }, 60_000);

  it('reboots one host at a time and verifies each before the next; a second run changes nothing', async () => {
    const before = boots(only);
    const order: string[] = [];
    const r = await sim.run('schedule-reboot.yml', {
      ...vars,
      only,
      onEvent: (e) => {
        if (e.type === 'task' && e.result.task === 'Verify the host is back, rebooted, auditd running, backlog low') order.push(`verified ${e.host}`);
        if (e.type === 'task' && e.result.task === 'Reboot') order.push(`rebooted ${e.host}`);
      },
    });
    expect(statusOf(r)).toEqual({ 'rb-1': 'changed', 'rb-2': 'changed' });
    expect(order).toEqual(['rebooted rb-1', 'verified rb-1', 'rebooted rb-2', 'verified rb-2']);
    for (const h of only) {
      expect(sim.machine(h).kernel.bootId).not.toBe(before[h]);
      const reboot = r.hosts.find((x) => x.host === h)!.tasks!.find((t) => t.task === 'Reboot')!;
      expect(reboot.msg).toMatch(/boot_id .* -> /);
      expect(r.hosts.find((x) => x.host === h)!.tasks!.every((t) => t.status !== 'failed')).toBe(true);
    }
    const again = await sim.run('schedule-reboot.yml', { ...vars, only });
    expect(statusOf(again)).toEqual({ 'rb-1': 'ok', 'rb-2': 'ok' });
    expect(again.recap.map((x) => x.changed)).toEqual([0, 0]);
  }, 120_000);

  it('a host key that changes across the reboot fails the host and stops the rollout; later hosts are not touched', async () => {
    const host = sim.fleet.host('rb-3');
    const off = host.model.onPower((ev) => {
      if (ev.kind === 'down') host.rekey();
    });
    const before = boots(['rb-4']);
    try {
      const r = await sim.run('schedule-reboot.yml', { ...vars, only: ['rb-3', 'rb-4'] });
      expect(statusOf(r)).toEqual({ 'rb-3': 'failed', 'rb-4': 'skipped' });
      const t = r.hosts[0]!.tasks!.find((x) => x.task === 'Reboot')!;
      expect(t.error?.code).toBe('E_HOSTKEY_CHANGED');
      expect(r.stopped).toMatchObject({ batch: 1, batches: 2 });
      expect(r.hosts[1]!.tasks![0]!.msg).toMatch(/not started: rollout stopped/);
      expect(boots(['rb-4'])).toEqual(before);
    } finally {
      off();
    }
  }, 120_000);
});
