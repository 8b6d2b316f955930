import { describe, expect, it } from 'vitest';
import { parsePlaybook } from '../../src/playbook/load.js';
import { runPlaybook, type RunPlaybookOptions } from '../../src/playbook/run.js';
import { rolloutDecision } from '../../src/playbook/rollout.js';
import type { PlaybookHost } from '../../src/playbook/protocol.js';
import { formatRecap } from '../../src/playbook/recap.js';
import type { RunEvent } from '../../src/results/index.js';
import { FleetmendError } from '../../src/errors.js';
import { FakeHost, FakeTransport } from '../fixtures/playbooks/fake-host.js';

function fleet(n: number, setup: (h: FakeHost, i: number) => void = () => undefined) {
  const hosts = new Map<string, FakeHost>();
  const list: PlaybookHost[] = [];
  for (let i = 1; i <= n; i++) {
    const h = new FakeHost();
    setup(h, i);
    hosts.set(`h${i}`, h);
    list.push({ name: `h${i}`, address: '127.0.0.1', port: 22, vars: { host_index: i } });
  }
  let t = 1_700_000_000_000;
  const events: RunEvent[] = [];
  const opts: RunPlaybookOptions = {
    selectHosts: (p) => (p === 'all' ? list : list.filter((h) => h.name === p)),
    connect: async (h) => {
      const fake = hosts.get(h.name)!;
      if (fake.down) throw new FleetmendError('E_CONNECT', 'connection refused');
      return new FakeTransport(fake, h.name);
    },
    clock: { now: () => t, sleep: async (ms) => void (t += ms) },
    guardSampleMs: 10,
    onEvent: (e) => events.push(e),
  };
  return { hosts, list, opts, events };
}

const RAISE = `
- name: raise
  hosts: all
  become: true
  tasks:
    - name: raise the limit
      auditctl: { backlog_limit: "{{ limit }}", persist: true }
      register: raised
      notify: say
    - name: report
      shell: echo {{ raised.msg }}
      when: raised.changed
  handlers:
    - name: say
      shell: echo handler {{ inventory_hostname }}
  vars:
    limit: 9000
`;

describe('runPlaybook', () => {
  it('check mode predicts and leaves every host untouched', async () => {
    const f = fleet(2, (h) => (h.status.backlog_limit = 64));
    const r = await runPlaybook(parsePlaybook('pb.yml', RAISE), { ...f.opts, check: true, diff: true });
    for (const h of f.hosts.values()) {
      expect(h.status.backlog_limit).toBe(64);
      expect(h.files.size).toBe(0);
      expect(h.commands.every((c) => !/^auditctl -b|^tee|^augenrules|^echo/.test(c))).toBe(true);
    }
    const task = r.hosts[0]!.tasks![0]!;
    expect(task).toMatchObject({ status: 'changed', module: 'auditctl' });
    expect(task.diff?.some((d) => d.path === '/etc/audit/rules.d/zz-fleetmend.rules')).toBe(true);
    // shell is not check-safe: skipped, and the handler was notified but does not run in check mode either
    expect(r.hosts[0]!.tasks!.map((t) => t.status)).toEqual(['changed', 'skipped', 'skipped']);
  });

  it('applies, registers, runs notified handlers, and a second apply changes nothing', async () => {
    const f = fleet(2, (h) => (h.status.backlog_limit = 64));
    const pb = parsePlaybook('pb.yml', RAISE);
    const first = await runPlaybook(pb, { ...f.opts, extraVars: { limit: 10000 } });
    expect(first.hosts.map((h) => h.status)).toEqual(['changed', 'changed']);
    for (const h of f.hosts.values()) expect(h.status.backlog_limit).toBe(10000);
    expect(first.hosts[0]!.tasks!.map((t) => [t.task, t.status])).toEqual([
      ['raise the limit', 'changed'],
      ['report', 'changed'],
      ['say', 'changed'],
    ]);
    expect(f.hosts.get('h1')!.commands).toContain(`echo 'changed: -b 10000, wrote /etc/audit/rules.d/zz-fleetmend.rules'`);
    expect(f.hosts.get('h1')!.commands).toContain(`echo handler 'h1'`);
    const second = await runPlaybook(pb, { ...f.opts, extraVars: { limit: 10000 } });
    expect(second.hosts.map((h) => h.status)).toEqual(['ok', 'ok']);
    expect(second.recap[0]).toMatchObject({ ok: 1, changed: 0, skipped: 1, failed: 0 });
    expect(formatRecap(second.recap)).toBe(
      'h1 : ok=1 changed=0 unreachable=0 failed=0 skipped=1 ignored=0\nh2 : ok=1 changed=0 unreachable=0 failed=0 skipped=1 ignored=0',
    );
    expect(f.events.filter((e) => e.type === 'task').length).toBe(6 + 4);
  });

  it('a value from -e is shell-quoted: it cannot inject a command', async () => {
    const f = fleet(1);
    const pb = parsePlaybook('pb.yml', `- name: p\n  hosts: all\n  tasks:\n    - shell: echo {{ msg }}\n`);
    await runPlaybook(pb, { ...f.opts, extraVars: { msg: 'hi; reboot' } });
    expect(f.hosts.get('h1')!.commands).toEqual([`echo 'hi; reboot'`]);
  });

  it('one failing host does not stop the others; ignore_errors; failed_when; changed_when', async () => {
    const f = fleet(3, (h, i) => (h.status.enabled = i === 2 ? 2 : 1));
    const pb = parsePlaybook(
      'pb.yml',
      `- name: p
  hosts: all
  tasks:
    - auditctl: { failure: 0 }
    - shell: echo after
      changed_when: false
    - shell: nosuchcmd
      ignore_errors: true
    - shell: echo x
      register: out
      failed_when: "'x' in out.stdout"
`,
    );
    const r = await runPlaybook(pb, f.opts);
    const [h1, h2] = r.hosts;
    expect(h2!.status).toBe('failed');
    expect(h2!.tasks![0]!.msg).toMatch(/locked until reboot/);
    expect(h2!.tasks!.slice(1).map((t) => t.msg)).toEqual(Array(3).fill('host failed earlier in the play'));
    expect(h1!.tasks!.map((t) => t.status)).toEqual(['changed', 'ok', 'failed', 'failed']);
    expect(r.recap[0]).toMatchObject({ ok: 2, changed: 1, failed: 1, ignored: 1 });
    expect(r.hosts[2]!.status).toBe('failed');
  });

  it('serial rollout: a failed batch stops the rollout; later hosts are skipped with the reason', async () => {
    const f = fleet(5, (h, i) => (h.status.enabled = i === 2 ? 2 : 1));
    const pb = parsePlaybook('pb.yml', `- name: roll\n  hosts: all\n  serial: 1\n  tasks:\n    - auditctl: { failure: 0 }\n`);
    const r = await runPlaybook(pb, f.opts);
    expect(r.plays[0]!.batches).toEqual([['h1'], ['h2'], ['h3'], ['h4'], ['h5']]);
    expect(r.hosts.map((h) => h.status)).toEqual(['changed', 'failed', 'skipped', 'skipped', 'skipped']);
    expect(r.stopped).toMatchObject({ batch: 2, batches: 5 });
    expect(r.stopped!.reason).toMatch(/1\/1 hosts failed|every host failed/);
    expect(r.hosts[2]!.tasks![0]!.msg).toMatch(/not started: rollout stopped/);
    expect(f.hosts.get('h3')!.commands).toEqual([]);
  });

  it('max_fail_percentage: a batch at or under the threshold continues', async () => {
    const f = fleet(4, (h, i) => (h.status.enabled = i === 1 ? 2 : 1));
    const pb = parsePlaybook('pb.yml', `- name: roll\n  hosts: all\n  serial: 2\n  max_fail_percentage: 50\n  tasks:\n    - auditctl: { failure: 0 }\n`);
    const r = await runPlaybook(pb, f.opts);
    expect(r.stopped).toBeUndefined();
    expect(r.hosts.map((h) => h.status)).toEqual(['failed', 'changed', 'changed', 'changed']);
  });

  it('any_errors_fatal: remaining tasks of the batch are skipped and the rollout stops', async () => {
    const f = fleet(4, (h, i) => (h.status.enabled = i === 1 ? 2 : 1));
    const pb = parsePlaybook(
      'pb.yml',
      `- name: roll\n  hosts: all\n  serial: 2\n  max_fail_percentage: 100\n  any_errors_fatal: true\n  tasks:\n    - auditctl: { failure: 0 }\n`,
    );
    const r = await runPlaybook(pb, f.opts);
    expect(r.stopped!.reason).toMatch(/any_errors_fatal/);
    expect(r.hosts.slice(2).map((h) => h.status)).toEqual(['skipped', 'skipped']);
  });

  it('an unreachable host counts as failed for the batch', async () => {
    const f = fleet(3, (h, i) => (h.down = i === 1));
    const pb = parsePlaybook('pb.yml', `- name: roll\n  hosts: all\n  serial: 1\n  tasks:\n    - shell: echo hi\n`);
    const r = await runPlaybook(pb, f.opts);
    expect(r.hosts.map((h) => h.status)).toEqual(['unreachable', 'skipped', 'skipped']);
    expect(r.recap[0]).toMatchObject({ unreachable: 1 });
  });

  it('reboot guard: refused without serial on a multi-host play, allowed with serial 1', async () => {
    const f = fleet(2);
    const noSerial = parsePlaybook('pb.yml', `- name: r\n  hosts: all\n  tasks:\n    - reboot: { schedule: "+10" }\n`);
    const r = await runPlaybook(noSerial, f.opts);
    expect(r.hosts.map((h) => h.tasks![0]!.error?.code)).toEqual(['E_GUARD', 'E_GUARD']);
    const serial = parsePlaybook('pb.yml', `- name: r\n  hosts: all\n  serial: 1\n  tasks:\n    - reboot: { schedule: "+10" }\n`);
    expect((await runPlaybook(serial, f.opts)).hosts.map((h) => h.status)).toEqual(['changed', 'changed']);
  });

  it('hosts failed in one play take no part in the next', async () => {
    const f = fleet(2, (h, i) => (h.status.enabled = i === 1 ? 2 : 1));
    const pb = parsePlaybook(
      'pb.yml',
      `- name: one\n  hosts: all\n  tasks:\n    - auditctl: { failure: 0 }\n- name: two\n  hosts: all\n  tasks:\n    - shell: echo two\n`,
    );
    const r = await runPlaybook(pb, f.opts);
    expect(f.hosts.get('h1')!.commands).not.toContain('echo two');
    expect(f.hosts.get('h2')!.commands).toContain('echo two');
    expect(r.hosts[1]!.tasks!.map((t) => t.play)).toEqual(['one', 'two']);
  });
});

describe('rolloutDecision', () => {
  const serial = { anyErrorsFatal: false, serial: 1 };
  it('defines what stops a rollout', () => {
    expect(rolloutDecision(serial, { index: 0, count: 3, size: 2, failed: 0 })).toBeUndefined();
    expect(rolloutDecision(serial, { index: 0, count: 3, size: 2, failed: 1 })).toMatch(/default for a play with serial/);
    expect(rolloutDecision({ ...serial, maxFailPercentage: 50 }, { index: 0, count: 3, size: 2, failed: 1 })).toBeUndefined();
    expect(rolloutDecision({ ...serial, maxFailPercentage: 49 }, { index: 0, count: 3, size: 2, failed: 1 })).toMatch(/50% > max_fail_percentage 49/);
    expect(rolloutDecision({ ...serial, maxFailPercentage: 100 }, { index: 1, count: 3, size: 2, failed: 2 })).toMatch(/batch 2\/3: every host failed/);
    expect(rolloutDecision({ anyErrorsFatal: false }, { index: 0, count: 1, size: 4, failed: 3 })).toBeUndefined();
    expect(rolloutDecision({ anyErrorsFatal: true, maxFailPercentage: 100 }, { index: 0, count: 1, size: 4, failed: 1 })).toMatch(/any_errors_fatal/);
  });
});
