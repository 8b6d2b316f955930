/**
 * Roles, includes, blocks and the play keywords of issue 23 (items 2-5), loaded from real files in
 * a temporary tree and run against the fake host: where a role is found (roles/ next to the
 * playbook, ANSIBLE_ROLES_PATH, ansible.cfg roles_path), variable precedence, meta dependencies,
 * handler `listen`, block/rescue/always and its recap, loops, until, templated keywords and the
 * magic variables.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { loadPlaybook } from '../../src/playbook/load.js';
import { runPlaybook, type RunPlaybookOptions } from '../../src/playbook/run.js';
import type { PlaybookHost } from '../../src/playbook/protocol.js';
import { formatRecapLine } from '../../src/playbook/recap.js';
import { parseExtraVars } from '../../src/playbook/vars.js';
import { playMagicVars } from '../../src/playbook/scope.js';
import { taskFileCandidates } from '../../src/util/search-paths.js';
import { flatTasks, isBlock, type Task } from '../../src/playbook/types.js';
import { oneFakeHost } from '../fixtures/playbooks/fake-host.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A temporary tree of files (path -> content); returns its root. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'fm-roles-'));
  dirs.push(root);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

async function loadError(file: string, env: Record<string, string> = {}): Promise<FleetmendError> {
  try {
    await loadPlaybook(file, { env });
  } catch (err) {
    if (err instanceof FleetmendError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

const PLAY = (body: string) => `- hosts: all\n  gather_facts: false\n${body}`;
const ROLE_R = (msg: string) => ({ 'tasks/main.yml': `- debug: { msg: "${msg}" }\n` });
const under = (prefix: string, files: Record<string, string>) => Object.fromEntries(Object.entries(files).map(([k, v]) => [`${prefix}/${k}`, v]));

async function run(root: string, opts: Partial<RunPlaybookOptions> & { hostVars?: Record<string, unknown> } = {}) {
  const { hostVars, ...rest } = opts;
  const f = oneFakeHost({ vars: hostVars ?? {}, groups: ['all', 'web'] });
  const pb = await loadPlaybook(join(root, 'site.yml'), { env: {} });
  const r = await runPlaybook(pb, { ...f.opts, ...rest });
  return { r, host: f.host, tasks: r.hosts[0]!.tasks!, msgs: r.hosts[0]!.tasks!.filter((t) => t.module === 'debug').map((t) => t.msg) };
}

describe('where a role is found', () => {
  it('roles/ next to the playbook, then ANSIBLE_ROLES_PATH (over ansible.cfg), then roles_path of ansible.cfg', async () => {
    const root = tree({
      'site.yml': PLAY('  roles: [r]\n'),
      'ansible.cfg': '[defaults]\n# comment\nroles_path = ./cfg-roles:/nonexistent\n',
      ...under('cfg-roles/r', ROLE_R('cfg')),
      ...under('env-roles/r', ROLE_R('env')),
    });
    const roleOf = async (env: Record<string, string>) => ((await loadPlaybook(join(root, 'site.yml'), { env })).plays[0]!.tasks[0] as Task).role!.path;
    expect(await roleOf({})).toBe(join(root, 'cfg-roles/r'));
    expect(await roleOf({ ANSIBLE_ROLES_PATH: join(root, 'env-roles') })).toBe(join(root, 'env-roles/r'));
    mkdirSync(join(root, 'roles/r/tasks'), { recursive: true });
    writeFileSync(join(root, 'roles/r/tasks/main.yml'), '- debug: { msg: local }\n');
    expect(await roleOf({ ANSIBLE_ROLES_PATH: join(root, 'env-roles') })).toBe(join(root, 'roles/r'));
  });

  it('a missing role names every directory searched and the file:line that asked for it', async () => {
    const root = tree({ 'site.yml': PLAY('  roles:\n    - common\n    - role: nope\n      tags: x\n'), ...under('roles/common', ROLE_R('c')) });
    const e = await loadError(join(root, 'site.yml'), { ANSIBLE_ROLES_PATH: '/opt/roles-a:/opt/roles-b' });
    expect(e.code).toBe('E_PLAYBOOK');
    expect(e.message).toBe(`the role 'nope' was not found in: ${join(root, 'roles')}, /opt/roles-a, /opt/roles-b, ${root}`);
    expect(e.position).toMatchObject({ file: join(root, 'site.yml'), line: 5, column: 7 });
  });

  it('a missing import_tasks file and an unknown key in a role file name that file and line', async () => {
    const missing = tree({ 'site.yml': PLAY('  tasks:\n    - name: more\n      import_tasks: more.yml\n') });
    const e = await loadError(join(missing, 'site.yml'));
    expect(e.message).toBe(`import_tasks: 'more.yml' was not found (looked for ${join(missing, 'more.yml')})`);
    expect(e.position).toMatchObject({ file: join(missing, 'site.yml'), line: 5 });
    const bad = tree({ 'site.yml': PLAY('  roles: [r]\n'), 'roles/r/tasks/main.yml': '- debug: { msg: x }\n- debug: { msg: y }\n  delegate_to: localhost\n' });
    const e2 = await loadError(join(bad, 'site.yml'));
    expect(e2.message).toMatch(/delegate_to is not supported/);
    expect(e2.position).toMatchObject({ file: join(bad, 'roles/r/tasks/main.yml'), line: 3, column: 3 });
  });
});

describe('variable precedence (Ansible: defaults < inventory < play < role vars < block < task < set_fact < params < -e)', () => {
  const FILES = {
    'site.yml': PLAY(`  vars: { b: play, c: play, d: play }
  roles:
    - role: r
      vars: { h: params }
`),
    'roles/r/defaults/main.yml': 'a: default\nb: default\nh: default\ndone: no\n',
    'roles/r/vars/main.yml': 'c: role-vars\nd: role-vars\n',
    'roles/r/tasks/main.yml': `- set_fact: { f: set-fact, h: set-fact }
- block:
    - debug:
        msg: "{{ a }} {{ b }} {{ c }} {{ d }} {{ e }} {{ f }} {{ h }} {{ done }}"
      vars: { e: task }
    - debug: { msg: "{{ d }} {{ e }}" }
  vars: { d: block, e: block }
`,
  };

  it('each level overrides the ones below it, and role defaults are read as YAML 1.1', async () => {
    const { msgs } = await run(tree(FILES), { hostVars: { a: 'inventory', b: 'inventory' } });
    // a: inventory beats the role default
    expect(msgs).toEqual(['inventory play role-vars block task set-fact params false', 'block block']);
  });

  it('-e beats everything, a role default only what is not set elsewhere', async () => {
    const { msgs } = await run(tree(FILES), { extraVars: { h: 'extra', e: 'extra' } });
    expect(msgs).toEqual(['default play role-vars block extra set-fact extra false', 'block extra']);
  });
});

describe('meta dependencies, handlers and listen', () => {
  const FILES = {
    'site.yml': PLAY(`  roles: [web, db]
  tasks:
    - name: changes
      shell: echo change
      notify: [restart auditd, "web : Web handler"]
  handlers:
    - name: Play handler
      shell: echo play-handler
      listen: restart auditd
`),
    'roles/common/tasks/main.yml': '- shell: echo common {{ role_name }}\n',
    'roles/web/meta/main.yml': 'dependencies:\n  - common\n',
    'roles/web/tasks/main.yml': '- shell: echo web\n',
    'roles/web/handlers/main.yml': '- name: Web handler\n  shell: echo web-handler {{ role_name }}\n- name: Not notified\n  shell: echo nope\n',
    'roles/db/meta/main.yml': 'dependencies: [{ role: common }]\n',
    'roles/db/tasks/main.yml': '- shell: echo db\n',
    'roles/db/handlers/main.yml': '- name: Restart auditd via service\n  shell: echo db-handler\n  listen: restart auditd\n',
  };

  it('a dependency runs once, before the first role needing it; listen and role : name reach handlers', async () => {
    const { host } = await run(tree(FILES));
    expect(host.commands).toEqual([
      "echo common 'common'",
      'echo web',
      'echo db',
      'echo change',
      'echo play-handler',
      "echo web-handler 'web'",
      'echo db-handler',
    ]);
  });

  it('notify of a name no handler has nor listens to is a load error at the notify', async () => {
    const root = tree({ ...FILES, 'site.yml': PLAY('  roles: [web]\n  tasks:\n    - shell: echo x\n      notify: restart everything\n') });
    const e = await loadError(join(root, 'site.yml'));
    expect(e.message).toMatch(/no handler named 'restart everything'/);
    expect(e.position).toMatchObject({ line: 6, column: 7 });
  });
});

describe('block / rescue / always', () => {
  const site = (block: string) => tree({ 'site.yml': PLAY(`  tasks:\n${block}    - name: after\n      shell: echo after\n`) });

  it('a failure in the block runs rescue and always; the host is not failed and the recap counts it rescued', async () => {
    const { r, host, tasks } = await run(
      site(`    - name: guarded
      block:
        - shell: echo one
        - name: breaks
          fail: { msg: "boom" }
        - shell: echo never
      rescue:
        - debug: { msg: "rescued {{ ansible_failed_task.name }}: {{ ansible_failed_result.msg }}" }
      always:
        - shell: echo always
`),
    );
    expect(host.commands).toEqual(['echo one', 'echo always', 'echo after']);
    expect(tasks.map((t) => [t.task, t.status])).toEqual([
      ['shell', 'changed'],
      ['breaks', 'failed'],
      ['debug', 'ok'],
      ['shell', 'changed'],
      ['after', 'changed'],
    ]);
    expect(tasks[2]!.msg).toBe('rescued breaks: boom');
    expect(r.hosts[0]!.status).toBe('changed');
    expect(r.recap[0]).toMatchObject({ ok: 4, changed: 3, failed: 0, rescued: 1 });
    expect(formatRecapLine(r.recap[0]!)).toBe('h1 : ok=4 changed=3 unreachable=0 failed=0 skipped=0 rescued=1 ignored=0');
  });

  it('without rescue, always still runs and the host stays failed; a failing rescue fails the host', async () => {
    const noRescue = await run(site(`    - block:\n        - fail: { msg: x }\n      always:\n        - shell: echo always\n`));
    expect(noRescue.host.commands).toEqual(['echo always']);
    expect(noRescue.r.hosts[0]!.status).toBe('failed');
    expect(noRescue.r.recap[0]).toMatchObject({ failed: 1, rescued: 0, skipped: 1 });
    const badRescue = await run(site(`    - block:\n        - fail: { msg: x }\n      rescue:\n        - fail: { msg: y }\n`));
    expect(badRescue.r.hosts[0]!.status).toBe('failed');
    expect(badRescue.r.recap[0]).toMatchObject({ failed: 2, rescued: 0 });
  });

  it('an interrupt between the failure and the rescue rescues nothing: the rescue is skipped, the host interrupted', async () => {
    const ac = new AbortController();
    const { r, tasks, host } = await run(site(`    - block:\n        - name: breaks\n          fail: { msg: x }\n      rescue:\n        - shell: echo rescue\n`), {
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'task' && e.result.task === 'breaks') ac.abort();
      },
    });
    expect(host.commands).toEqual([]);
    expect(tasks.map((t) => [t.task, t.status, t.warnings ?? []])).toEqual([
      ['breaks', 'failed', []],
      ['shell', 'skipped', []],
      ['after', 'skipped', []],
    ]);
    expect(r.recap[0]).toMatchObject({ failed: 1, rescued: 0 });
    expect(r.hosts[0]!.status).toBe('interrupted');
  });

  it('block keywords reach each task: when (per task), tags, vars, become; nested blocks; --tags walks into blocks', async () => {
    const root = site(`    - block:
        - set_fact: { flag: false }
        - debug: { msg: "first {{ v }}" }
        - block:
            - debug: { msg: "inner {{ v }} {{ w }}" }
          vars: { w: inner }
          tags: deep
      when: flag | default(true)
      vars: { v: outer }
      tags: [outer]
      become: "{{ use_sudo }}"
      name: gated
`);
    const pb = await loadPlaybook(join(root, 'site.yml'), { env: {} });
    const outer = pb.plays[0]!.tasks[0]!;
    expect(isBlock(outer) && outer.name).toBe('gated');
    const inner = flatTasks(pb.plays[0]!.tasks)[2]!;
    expect(inner.tags).toEqual(['outer', 'deep']);
    expect(inner.become).toBe('{{ use_sudo }}');
    expect(inner.when.map((c) => c.source)).toEqual(['flag | default(true)']);
    // the block's when is evaluated per task, as in Ansible: set_fact turns the rest off
    const all = await run(root, { extraVars: { use_sudo: false } });
    expect(all.tasks.map((t) => t.status)).toEqual(['ok', 'skipped', 'skipped', 'changed']);
    const deep = await run(root, { tags: ['deep'], extraVars: { use_sudo: 'no' } });
    expect(deep.tasks.map((t) => [t.module, t.status, t.msg])).toEqual([['debug', 'ok', 'inner outer inner']]);
  });
});

describe('includes, loops, until and templated keywords', () => {
  it('include_tasks with a loop runs its file once per item; with_dict gives key/value; index_var and label', async () => {
    const root = tree({
      'site.yml': PLAY(`  vars:
    users: { alice: 1, bob: 2 }
  tasks:
    - include_tasks: per-item.yml
      loop: [x, y]
      loop_control: { loop_var: outer }
    - shell: echo {{ item.key }}={{ item.value }} {{ i }}
      with_dict: "{{ users }}"
      loop_control: { index_var: i, label: "{{ item.key }}" }
      failed_when: item.key == 'bob'
      ignore_errors: true
    - shell: echo {{ item }}
      with_items: [[a, b], c]
`),
      'per-item.yml': '- shell: echo {{ outer }}\n',
    });
    const { host, tasks } = await run(root);
    expect(host.commands).toEqual(["echo 'x'", "echo 'y'", "echo 'alice'='1' '0'", "echo 'bob'='2' '1'", "echo 'a'", "echo 'b'", "echo 'c'"]);
    expect(tasks[2]!.msg).toMatch(/^item bob: failed_when/);
  });

  it('until retries with delay (on the run clock) and registers attempts', async () => {
    const root = tree({
      'site.yml': PLAY(`  tasks:
    - shell: echo {{ n | default(0) }}
      register: out
      until: out.attempts >= 3
      retries: 5
      delay: 2
    - debug: { msg: "{{ out.attempts }}" }
    - shell: echo never
      register: never
      until: false
      retries: "{{ two }}"
      delay: 1
`),
    });
    let t = 0;
    const { host, tasks } = await run(root, { clock: { now: () => t, sleep: async (ms) => void (t += ms) }, extraVars: { two: 2 } });
    expect(tasks[1]!.msg).toBe('3');
    expect(host.commands.filter((c) => c === "echo '0'")).toHaveLength(3);
    expect(host.commands.filter((c) => c === 'echo never')).toHaveLength(3);
    expect(tasks[2]).toMatchObject({ status: 'failed', msg: expect.stringMatching(/^until: false still false after 3 attempt\(s\)/) });
    expect(t).toBe(2 * 2000 + 2 * 1000);
  });

  it('ignore_errors and check_mode take templates; check_mode: false runs under --check; ansible_check_mode follows it', async () => {
    const root = tree({
      'site.yml': PLAY(`  tasks:
    - shell: echo probe
      check_mode: false
    - debug: { msg: "{{ ansible_check_mode }}" }
      check_mode: "{{ force_apply | default(false) }}"
    - fail: { msg: expected }
      ignore_errors: "{{ ansible_check_mode }}"
    - shell: echo changes
`),
    });
    const checked = await run(root, { check: true });
    expect(checked.host.commands).toEqual(['echo probe']);
    expect(checked.tasks.map((t) => t.status)).toEqual(['changed', 'ok', 'failed', 'skipped']);
    expect(checked.tasks[1]!.msg).toBe('false');
    expect(checked.r.recap[0]).toMatchObject({ ignored: 1, failed: 0 });
    const applied = await run(root);
    expect(applied.r.hosts[0]!.status).toBe('failed');
  });

  it('become_method other than sudo and a loop on import_tasks are refused at their key', async () => {
    const su = tree({ 'site.yml': PLAY('  become_method: su\n  tasks: []\n') });
    expect((await loadError(join(su, 'site.yml'))).message).toBe('become_method: "su" is not supported (fleetmend becomes with sudo only)');
    const loop = tree({ 'site.yml': PLAY('  tasks:\n    - import_tasks: a.yml\n      loop: [1]\n'), 'a.yml': '- debug: { msg: x }\n' });
    expect((await loadError(join(loop, 'site.yml'))).message).toMatch(/import_tasks cannot loop/);
    const ok = tree({ 'site.yml': PLAY('  become_method: sudo\n  tasks:\n    - shell: echo x\n      become_method: ansible.builtin.sudo\n') });
    expect((await loadPlaybook(join(ok, 'site.yml'), { env: {} })).plays).toHaveLength(1);
  });
});

describe('vars_files, -e @file and the magic variables', () => {
  it('vars_files (first found of a list) over play vars; -e @file typed as YAML 1.1', async () => {
    const root = tree({
      'site.yml': PLAY(`  vars: { a: play, b: play }
  vars_files:
    - vars/common.yml
    - [vars/missing.yml, vars/fallback.yml]
  tasks:
    - debug: { msg: "{{ a }} {{ b }} {{ c }}" }
`),
      'vars/common.yml': 'a: common\n',
      'vars/fallback.yml': 'b: fallback\nc: fallback\n',
      'extra.yml': 'c: extra-file\nflag: yes\n',
    });
    const extra = parseExtraVars([`@${join(root, 'extra.yml')}`, 'a=cli']);
    expect(extra).toEqual({ c: 'extra-file', flag: true, a: 'cli' });
    expect((await run(root)).msgs).toEqual(['common fallback fallback']);
    expect((await run(root, { extraVars: extra })).msgs).toEqual(['cli fallback extra-file']);
    expect(() => parseExtraVars(['@/nonexistent/x.yml'])).toThrow(/cannot read \/nonexistent\/x\.yml \(ENOENT\)/);
  });

  it('inventory_hostname_short, groups, hostvars (read only), play hosts, run tags, role_name/role_path, playbook_dir', async () => {
    const root = tree({
      'site.yml': PLAY(`  roles: [r]
  tasks:
    - debug: { msg: "{{ playbook_dir }}|{{ role_name | default('none') }}" }
`),
      'roles/r/tasks/main.yml': `- set_fact: { mine: 42 }
- debug:
    msg: "{{ inventory_hostname_short }}|{{ groups.web }}|{{ hostvars['h1.example.com'].mine }}|{{ hostvars['h1.example.com'].inv }}|{{ ansible_play_hosts }}|{{ play_hosts }}|{{ ansible_run_tags }}|{{ role_name }}|{{ role_path }}"
`,
    });
    const f = oneFakeHost({ vars: { inv: 'i' }, groups: ['all', 'web'] });
    const list: PlaybookHost[] = [{ name: 'h1.example.com', address: '127.0.0.1', port: 22, groups: ['all', 'web'], vars: { inv: 'i' } }];
    const pb = await loadPlaybook(join(root, 'site.yml'), { env: {} });
    const r = await runPlaybook(pb, { ...f.opts, selectHosts: () => list });
    const msgs = r.hosts[0]!.tasks!.filter((t) => t.module === 'debug').map((t) => t.msg);
    expect(msgs).toEqual([`h1|["h1.example.com"]|42|i|["h1.example.com"]|["h1.example.com"]|["all"]|r|${join(root, 'roles/r')}`, `${root}|none`]);
  });

  it('hostvars is read only, and shows each host as it is when read', () => {
    const states = new Map([['b', { setFacts: { x: 1 }, registered: {} }]]);
    const m = playMagicVars({
      allHosts: [{ name: 'a', address: '', port: 22, groups: ['all', 'web'], vars: { v: 'a' } }, { name: 'b', address: '', port: 22, groups: ['all'], vars: {} }],
      stateOf: (h) => states.get(h),
      playHosts: ['a', 'b'],
      batchHosts: ['a'],
      tags: [],
      skipTags: [],
      playbookDir: '/pb',
    });
    const hv = m.hostvars as Record<string, Record<string, unknown>>;
    expect(Object.isFrozen(hv) && Object.isFrozen(hv.b)).toBe(true);
    expect(hv.b).toMatchObject({ x: 1, inventory_hostname: 'b' });
    states.get('b')!.setFacts.x = 2;
    expect(hv.b!.x).toBe(2);
    expect(m).toMatchObject({ groups: { all: ['a', 'b'], web: ['a'] }, play_hosts: ['a'], ansible_play_hosts: ['a', 'b'], ansible_run_tags: ['all'] });
  });
});

describe('import_role / include_role and the files a module looks in', () => {
  it('include_role takes tasks_from and vars (as params); a role inside a role searches both directories, then the playbook', async () => {
    const root = tree({
      'site.yml': PLAY(`  tasks:
    - include_role:
        name: outer
        tasks_from: setup
      vars: { who: include }
      when: run_it | default(true)
`),
      'roles/outer/defaults/main.yml': 'who: default\n',
      'roles/outer/tasks/setup.yml': '- debug: { msg: "setup {{ who }} {{ role_name }}" }\n- import_role: { name: inner }\n',
      'roles/inner/tasks/main.yml': '- debug: { msg: "inner {{ role_name }}" }\n',
    });
    const pb = await loadPlaybook(join(root, 'site.yml'), { env: {} });
    const [setup, inner] = flatTasks(pb.plays[0]!.tasks);
    expect(setup!.searchPaths).toEqual([join(root, 'roles/outer'), root]);
    expect(inner!.searchPaths).toEqual([join(root, 'roles/inner'), join(root, 'roles/outer'), root]);
    expect(inner!.when.map((c) => c.source)).toEqual(['run_it | default(true)']);
    expect(taskFileCandidates(inner!.searchPaths, 'files', 'audit.rules')).toEqual([
      join(root, 'roles/inner/files/audit.rules'),
      join(root, 'roles/inner/audit.rules'),
      join(root, 'roles/outer/files/audit.rules'),
      join(root, 'roles/outer/audit.rules'),
      join(root, 'files/audit.rules'),
      join(root, 'audit.rules'),
    ]);
    expect((await run(root)).msgs).toEqual(['setup include outer', 'inner inner']);
    expect((await run(root, { extraVars: { run_it: false } })).tasks.map((t) => t.status)).toEqual(['skipped', 'skipped']);
    const missing = tree({ 'site.yml': PLAY('  tasks:\n    - import_role: { name: outer, tasks_from: nope }\n'), 'roles/outer/tasks/main.yml': '- debug: { msg: x }\n' });
    expect((await loadError(join(missing, 'site.yml'))).message).toBe(`role outer: tasks/nope.yml was not found (in ${join(missing, 'roles/outer/tasks')})`);
  });

  it("a task's any_errors_fatal stops the batch for every host, as the play keyword does", async () => {
    const root = tree({ 'site.yml': PLAY(`  tasks:\n    - fail: { msg: x }\n      when: inventory_hostname == 'h1'\n      any_errors_fatal: true\n    - shell: echo next\n`) });
    const f = oneFakeHost();
    const list: PlaybookHost[] = ['h1', 'h2'].map((name) => ({ name, address: '127.0.0.1', port: 22, vars: {} }));
    const pb = await loadPlaybook(join(root, 'site.yml'), { env: {} });
    // one host after the other, so h2 starts after h1's failure set the batch's abort
    const inTurn: RunPlaybookOptions['runHosts'] = async (hosts, job) => {
      const out = [];
      for (const h of hosts) out.push(await job(h));
      return out;
    };
    const r = await runPlaybook(pb, { ...f.opts, selectHosts: () => list, runHosts: inTurn });
    expect(r.hosts.map((h) => [h.host, h.status])).toEqual([['h1', 'failed'], ['h2', 'skipped']]);
    expect(r.hosts[1]!.tasks!.map((t) => t.msg)).toEqual(['any_errors_fatal: h1 failed at task "fail"', 'any_errors_fatal: h1 failed at task "fail"']);
    expect(f.host.commands).toEqual([]);
  });
});

describe('play keywords every task inherits', () => {
  it('play tags, check_mode and diff reach the tasks of the play and of its roles', async () => {
    const root = tree({
      'site.yml': `- hosts: all\n  tags: hardening\n  check_mode: "{{ dry | default(true) }}"\n  diff: false\n  roles: [r]\n  tasks:\n    - shell: echo play\n`,
      'roles/r/tasks/main.yml': '- shell: echo role\n  tags: r\n',
    });
    const pb = await loadPlaybook(join(root, 'site.yml'), { env: {} });
    expect(flatTasks(pb.plays[0]!.tasks).map((t) => [t.tags, t.checkMode, t.diff])).toEqual([
      [['hardening', 'r'], '{{ dry | default(true) }}', false],
      [['hardening'], '{{ dry | default(true) }}', false],
    ]);
    expect((await run(root, { tags: ['hardening'] })).host.commands).toEqual([]);
    expect((await run(root, { tags: ['hardening'], extraVars: { dry: false } })).host.commands).toEqual(['echo role', 'echo play']);
  });
});
