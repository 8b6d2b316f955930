/**
 * The kernel_cmdline module (issue 27 §6) on the simulated fleet, both families, through the
 * real SSH path: Debian edits GRUB_CMDLINE_LINUX and runs update-grub, RHEL edits every BLS
 * entry with grubby (and GRUB_CMDLINE_LINUX for later kernels). Check mode shows the diff and
 * changes nothing; apply is idempotent and says "reboot required"; the running kernel gets the
 * arguments only at the next boot, and the kernel model then boots with that backlog limit.
 * The memory guard holds audit_backlog_limit=; a value below the running limit is flagged;
 * audit=0 is refused.
 */
import { describe, expect, it } from 'vitest';
import { scenarioOf, simHarnessForFile } from '../fixtures/playbooks/sim-harness.js';
import { editCmdline, editGrubDefault, parseGrubbyInfo, satisfied } from '../../src/modules/kernel_cmdline.js';

const scenario = scenarioOf('kernel-cmdline', (mk) => [{ spec: mk.debian('k-deb') }, { spec: mk.rhel('k-rhel') }]);
const sim = simHarnessForFile(scenario);

const play = (args: string, extra = '') => `- name: cmdline\n  hosts: all\n  become: true\n  tasks:\n    - name: boot args\n      kernel_cmdline: ${args}\n${extra}`;
const ARGS = '{ args: { audit: 1, audit_backlog_limit: 16384 } }';
const grub = (h: string) => sim.machine(h).fs.read('/etc/default/grub', true);
const bls = (h: string) => {
  const fs = sim.machine(h).fs;
  return fs.list('/boot/loader/entries').map((n) => fs.read(`/boot/loader/entries/${n}`, true)).join('');
};
const task = (r: Awaited<ReturnType<typeof sim.runText>>, h: string) => r.hosts.find((x) => x.host === h)!.tasks![0]!;

describe('editing a command line', () => {
  it('sets each key once, in place, appends new ones, removes every occurrence', () => {
    expect(editCmdline('ro quiet audit=0 audit=0', ['audit=1', 'audit_backlog_limit=8192'], 'present')).toBe('ro quiet audit=1 audit_backlog_limit=8192');
    expect(editCmdline('ro audit=1 quiet audit_backlog_limit=64', ['audit=1', 'audit_backlog_limit=8192'], 'absent')).toBe('ro quiet');
    expect(satisfied('ro audit=1 audit_backlog_limit=8192', ['audit=1', 'audit_backlog_limit=8192'], 'present')).toBe(true);
    // the kernel keeps the last occurrence: an earlier right value does not count
    expect(satisfied('audit_backlog_limit=8192 audit_backlog_limit=64', ['audit_backlog_limit=8192'], 'present')).toBe(false);
  });

  it('edits the last GRUB_CMDLINE_LINUX assignment, keeps its quotes, adds one when missing', () => {
    const text = 'GRUB_CMDLINE_LINUX="a"\n# x\nGRUB_CMDLINE_LINUX=\'ro\'\nGRUB_TIMEOUT=5\n';
    expect(editGrubDefault(text, ['audit=1'], 'present')).toBe('GRUB_CMDLINE_LINUX="a"\n# x\nGRUB_CMDLINE_LINUX=\'ro audit=1\'\nGRUB_TIMEOUT=5\n');
    expect(editGrubDefault('GRUB_TIMEOUT=5\n', ['audit=1'], 'present')).toBe('GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="audit=1"\n');
    expect(editGrubDefault('GRUB_TIMEOUT=5\n', ['audit=1'], 'absent')).toBe('GRUB_TIMEOUT=5\n');
  });

  it('reads grubby --info=ALL; garbage gives no entries', () => {
    const info = 'index=0\nkernel="/boot/vmlinuz-5.14"\nargs="ro crashkernel=1G-4G:192M rhgb quiet"\nroot="/dev/x"\nindex=1\nkernel="/boot/vmlinuz-0-rescue"\nargs="ro"\n';
    expect(parseGrubbyInfo(info)).toEqual([
      { kernel: '/boot/vmlinuz-5.14', args: 'ro crashkernel=1G-4G:192M rhgb quiet' },
      { kernel: '/boot/vmlinuz-0-rescue', args: 'ro' },
    ]);
    expect(parseGrubbyInfo('\u0000garbage\nargs="x"\n')).toEqual([]);
  });
});

describe('kernel_cmdline on both families', () => {
  it('check: a diff per family, nothing changed; apply: set, reboot required; again: ok; the next boot has them', async () => {
    const before = { grub: grub('k-deb'), cfg: sim.machine('k-deb').fs.read('/boot/grub/grub.cfg', true), bls: bls('k-rhel') };
    const dry = await sim.runText(play(ARGS), { check: true, diff: true });
    const deb = task(dry, 'k-deb');
    expect(deb.status).toBe('changed');
    expect(deb.diff?.[0]?.path).toBe('/etc/default/grub');
    expect(deb.diff?.[0]?.after).toMatch(/^GRUB_CMDLINE_LINUX="audit=1 audit_backlog_limit=16384"$/m);
    const rhel = task(dry, 'k-rhel');
    expect(rhel.status).toBe('changed');
    expect(rhel.diff?.some((d) => /boot entry args/.test(d.path ?? '') && /audit=1 audit_backlog_limit=16384/.test(d.after))).toBe(true);
    expect(grub('k-deb')).toBe(before.grub);
    expect(bls('k-rhel')).toBe(before.bls);

    const r = await sim.runText(play(ARGS));
    for (const h of ['k-deb', 'k-rhel']) {
      expect(task(r, h).status, h).toBe('changed');
      expect(task(r, h).msg, h).toMatch(/reboot required/);
    }
    expect(sim.machine('k-deb').fs.read('/boot/grub/grub.cfg', true)).toMatch(/linux\t\/boot\/vmlinuz-\S+ .*audit=1 audit_backlog_limit=16384/);
    expect(sim.machine('k-deb').fs.read('/boot/grub/grub.cfg', true)).not.toBe(before.cfg);
    expect(bls('k-rhel')).toMatch(/^options .*audit=1 audit_backlog_limit=16384/m);
    expect(grub('k-rhel')).toMatch(/^GRUB_CMDLINE_LINUX=".*audit=1 audit_backlog_limit=16384"$/m);
    // the running kernel is unchanged until it boots again
    for (const h of ['k-deb', 'k-rhel']) expect(sim.machine(h).fs.read('/proc/cmdline', true)).not.toMatch(/audit_backlog_limit/);

    const again = await sim.runText(play(ARGS));
    for (const h of ['k-deb', 'k-rhel']) {
      expect(task(again, h).status, h).toBe('ok');
      expect(task(again, h).msg, h).toMatch(/reboot required/);
    }

    // verify_running fails before the reboot and holds after it; the kernel boots with the limit
    const verify = play('{ args: { audit: 1, audit_backlog_limit: 16384 }, verify_running: true }');
    const early = await sim.runText(verify);
    expect(task(early, 'k-deb').status).toBe('failed');
    expect(task(early, 'k-deb').msg).toMatch(/lacks audit=1 audit_backlog_limit=16384/);
    for (const h of ['k-deb', 'k-rhel']) sim.machine(h).kernel.powerCycle();
    for (const h of ['k-deb', 'k-rhel']) {
      expect(sim.machine(h).fs.read('/proc/cmdline', true)).toMatch(/ audit=1 audit_backlog_limit=16384/);

    }
    const late = await sim.runText(verify);
    for (const h of ['k-deb', 'k-rhel']) expect(task(late, h).status, h).toBe('ok');
  }, 120_000);

  it('absent removes them; the memory guard refuses a limit memory cannot hold; audit=0 is refused; a lower limit is flagged', async () => {
    const gone = await sim.runText(play('{ args: { audit_backlog_limit: 16384 }, state: absent }'));
    for (const h of ['k-deb', 'k-rhel']) expect(task(gone, h).status, h).toBe('changed');
    expect(grub('k-deb')).not.toMatch(/audit_backlog_limit/);
    expect(bls('k-rhel')).not.toMatch(/audit_backlog_limit/);

    const huge = await sim.runText(play('{ args: { audit_backlog_limit: 100000000 } }'), { check: true });
    for (const h of ['k-deb', 'k-rhel']) {
      expect(task(huge, h).status, h).toBe('failed');
      expect(task(huge, h).msg, h).toMatch(/memory guard/);
    }
    const off = await sim.runText(play('{ args: { audit: 0 } }'), { check: true });
    expect(task(off, 'k-deb').msg).toMatch(/audit=0 .*refused/);

    const low = await sim.runText(play('{ args: { audit_backlog_limit: 64 } }'), { check: true });
    const t = task(low, 'k-deb');
    expect(t.status).toBe('changed');
    expect(JSON.stringify(t.warnings ?? [])).toMatch(/below the running limit/);
  }, 120_000);

  it('refuses a value that would break out of GRUB_CMDLINE_LINUX at load', async () => {
    await expect(sim.runText(play('{ args: { audit: "1\\" ; reboot #" } }'))).rejects.toThrow(/characters a kernel argument/);
  });
});

describe('the shipped playbooks', () => {
  it('persist-backlog-limit.yml sets rules.d and the command line; schedule-reboot.yml verifies /proc/cmdline after the reboot', async () => {
    const only = ['k-deb'];
    const r = await sim.run('persist-backlog-limit.yml', { only, extraVars: { backlog_limit: 12288 } });
    const h = r.hosts[0]!;
    expect(h.status).toBe('changed');
    expect(sim.machine('k-deb').fs.read('/etc/audit/rules.d/zz-fleetmend-backlog.rules', true)).toMatch(/^-b 12288$/m);
    expect(grub('k-deb')).toMatch(/audit=1 audit_backlog_limit=12288/);
    const verify = { only, extraVars: { reboot_timeout: 60, min_uptime_seconds: 0, cmdline_args: { audit: 1, audit_backlog_limit: 12288 } } };
    const rb = await sim.run('schedule-reboot.yml', verify);
    const v = rb.hosts[0]!.tasks!.find((t) => t.task === "Verify the running kernel's command line")!;
    expect(v.status).toBe('ok');
    // a command line the boot did not get fails the host
    const wrong = await sim.run('schedule-reboot.yml', { ...verify, extraVars: { ...verify.extraVars, cmdline_args: { audit_backlog_limit: 99 } } });
    expect(wrong.hosts[0]!.tasks!.find((t) => t.task === "Verify the running kernel's command line")!.status).toBe('failed');
  }, 120_000);
});
