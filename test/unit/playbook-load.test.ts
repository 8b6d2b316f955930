import { describe, expect, it } from 'vitest';
import { parsePlaybook } from '../../src/playbook/load.js';
import { parseExtraVars, mergeVars } from '../../src/playbook/vars.js';
import { planBatches } from '../../src/executor/batches.js';
import { Templater } from '../../src/playbook/template.js';
import { FleetmendError } from '../../src/errors.js';
import { loadError } from '../helpers/playbook.js';

const GOOD = `
- name: fix
  hosts: all
  become: true
  serial: [1, "50%"]
  max_fail_percentage: 0
  vars:
    limit: 8192
  tasks:
    - name: status
      audit_status: {}
      register: st
    - name: raise
      auditctl:
        backlog_limit: "{{ limit }}"
        persist: true
      when: audit.backlog_limit < limit
      notify: restart
    - shell: echo {{ inventory_hostname }}
  handlers:
    - name: restart
      service: { state: restarted }
`;

describe('playbook loader', () => {
  it('loads plays, tasks, free-form shell, handlers and compiled conditions', () => {
    const pb = parsePlaybook('pb.yml', GOOD);
    const play = pb.plays[0]!;
    expect(play).toMatchObject({ name: 'fix', hosts: 'all', become: true, serial: [1, '50%'], maxFailPercentage: 0, memoryShare: 0.1 });
    expect(play.tasks.map((t) => t.moduleName)).toEqual(['audit_status', 'auditctl', 'shell']);
    expect(play.tasks[2]!.args).toEqual({ cmd: 'echo {{ inventory_hostname }}' });
    expect(play.tasks[1]!.when[0]!.evaluate({ audit: { backlog_limit: 64 }, limit: 8192 })).toBe(true);
    expect(play.tasks[1]!.notify).toEqual(['restart']);
    expect(play.tasks[1]!.position).toMatchObject({ file: 'pb.yml', line: 13 });
  });

  it('unknown module: error at file:line:column of the key', () => {
    const e = loadError(`- name: p\n  hosts: all\n  tasks:\n    - name: t\n      auditctrl: { failure: 1 }\n`);
    expect(e.code).toBe('E_PLAYBOOK');
    expect(e.position).toEqual({ file: 'pb.yml', line: 5, column: 7 });
    expect(e.message).toMatch(/unknown module or task keyword 'auditctrl'/);
  });

  it('unknown module argument: error at the argument', () => {
    const e = loadError(`- name: p\n  hosts: all\n  tasks:\n    - auditctl:\n        backlog_limit: 10\n        persit: true\n`);
    expect(e.code).toBe('E_SCHEMA');
    expect(e.position).toEqual({ file: 'pb.yml', line: 6, column: 9 });
    expect(e.message).toMatch(/auditctl: unknown key 'persit'/);
  });

  it('bad argument value: error at the value; templated values are checked at run time', () => {
    const e = loadError(`- name: p\n  hosts: all\n  tasks:\n    - auditctl:\n        failure: 7\n`);
    expect(e.position).toMatchObject({ line: 5, column: 18 });
    expect(() => parsePlaybook('pb.yml', `- name: p\n  hosts: all\n  tasks:\n    - auditctl:\n        failure: "{{ f }}"\n`)).not.toThrow();
  });

  it('unknown play key, bad serial, two modules, missing handler, bad when, bad template', () => {
    expect(loadError(`- name: p\n  hosts: all\n  seriall: 1\n`).position).toMatchObject({ line: 3, column: 3 });
    expect(loadError(`- name: p\n  hosts: all\n  serial: "ten"\n`).code).toBe('E_SCHEMA');
    expect(loadError(`- name: p\n  hosts: all\n  tasks:\n    - shell: a\n      command: b\n`).message).toMatch(/exactly one module/);
    expect(loadError(`- name: p\n  hosts: all\n  tasks:\n    - shell: a\n      notify: nope\n`).message).toMatch(/no handler named 'nope'/);
    const w = loadError(`- name: p\n  hosts: all\n  tasks:\n    - shell: a\n      when: "audit.backlog >"\n`);
    expect(w.code).toBe('E_EXPR');
    expect(w.position).toMatchObject({ file: 'pb.yml', line: 5 });
    expect(loadError(`- name: p\n  hosts: all\n  tasks:\n    - shell: "echo {{#if}}"\n`).code).toBe('E_TEMPLATE');
    expect(loadError(`- name: p\n  hosts: all\n  tasks:\n    - assert: { that: "x ==" }\n`).code).toBe('E_EXPR');
    expect(loadError(`name: p\n`).code).toBe('E_SCHEMA');
    expect(loadError(`- name: p\n  hosts: all\n  tasks:\n   - shell: a\n  bad indent: [\n`).code).toBe('E_YAML');
  });
});

describe('extra vars', () => {
  it('parses key=value (typed ints/bools), several per -e, and JSON', () => {
    expect(parseExtraVars(['a=1', 'b=x y=true', '{"c": [1]}', 'd=a=b'])).toEqual({ a: 1, b: 'x', y: true, c: [1], d: 'a=b' });
  });
  it('rejects what does not parse', () => {
    for (const bad of ['novalue', '=1', '1a=2', '{bad json', '[1]', '']) {
      expect(() => parseExtraVars([bad])).toThrow(FleetmendError);
    }
  });
  it('precedence: host vars < play vars < extra vars', () => {
    expect(mergeVars({ a: 1, b: 1, c: 1 }, { b: 2, c: 2 }, { c: 3 })).toEqual({ a: 1, b: 2, c: 3 });
  });
});

describe('planBatches', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
  it('number, percentage, list with the last value repeating', () => {
    expect(planBatches(hosts)).toEqual([hosts]);
    expect(planBatches(hosts, 4).map((b) => b.length)).toEqual([4, 4, 2]);
    expect(planBatches(hosts, '30%').map((b) => b.length)).toEqual([3, 3, 3, 1]);
    expect(planBatches(hosts, '1%').map((b) => b.length)).toEqual(Array(10).fill(1));
    expect(planBatches(hosts, [1, '20%', '50%']).map((b) => b.length)).toEqual([1, 2, 5, 2]);
    expect(planBatches(hosts, [1, 2]).flat()).toEqual(hosts);
    expect(planBatches([], 2)).toEqual([]);
  });
});

describe('templating', () => {
  const t = new Templater();
  const scope = { name: "x'; rm -rf / #", n: 8192, nested: { v: 'a b' } };
  it('shell contexts quote every interpolated value; raw opts out', () => {
    expect(t.render('echo {{ name }}', scope, true)).toBe(`echo 'x'\\''; rm -rf / #'`);
    expect(t.render('echo {{ nested.v }} {{ raw n }}', scope, true)).toBe(`echo 'a b' 8192`);
    // templates are Jinja expressions now (issue 15): Handlebars' {{{ }}} and blocks are refused
    expect(() => t.render('echo {{{ name }}}', scope, true)).toThrow(/not a template/);
    expect(() => t.render('{{#if n}}echo {{ nested.v }}{{/if}}', scope, true)).toThrow(/Handlebars blocks/);
  });
  it('other strings are not quoted; a whole {{ var }} keeps its type', () => {
    expect(t.render('limit {{ n }}', scope, false)).toBe('limit 8192');
    expect(t.render('{{ n }}', scope, false)).toBe(8192);
  });
  it('an undefined variable is an error naming it (E_UNDEFINED), in every dialect', () => {
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as FleetmendError;
      }
      throw new Error('expected an error');
    };
    const pos = { file: 'pb.yml', line: 9, column: 7 };
    const sh = err(() => t.render('echo {{ nope }}', scope, true, pos));
    expect([sh.code, sh.message]).toEqual(['E_UNDEFINED', `'nope' is undefined in {{ nope }} (in "echo {{ nope }}")`]);
    expect(sh.position).toMatchObject({ file: 'pb.yml', line: 9 });
    const whole = err(() => t.render('{{ nope }}', scope, false));
    expect([whole.code, whole.message]).toEqual(['E_UNDEFINED', `'nope' is undefined in {{ nope }}`]);
    expect(err(() => t.render('{{ nested.w }}', scope, false)).message).toMatch(/^'nested\.w' is undefined/);
    expect(err(() => t.render('{{ nope == 1 }}', scope, false)).message).toMatch(/^'nope' is undefined/);
  });
});
