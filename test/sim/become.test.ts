import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simHarness, type SimHarness } from '../fixtures/playbooks/sim-harness.js';

// Ansible's precedence: the connection's ansible_become applies unless the play or task says
// otherwise; `become: false` on a task turns sudo off, `become: true` turns it on.
describe('become precedence on the simulated fleet (db-01: user fleet, ansible_become: true)', () => {
  let h: SimHarness;
  beforeAll(async () => {
    h = await simHarness('incident');
  });
  afterAll(async () => {
    await h?.stop();
  });

  const uidOf = async (yaml: string) => {
    const r = await h.runText(yaml, { only: ['db-01'] });
    const host = r.hosts.find((x) => x.host === 'db-01')!;
    expect(host.status, JSON.stringify(host.error)).not.toBe('failed');
    return host.tasks!.map((t) => t.stdout?.trim());
  };

  it('a play without `become` follows the inventory (sudo), and a task can turn it off', async () => {
    const out = await uidOf(`
- name: who
  hosts: db-01
  tasks:
    - name: default
      shell:
        cmd: id -u
    - name: off
      shell:
        cmd: id -u
      become: false
`);
    expect(out[0]).toBe('0');
    expect(out[1]).not.toBe('0');
    expect(out[1]).toMatch(/^\d+$/);
  });
});
