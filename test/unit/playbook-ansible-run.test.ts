/**
 * The runtime side of issue 15 §2 against the fake host: loop (per-item `when`, `register`
 * results, a failing item), set_fact precedence (above play vars, below -e), debug, fail, and
 * `meta: flush_handlers` running notified handlers at that point, once.
 */
import { describe, expect, it } from 'vitest';
import { parsePlaybook } from '../../src/playbook/load.js';
import { runPlaybook, type RunPlaybookOptions } from '../../src/playbook/run.js';
import { oneFakeHost } from '../fixtures/playbooks/fake-host.js';

const one = () => oneFakeHost({ vars: { inv: 'from-inventory' } });

const tasks = (r: Awaited<ReturnType<typeof runPlaybook>>) => r.hosts[0]!.tasks!;

describe('loop', () => {
  it('runs once per item with its own when; register holds results; values are quoted per item', async () => {
    const f = one();
    const pb = parsePlaybook(
      'pb.yml',
      `- hosts: all
  vars:
    names: [a, "b c", "$(id)"]
  tasks:
    - ansible.builtin.shell: echo {{ item }}
      loop: "{{ names }}"
      when: item != 'b c'
      register: out
    - ansible.builtin.debug:
        var: out.results[2].stdout
      when: out.results[1] is skipped and out is changed
`,
    );
    const r = await runPlaybook(pb, f.opts);
    expect(f.host.commands).toEqual(["echo 'a'", "echo '$(id)'"]);
    const [loop, shown] = tasks(r);
    expect(loop).toMatchObject({ status: 'changed', msg: '3 item(s): 2 changed, 1 skipped' });
    expect(shown!.msg).toBe("out.results[2].stdout: echo '$(id)'");
  });

  it('an item that fails fails the task (later items still run)', async () => {
    const f = one();
    const pb = parsePlaybook('pb.yml', `- hosts: all\n  tasks:\n    - shell: echo {{ item }}\n      loop: [1, 2, 3]\n      failed_when: item == 2\n`);
    const r = await runPlaybook(pb, f.opts);
    expect(tasks(r)[0]).toMatchObject({ status: 'failed' });
    expect(tasks(r)[0]!.msg).toMatch(/^item 2: failed_when: item == 2/);
    expect(f.host.commands).toEqual(["echo '1'", "echo '2'", "echo '3'"]);
    expect(r.hosts[0]!.status).toBe('failed');
  });

  it('a loop template that is not a list fails the task, naming it', async () => {
    const f = one();
    const pb = parsePlaybook('pb.yml', `- hosts: all\n  vars: { n: 3 }\n  tasks:\n    - shell: echo {{ item }}\n      loop: "{{ n }}"\n`);
    const r = await runPlaybook(pb, f.opts);
    expect(tasks(r)[0]!.msg).toMatch(/pb\.yml:4:\d+: loop: "\{\{ n \}\}" is not a list/);
  });
});

describe('set_fact, debug, fail, meta: flush_handlers', () => {
  const PB = `- hosts: all
  vars: { a: play, b: play }
  tasks:
    - ansible.builtin.set_fact:
        a: "{{ inv }}-fact"
        b: fact
        n: "{{ '41' | int + 1 }}"
    - ansible.builtin.debug: { msg: "{{ a }} {{ b }} {{ n }}" }
    - shell: echo change
      notify: h
    - ansible.builtin.meta: flush_handlers
    - ansible.builtin.debug: { msg: after flush }
    - ansible.builtin.fail: { msg: "stop {{ n }}" }
      when: n == 42
    - ansible.builtin.debug: { msg: never }
  handlers:
    - name: h
      shell: echo handler
`;
  it('set_fact is above play vars and below -e, keeps types; handlers run at the flush, once; fail stops the host', async () => {
    const f = one();
    const r = await runPlaybook(parsePlaybook('pb.yml', PB), { ...f.opts, extraVars: { b: 'extra' } });
    expect(tasks(r).map((t) => [t.task, t.status, t.msg])).toEqual([
      ['set_fact', 'ok', undefined],
      ['debug', 'ok', 'from-inventory-fact extra 42'],
      ['shell', 'changed', undefined],
      ['meta', 'ok', 'handlers flushed'],
      ['h', 'changed', undefined],
      ['debug', 'ok', 'after flush'],
      ['fail', 'failed', 'stop 42'],
      ['debug', 'skipped', 'host failed earlier in the play'],
    ]);
    expect(f.host.commands.filter((c) => c.includes('handler'))).toEqual(['echo handler']);
  });
});
