/**
 * Issue 23 §1: a playbook's undefined variable is an error as in Ansible (the task fails for
 * the host with E_UNDEFINED naming the variable and file:line), never a silent false; default,
 * `is defined`, omit, ansible_check_mode, loop items and registered results keep working; and
 * inventory / play / -e variables are templated when read (set_fact and host output are not).
 * The expected values were checked against ansible-core 2.14 (`-i localhost, -c local`).
 */
import { describe, expect, it } from 'vitest';
import { parsePlaybook } from '../../src/playbook/load.js';
import { runPlaybook, type RunPlaybookOptions } from '../../src/playbook/run.js';
import { ansibleFactsOf } from '../../src/facts/ansible-facts.js';
import { recapOf } from '../../src/playbook/recap.js';
import { sample } from '../fixtures/facts/samples.js';
import { oneFakeHost } from '../fixtures/playbooks/fake-host.js';

const one = (vars: Record<string, unknown> = {}) => oneFakeHost({ groups: ['all', 'web'], vars });

async function run(text: string, vars: Record<string, unknown> = {}, extra: Partial<RunPlaybookOptions> = {}) {
  const f = one(vars);
  const r = await runPlaybook(parsePlaybook('pb.yml', text), { ...f.opts, ...extra });
  return { r, host: f.host, tasks: r.hosts[0]!.tasks!, status: r.hosts[0]!.status };
}

describe('an undefined variable in when', () => {
  const PB = `- hosts: all
  tasks:
    - name: gated
      shell: echo gated
      when: some_flag
    - name: after
      shell: echo after
`;

  it('fails the task for the host, naming the variable and pb.yml:line (not "skipped")', async () => {
    const { tasks, status, host } = await run(PB);
    expect(tasks[0]).toMatchObject({ status: 'failed', error: { code: 'E_UNDEFINED' } });
    expect(tasks[0]!.msg).toBe(`pb.yml:5:7: when: 'some_flag' is undefined in "some_flag" [E_UNDEFINED]`);
    expect(tasks[1]).toMatchObject({ status: 'skipped', msg: 'host failed earlier in the play' });
    expect(status).toBe('failed');
    expect(host.commands).toEqual([]);
  });

  it('ignore_errors lets the play go on, as in Ansible', async () => {
    const { tasks, status } = await run(PB.replace('when: some_flag', 'when: some_flag\n      ignore_errors: true'));
    expect(tasks.map((t) => t.status)).toEqual(['failed', 'changed']);
    expect(status).toBe('changed');
  });

  it('a declared variable (play vars, inventory, -e) decides as before', async () => {
    expect((await run(PB, { some_flag: false })).tasks.map((t) => t.status)).toEqual(['skipped', 'changed']);
    expect((await run(PB, {}, { extraVars: { some_flag: true } })).tasks.map((t) => t.status)).toEqual(['changed', 'changed']);
  });

  it('is defined / default guard it; changed_when and failed_when fail the same way', async () => {
    const { tasks, status } = await run(`- hosts: all
  tasks:
    - shell: echo a
      when: some_flag is defined and some_flag
    - shell: echo b
      when: some_flag | default(true)
    - shell: echo c
      when: missing.key is not defined
    - shell: echo d
      changed_when: nope == 1
`);
    expect(tasks.map((t) => t.status)).toEqual(['skipped', 'changed', 'changed', 'failed']);
    expect(tasks[3]!.msg).toBe(`pb.yml:10:7: changed_when: 'nope' is undefined in "nope == 1" [E_UNDEFINED]`);
    expect(status).toBe('failed');
  });

  it('per loop item, `item` and registered results are defined', async () => {
    const { tasks } = await run(`- hosts: all
  tasks:
    - shell: echo {{ item }}
      loop: [1, 2]
      when: item == 2
      register: out
    - debug: { msg: "{{ out.results[1].stdout }}" }
      when: out.results[0] is skipped
`);
    expect(tasks.map((t) => t.status)).toEqual(['changed', 'ok']);
    expect(tasks[1]!.msg).toBe("echo '2'");
  });
});

describe('undefined in templates, omit, ansible_check_mode', () => {
  it('a module argument naming an undefined variable fails the task with E_UNDEFINED at the task', async () => {
    const { tasks, host } = await run(`- hosts: all
  tasks:
    - name: uses it
      shell: echo {{ nope }}
`);
    expect(tasks[0]).toMatchObject({ status: 'failed', error: { code: 'E_UNDEFINED' } });
    expect(tasks[0]!.msg).toMatch(/^pb\.yml:3:\d+: 'nope' is undefined in \{\{ nope \}\} \(in "echo \{\{ nope \}\}"\) \[E_UNDEFINED\]$/);
    expect(host.commands).toEqual([]);
  });

  it('assert, loop and failed_when name the undefined variable at their task too', async () => {
    const { tasks } = await run(`- hosts: all
  tasks:
    - name: check it
      assert: { that: [ "nope_a > 1" ] }
      ignore_errors: true
    - shell: echo {{ item }}
      loop: "{{ nope_list }}"
      ignore_errors: true
    - shell: echo x
      failed_when: nope_b
`);
    expect(tasks.map((t) => [t.status, t.error?.code])).toEqual([
      ['failed', 'E_UNDEFINED'],
      ['failed', 'E_UNDEFINED'],
      ['failed', 'E_UNDEFINED'],
    ]);
    expect(tasks[0]!.msg).toBe(`pb.yml:3:7: 'nope_a' is undefined in "nope_a > 1" [E_UNDEFINED]`);
    expect(tasks[1]!.msg).toMatch(/^pb\.yml:6:\d+: 'nope_list' is undefined in \{\{ nope_list \}\} \[E_UNDEFINED\]$/);
    expect(tasks[2]!.msg).toBe(`pb.yml:10:7: failed_when: 'nope_b' is undefined in "nope_b" [E_UNDEFINED]`);
  });

  it('default(omit) drops the argument (debug without msg says "Hello world!", as in Ansible)', async () => {
    const { tasks } = await run(`- hosts: all
  tasks:
    - debug: { msg: "{{ nope | default(omit) }}" }
    - debug: { msg: "{{ yes_val | default(omit) }}" }
`, { yes_val: 'kept' });
    expect(tasks.map((t) => t.msg)).toEqual(['Hello world!', 'kept']);
  });

  it('ansible_check_mode is defined: true under --check, false otherwise', async () => {
    const PB = `- hosts: all
  tasks:
    - shell: echo not-in-check
      when: not ansible_check_mode
    - debug: { msg: "check={{ ansible_check_mode }}" }
`;
    const checked = await run(PB, {}, { check: true });
    expect(checked.tasks.map((t) => [t.status, t.msg])).toEqual([
      ['skipped', 'when: not ansible_check_mode is false'],
      ['ok', 'check=true'],
    ]);
    expect(checked.host.commands).toEqual([]);
    const applied = await run(PB);
    expect(applied.tasks.map((t) => t.status)).toEqual(['changed', 'ok']);
    expect(applied.tasks[1]!.msg).toBe('check=false');
  });

  it('ansible_facts is an empty mapping until facts are gathered: a fact read from it is E_UNDEFINED', async () => {
    const { tasks } = await run(`- hosts: all
  tasks:
    - debug: { msg: "{{ len(ansible_facts) }}" }
    - shell: echo family
      when: ansible_facts.os_family == "RedHat"
`);
    expect(tasks[0]).toMatchObject({ status: 'ok', msg: '0' });
    expect(tasks[1]).toMatchObject({ status: 'failed', error: { code: 'E_UNDEFINED' } });
    expect(tasks[1]!.msg).toMatch(/'ansible_facts\.os_family' is undefined/);
  });

  it('debug var of an undefined variable shows VARIABLE IS NOT DEFINED! (Ansible)', async () => {
    const { tasks } = await run(`- hosts: all
  tasks:
    - debug: { var: nope.deeper }
`);
    expect(tasks[0]).toMatchObject({ status: 'ok', msg: 'nope.deeper: VARIABLE IS NOT DEFINED!' });
  });
});

describe('variables are templated when read', () => {
  it('an inventory var with {{ inventory_hostname }} renders per host, in messages and shell arguments', async () => {
    const { tasks, host } = await run(
      `- hosts: all
  vars:
    motd_line: "{{ greeting }} from {{ len(group_names) }} groups"
  tasks:
    - debug: { msg: "{{ greeting }}" }
    - shell: echo {{ motd_line }}
    - debug: { msg: "{{ from_e }}" }
`,
      { greeting: 'hello {{ inventory_hostname }}' },
      { extraVars: { from_e: '{{ inventory_hostname }}-e' } },
    );
    expect([tasks[0]!.msg, tasks[2]!.msg]).toEqual(['hello h1', 'h1-e']);
    // the rendered value is a value: quoted for the shell like any other
    expect(host.commands).toEqual(["echo 'hello h1 from 2 groups'"]);
  });

  it('a var whose template uses an undefined one is itself undefined (is defined false; use names both)', async () => {
    const { tasks } = await run(
      `- hosts: all
  tasks:
    - debug: { msg: "{{ a is defined }}" }
    - debug: { msg: "{{ a }}" }
`,
      { a: '{{ undefined_y }}' },
    );
    expect(tasks[0]!.msg).toBe('false');
    expect(tasks[1]).toMatchObject({ status: 'failed', error: { code: 'E_UNDEFINED' } });
    expect(tasks[1]!.msg).toContain(`'undefined_y' is undefined (in the value of 'a')`);
  });

  it('a var that uses itself is an error, not a hang', async () => {
    const { tasks } = await run(`- hosts: all\n  vars: { b: "{{ b }}" }\n  tasks:\n    - debug: { msg: "{{ b }}" }\n`);
    expect(tasks[0]).toMatchObject({ status: 'failed', error: { code: 'E_TEMPLATE' } });
    expect(tasks[0]!.msg).toMatch(/recursive loop: the value of 'b' uses itself/);
  });

  it('a loop item is seen by a lazily templated var', async () => {
    const { tasks } = await run(`- hosts: all\n  vars: { e: "n{{ item }}" }\n  tasks:\n    - debug: { msg: "{{ e }}" }\n      loop: [1, 2]\n      register: r\n    - debug: { msg: "{{ len(r.results) }} {{ r.results[1].msg }}" }\n`);
    expect(tasks[1]!.msg).toBe('2 n2');
  });

  it('host output and set_fact values are data: braces in them are never templated', async () => {
    const f = one();
    f.host.files.set('/etc/motd', '{{ inventory_hostname }}');
    const pb = parsePlaybook(
      'pb.yml',
      `- hosts: all
  tasks:
    - shell: cat '/etc/motd'
      register: out
    - set_fact: { motd: "{{ out.stdout }}" }
    - debug: { msg: "{{ motd }}" }
`,
    );
    const r = await runPlaybook(pb, f.opts);
    expect(r.hosts[0]!.tasks![2]!.msg).toBe('{{ inventory_hostname }}');
  });

  it('the recap counts an undefined-variable failure as failed, not skipped', async () => {
    const { r } = await run(`- hosts: all\n  tasks:\n    - shell: echo x\n      when: flag\n`);
    expect(recapOf(r.hosts)[0]).toMatchObject({ failed: 1, skipped: 0, ok: 0 });
  });
});

describe('ansible_facts from the fact probe', () => {
  it('os-release and uname -r give distribution, os_family, major version and kernel, named as Ansible names them', () => {
    expect(ansibleFactsOf(sample({}, 0))).toEqual({
      distribution: 'Debian',
      os_family: 'Debian',
      distribution_major_version: '12',
      kernel: '6.1.0-50-amd64',
    });
    const rhel = sample({}, 0);
    rhel.system.distribution = { id: 'rhel', version_id: '9.4' };
    expect(ansibleFactsOf(rhel)).toMatchObject({ distribution: 'RedHat', os_family: 'RedHat', distribution_major_version: '9' });
    // an ID we cannot name as Ansible would stays out (E_UNDEFINED if used), never a guess
    rhel.system.distribution = { id: 'someos', version_id: '1' };
    expect(ansibleFactsOf(rhel)).toEqual({ kernel: '6.1.0-50-amd64' });
  });
});
