/**
 * Resuming a held run re-checks the hosts it had done (issue 27 §4: a marker is not proof): the
 * playbook runs on them in check mode first, a host whose fix no longer holds is redone, the
 * others are skipped; the held hosts run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { readStore } from '../helpers/store.js';
import { scenarioOf, simHarnessForFile } from '../fixtures/playbooks/sim-harness.js';

const NAMES = ['res-1', 'res-2', 'res-3', 'res-4', 'res-5', 'res-6'];
const sim = simHarnessForFile(scenarioOf('resume', (mk) => NAMES.map((n) => ({ spec: mk.debian(n) }))));
const dir = mkdtempSync(join(tmpdir(), 'fm-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MARK = '/etc/fleetmend-broken';
const CONF = '/etc/audit/auditd.conf';
const PLAYBOOK = `
- name: fix
  hosts: all
  become: true
  serial: 2
  tasks:
    - name: keep records when the disk fills
      auditd_conf: { settings: { disk_full_action: ROTATE } }
    - name: the part that fails on a broken host
      shell: test ! -e ${MARK}
`;

describe('--resume re-checks the hosts done before', () => {
  it('a done host whose fix was undone is redone; the others are skipped; the held hosts run', async () => {
    const pb = join(dir, 'fix.yml');
    writeFileSync(pb, PLAYBOOK);
    const stateDir = join(dir, 'state');
    const base = ['run', pb, '-i', sim.fleet.inventoryPath, '--known-hosts', sim.fleet.knownHostsPath, '--state-dir', stateDir, '-f', '2', '--max-failures', '0'];
    const original = sim.machine('res-1').fs.read(CONF, true);
    sim.machine('res-3').fs.put(MARK, 'x\n');
    const held = await runCli([...base, '--json', '-q']);
    expect(held.code, held.stderr).toBe(2 | 8);
    const runId = (JSON.parse(held.stdout) as { run: { id: string } }).run.id;
    const first = readStore(stateDir, (s) => s.getRun(runId));
    expect(first.hosts.filter((h) => h.status === 'held').map((h) => h.host).sort()).toEqual(['res-5', 'res-6']);

    // someone puts res-1's old auditd.conf back; res-3 is repaired
    sim.machine('res-1').fs.put(CONF, original);
    sim.machine('res-3').fs.remove(MARK, true);
    const resumed = await runCli([...base, '--resume', runId]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resume ${runId}: 3 host(s) done before; re-checked in check mode: 2 still hold, skipped; 1 redone: res-1 (would change again)`);
    const latest = readStore(stateDir, (s) => s.getRun(s.listRuns()[0]!.id));
    expect(latest.hosts.map((h) => h.host).sort()).toEqual(['res-1', 'res-3', 'res-5', 'res-6']);
    expect(latest.hosts.every((h) => h.status === 'changed')).toBe(true);
    expect(sim.machine('res-1').fs.read(CONF, true)).toMatch(/^disk_full_action = ROTATE$/m);
  }, 180_000);
});
