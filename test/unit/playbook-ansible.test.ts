/**
 * Issue 15 §2 at load time: what an Ansible playbook may use unchanged (FQCN names, YAML 1.1
 * booleans, gather_facts, loop, key=value arguments, Jinja filters and tests), and one clear
 * error at file:line:column naming the construct for everything else, before any host.
 */
import { describe, expect, it } from 'vitest';
import { compileExpr } from '../../src/expr/index.js';
import { parsePlaybook, Templater } from '../../src/playbook/index.js';
import { loadError } from '../helpers/playbook.js';

const play = (body: string, head = '') => `- hosts: all\n${head}  tasks:\n${body}`;

describe('Ansible playbooks load unchanged', () => {
  it('FQCN module names map to fleetmend modules (systemd is service)', () => {
    const pb = parsePlaybook(
      'pb.yml',
      play(
        [
          '    - ansible.builtin.command: auditctl -s',
          '    - ansible.builtin.shell: echo hi',
          '    - ansible.builtin.systemd: { name: auditd, state: restarted }',
          '    - ansible.legacy.service: name=auditd state=started',
          '    - ansible.builtin.reboot: { reboot_timeout: 600 }',
          '    - ansible.builtin.assert: { that: [x is defined] }',
          '    - ansible.builtin.debug: { msg: hello }',
          '    - ansible.builtin.set_fact: { a: 1 }',
          '    - ansible.builtin.fail: { msg: no }',
          '    - ansible.builtin.meta: flush_handlers',
          '    - ansible.builtin.wait_for_connection: { timeout: 30 }',
          '',
        ].join('\n'),
      ),
    );
    expect(pb.plays[0]!.tasks.map((t) => t.moduleName)).toEqual([
      'command', 'shell', 'service', 'service', 'reboot', 'assert', 'debug', 'set_fact', 'fail', 'meta', 'wait_for_connection',
    ]);
    // key=value arguments, as Ansible parses them
    expect(pb.plays[0]!.tasks[3]!.args).toEqual({ name: 'auditd', state: 'started' });
    // a play without a name is named by its hosts
    expect(pb.plays[0]!.name).toBe('all');
  });

  it.each(['yes', 'Yes', 'on', 'True', 'true', '"yes"', 'y', '1'])('become: %s is true', (v) => {
    expect(parsePlaybook('pb.yml', play('    - debug: { msg: x }\n', `  become: ${v}\n`)).plays[0]!.become).toBe(true);
  });
  it.each(['no', 'off', 'False', '"no"', 'n', '0'])('become: %s is false', (v) => {
    expect(parsePlaybook('pb.yml', play('    - debug: { msg: x }\n', `  become: ${v}\n`)).plays[0]!.become).toBe(false);
  });
  it('a plain YAML 1.1 boolean in vars and set_fact is a boolean (as PyYAML reads it); a quoted one, or a name, stays a string', () => {
    const pb = parsePlaybook('pb.yml', play('    - name: off\n      set_fact: { c: no }\n      ignore_errors: yes\n', '  vars:\n    a: on\n    b: "on"\n'));
    expect(pb.plays[0]!.vars).toEqual({ a: true, b: 'on' });
    expect(pb.plays[0]!.tasks[0]!.ignoreErrors).toBe(true);
    expect(pb.plays[0]!.tasks[0]!.name).toBe('off');
    expect(pb.plays[0]!.tasks[0]!.args).toEqual({ c: false });
  });
  it('gather_facts: false gathers nothing; true runs setup first (the audit facts and Ansible’s)', () => {
    expect(parsePlaybook('pb.yml', play('    - debug: { msg: x }\n', '  gather_facts: no\n')).plays[0]!.tasks.map((t) => t.moduleName)).toEqual(['debug']);
    const t = parsePlaybook('pb.yml', play('    - debug: { msg: x }\n', '  gather_facts: true\n')).plays[0]!.tasks;
    expect(t.map((x) => [x.name, x.moduleName])).toEqual([['Gathering Facts', 'setup'], ['debug', 'debug']]);
  });
  it('loop takes a list or a {{ list }} template, with loop_control.loop_var', () => {
    const t = parsePlaybook('pb.yml', play('    - shell: echo {{ x }}\n      loop: [a, b]\n      loop_control: { loop_var: x }\n    - shell: echo {{ item }}\n      loop: "{{ items }}"\n')).plays[0]!.tasks;
    expect(t[0]!.loop).toEqual({ items: ['a', 'b'], loopVar: 'x', kind: 'loop' });
    expect(t[1]!.loop).toEqual({ items: '{{ items }}', loopVar: 'item', kind: 'loop' });
  });
});

describe('anything else: one error at file:line:column naming the construct', () => {
  it.each([
    ['pre_tasks', '- hosts: all\n  pre_tasks:\n    - debug: { msg: x }\n', 2, 3, 'pre_tasks'],
    ['import_playbook', '- import_playbook: other.yml\n', 1, 3, 'import_playbook'],
    ['a templated include_tasks file', play('    - include_tasks: "{{ x }}.yml"\n'), 3, 7, 'templated file name'],
    ['ansible.builtin.include_vars', play('    - ansible.builtin.include_vars: more.yml\n'), 3, 7, 'include_vars'],
    ['rescue without a block', play('    - rescue:\n        - debug: { msg: x }\n'), 3, 7, 'rescue'],
    ['with_fileglob', play('    - debug: { msg: x }\n      with_fileglob: ["*"]\n'), 4, 7, 'with_fileglob'],
    ['delegate_to', play('    - debug: { msg: x }\n      delegate_to: localhost\n'), 4, 7, 'delegate_to'],
    ['become_method su', play('    - debug: { msg: x }\n      become_method: su\n'), 4, 7, 'become_method'],
    ['an unknown FQCN module', play('    - ansible.builtin.git: { repo: a, dest: b }\n'), 3, 7, 'ansible.builtin.git'],
    ['a community module', play('    - community.general.timezone: { name: UTC }\n'), 3, 7, 'community.general.timezone'],
    ['other meta actions', play('    - meta: end_play\n'), 3, 13, 'flush_handlers'],
  ])('%s', (_what, yaml, line, column, construct) => {
    const e = loadError(yaml);
    expect(['E_PLAYBOOK', 'E_SCHEMA']).toContain(e.code);
    expect(e.position).toMatchObject({ file: 'pb.yml', line, column });
    expect(e.message).toContain(construct);
  });

  it.each([
    ['a lookup', "    - debug: { msg: \"{{ lookup('file', '/etc/passwd') }}\" }\n", /lookups/],
    ['another filter', '    - debug: { msg: "{{ x | password_hash(\'sha512\') }}" }\n', /unsupported filter 'password_hash'/],
    ['a Jinja statement', '    - shell: "{% if x %}echo{% endif %}"\n', /Jinja statements/],
  ])('%s in a template', (_what, body, message) => {
    const e = loadError(play(body));
    expect(e.code).toBe('E_TEMPLATE');
    expect(e.position).toMatchObject({ file: 'pb.yml', line: 3 });
    expect(e.position?.column).toBeGreaterThan(7);
    expect(e.message).toMatch(message);
  });
});

describe('Jinja filters and tests', () => {
  const ev = (src: string, scope: Record<string, unknown> = {}) => compileExpr(src).evaluate(scope);
  it.each([
    ["x | default('d')", {}, 'd'],
    ["x | d('d')", { x: 'v' }, 'v'],
    ["x | default('d', true)", { x: '' }, 'd'],
    ['x | default', {}, ''],
    ['x | int', { x: '42' }, 42],
    ['x | int', { x: '4.7' }, 4],
    ['x | int', { x: 'abc' }, 0],
    ['x | int(7)', { x: 'abc' }, 7],
    ['x | int + 1', { x: '41' }, 42],
    ['x | bool', { x: 'yes' }, true],
    ['x | bool', { x: 'No' }, false],
    ['x | bool', { x: 1 }, true],
    ['not x | bool', { x: 'off' }, true],
    ['x | quote', { x: "it's" }, `'it'"'"'s'`],
    ['x | quote', { x: 'plain' }, 'plain'],
    ['x is defined', { x: 0 }, true],
    ['x is not defined', {}, true],
    ['r is changed', { r: { changed: true } }, true],
    ['r is failed', { r: { failed: false } }, false],
    ['r is succeeded', { r: { failed: false } }, true],
    ['r is skipped', { r: { skipped: true } }, true],
  ])('%s with %j is %j', (src, scope, want) => {
    expect(ev(src, scope)).toEqual(want);
  });

  it('a trailing | quote in a shell argument is the context quoting, applied once', () => {
    const t = new Templater();
    expect(t.render('echo {{ x | quote }}', { x: "a'b" }, 'sh')).toBe(`echo 'a'\\''b'`);
    expect(t.render('echo "{{ x | quote }}"', { x: '$(id)' }, 'sh')).toBe('echo "\\$(id)"');
    expect(t.render('msg {{ x | quote }}', { x: 'a b' }, 'none')).toBe("msg 'a b'");
    expect(t.render('echo {{ n | default(3) | int }}', {}, 'sh')).toBe("echo '3'");
    // `{#` / `{%` without a closer are shell text
    expect(t.render('echo ${#PATH} {{ x }}', { x: 'a' }, 'sh')).toBe("echo ${#PATH} 'a'");
    // a variable named raw is a variable; `raw x` is the opt-out
    expect(t.render('echo {{ raw }} {{ raw == 1 }}', { raw: 1 }, 'sh')).toBe("echo '1' 'true'");
    expect(t.render('echo {{ raw x }}', { x: '$HOME' }, 'sh')).toBe('echo $HOME');
  });
});
