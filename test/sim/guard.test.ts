/**
 * Guards on the simulated fleet, through the real SSH path: each guard refuses (or warns) in
 * check mode and in apply, whatever the playbook says, and the host is left as it was.
 */
import { describe, expect, it } from 'vitest';
import { DEBIAN_RULES } from '../../src/sim/machine.js';
import { scenarioOf, simHarnessForFile } from '../fixtures/playbooks/sim-harness.js';

const scenario = scenarioOf('guards', (mk) => [
  // the incident host: auditd stuck, wait 0, losing records (reference §3)
  {
    spec: {
      ...mk.debian('g-losing'),
      // -b 256: 500 rec/s overflow one 0.6-s kauditd pass (at 8192 nothing would be lost on 6.1)
      eventRate: 500,
      auditd: 'stuck',
      lost: 120_000,
      rulesD: { 'audit.rules': DEBIAN_RULES.replace('--backlog_wait_time 60000', '--backlog_wait_time 0').replace('-b 8192', '-b 256') },
      historyMs: 120_000,
    },
  },
  // stuck but nothing counted as lost yet (on 6.1 the backlog does not pile up: kauditd moves
  // it to the retry queue every pass, records vanish uncounted; only ps shows T)
  { spec: { ...mk.debian('g-growing'), eventRate: 40, auditd: 'stuck' } },
  // healthy and busy: a handful of records queued at any time
  { spec: { ...mk.debian('g-busy'), eventRate: 300 } },
  { spec: { ...mk.debian('g-smallmem'), memTotalKb: 1_000_000, memAvailableKb: 400_000 } },
  { spec: { ...mk.debian('g-locked'), rulesD: { 'audit.rules': DEBIAN_RULES, '99-finalize.rules': '-e 2\n' } } },
  { spec: { ...mk.debian('g-stopped'), auditd: 'stopped' } },
]);

const sim = simHarnessForFile(scenario);

const play = (hosts: string, tasks: string, extra = '') => `- name: guard\n  hosts: ${hosts}\n  become: true\n${extra}  tasks:\n${tasks}`;
const PANIC = play('all', '    - auditctl: { failure: 2 }\n');

describe('panic guard', () => {
  it('refuses failure 2 on a losing, a growing and a daemon-less host, in check mode and apply; the busy healthy host is not blocked', async () => {
    const losing = sim.snapshot('g-losing');
    const boot = sim.machine('g-losing').kernel.bootId;
    for (const check of [true, false]) {
      const r = await sim.runText(PANIC, { check, only: ['g-losing', 'g-growing', 'g-stopped', 'g-busy'] });
      const by = Object.fromEntries(r.hosts.map((h) => [h.host, h.tasks![0]!]));
      for (const h of ['g-losing', 'g-growing', 'g-stopped']) {
        expect(by[h]!.status, h).toBe('failed');
        expect(by[h]!.error?.code, h).toBe('E_GUARD');
        expect(by[h]!.msg, h).toMatch(/panic guard/);
      }
      expect(by['g-losing']!.msg).toMatch(/records are being lost/);
      expect(by['g-stopped']!.msg).toMatch(/pid 0/);
      expect(by['g-busy']!.status).toBe('changed');
    }
    // the incident host was never sent -f 2: it did not panic, same boot, same failure mode
    expect(sim.machine('g-losing').kernel.power).toBe('up');
    expect(sim.machine('g-losing').kernel.bootId).toBe(boot);
    expect(sim.machine('g-losing').kernel.settings.failure).toBe((losing as { settings: { failure: number } }).settings.failure);
    expect(sim.machine('g-busy').kernel.settings.failure).toBe(2);
    // control: the same change sent blindly (shell is not guarded) panics the simulated host
    const blind = await sim.runText(play('g-losing', '    - shell: auditctl -f 2\n'));
    // auditctl may return before the panic: the next pass that overflows (≤ 0.6 s) panics (T22)
    expect(['unreachable', 'failed', 'changed']).toContain(blind.hosts[0]!.status);
    await new Promise((r) => setTimeout(r, 1500));
    const k = sim.machine('g-losing').kernel;
    k.sync();
    expect(k.bootId === boot && k.power === 'up').toBe(false);
    expect(k.console.join('\n')).toMatch(/Kernel panic - not syncing: audit: backlog limit exceeded/);
  }, 60_000);
});

describe('memory guard', () => {
  it('refuses a limit whose buffers exceed 10% of MemAvailable, with the numbers; a play can lower the share', async () => {
    const before = sim.snapshot('g-smallmem');
    const r = await sim.runText(play('g-smallmem', '    - auditctl: { backlog_limit: 16384, persist: true }\n'));
    const t = r.hosts[0]!.tasks![0]!;
    expect(t.error?.code).toBe('E_GUARD');
    expect(t.msg).toMatch(/backlog_limit 16384 may pin 140\.2 MiB \(16384 x 8970 bytes\)/);
    expect(t.msg).toMatch(/10% of MemAvailable/);
    expect(sim.snapshot('g-smallmem')).toEqual(before);
    const ok = await sim.runText(play('g-smallmem', '    - auditctl: { backlog_limit: 4096 }\n'), { check: true });
    expect(ok.hosts[0]!.tasks![0]!.status).toBe('changed');
    const strict = await sim.runText(play('g-smallmem', '    - auditctl: { backlog_limit: 4096 }\n', '  memory_share: 0.05\n'), { check: true });
    expect(strict.hosts[0]!.tasks![0]!.error?.code).toBe('E_GUARD');
  }, 60_000);
});

describe('growth guard', () => {
  it('raising the limit on a growing host is done, with a warning that it only delays the failure', async () => {
    const r = await sim.runText(play('g-growing', '    - audit_status: { samples: 2, interval: 1 }\n    - auditctl: { backlog_limit: 16384 }\n'));
    const t = r.hosts[0]!.tasks![1]!;
    expect(t.status).toBe('changed');
    expect(t.warnings?.join('\n')).toMatch(/only delays the failure.*restart auditd/);
    expect(sim.machine('g-growing').kernel.settings.backlogLimit).toBe(16384);
  }, 60_000);
});

describe('lock guard', () => {
  it('every runtime change on an enabled-2 host fails "locked until reboot" and is never attempted', async () => {
    const before = sim.snapshot('g-locked');
    for (const check of [true, false]) {
      const r = await sim.runText(play('g-locked', '    - auditctl: { backlog_limit: 9000 }\n      ignore_errors: true\n    - auditctl: { failure: 0 }\n'), { check });
      const [a, b] = r.hosts[0]!.tasks!;
      for (const t of [a!, b!]) {
        expect(t.status).toBe('failed');
        expect(t.error?.code).toBe('E_GUARD');
        expect(t.msg).toMatch(/locked until reboot/);
      }
    }
    expect(sim.snapshot('g-locked')).toEqual(before);
  }, 60_000);
});

describe('reboot guard', () => {
  it('refuses to reboot every host of a multi-host play at once; nothing is scheduled', async () => {
    const r = await sim.runText(play('g-busy:g-smallmem', '    - reboot: { schedule: "+30" }\n'));
    expect(r.hosts.map((h) => h.tasks![0]!.error?.code)).toEqual(['E_GUARD', 'E_GUARD']);
    expect(r.hosts[0]!.tasks![0]!.msg).toMatch(/serial/);
    const checked = await sim.runText(play('g-busy:g-smallmem', '    - reboot: { schedule: "+30" }\n'), { check: true });
    expect(checked.hosts.map((h) => h.tasks![0]!.error?.code)).toEqual(['E_GUARD', 'E_GUARD']);
    const allowed = await sim.runText(
      play('g-busy:g-smallmem', '    - reboot: { schedule: "+30" }\n    - reboot: { cancel: true }\n', '  allow_parallel_reboot: true\n'),
    );
    expect(allowed.hosts.map((h) => h.status)).toEqual(['changed', 'changed']);
    expect(sim.machine('g-busy').kernel.power).toBe('up');
  }, 60_000);
});
