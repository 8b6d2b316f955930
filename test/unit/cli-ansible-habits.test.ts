/**
 * Issue 24 item 9: the ansible-playbook / ansible-inventory habits, without a host: `-e @FILE`,
 * `inventory --host`, `run --syntax-check / --list-tasks / --list-hosts / --start-at-task`, a
 * missing `-i` in one line, and the inventory from ANSIBLE_INVENTORY or ansible.cfg.
 * (`--start-at-task` and `-e @FILE` in a real run: test/sim/cli-consistency.test.ts.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseExtraVars } from '../../src/playbook/index.js';
import { playbookRequest, type RunCliOptions } from '../../src/cli/run.js';
import { resolveInventory, inventoryFromConfig } from '../../src/cli/inventory-source.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-cli-habits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
};
/** An environment with no Ansible configuration anywhere (HOME without ~/.ansible.cfg). */
const bareEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env, HOME: join(dir, 'home-empty') };
  delete env['ANSIBLE_INVENTORY'];
  delete env['ANSIBLE_CONFIG'];
  return env;
};

const INVENTORY = file('hosts.ini', '[web]\nweb1 ansible_host=10.0.0.1 backlog_limit=16384 ansible_password=hunter2hunter2\nweb2 ansible_host=10.0.0.2\n[db]\ndb1 ansible_host=10.0.1.1\n');
const PLAYBOOK = file(
  'pb.yml',
  '- name: Web first\n  hosts: web\n  tasks:\n    - name: one\n      debug: { msg: a }\n      tags: [x]\n    - name: two\n      debug: { msg: b }\n- name: Then all\n  hosts: all\n  tasks:\n    - name: three\n      debug: { msg: c }\n',
);

describe('-e @FILE', () => {
  const vars = (extra: string[]) => parseExtraVars(playbookRequest('pb.yml', { extraVars: extra } as unknown as RunCliOptions).options.extraVars as string[]);

  it('reads a YAML file and a JSON file, by a path relative to the working directory, later -e winning', () => {
    const yml = file('vars/site.yml', 'backlog_limit: 16384\nflag: yes\nlist: [1, 2]\n');
    const jsn = file('vars/more.json', '{"who": "ops", "backlog_limit": 9000}');
    expect(vars([`@${relative(process.cwd(), yml)}`])).toEqual({ backlog_limit: 16384, flag: true, list: [1, 2] });
    expect(vars([`@${yml}`, `@${jsn}`, 'who=me'])).toEqual({ backlog_limit: 9000, flag: true, list: [1, 2], who: 'me' });
  });

  it('a broken file, a list, a bad name or a missing file is E_USAGE/E_YAML naming file:line, exit 1 before any host', async () => {
    const bad = file('vars/bad.yml', 'a: 1\nb: [unclosed\n');
    const list = file('vars/list.yml', '- a\n- b\n');
    const name = file('vars/name.yml', 'ok: 1\nnot-a-name: 2\n');
    for (const [arg, msg] of [
      [`@${bad}`, new RegExp(`${bad}:\\d+:\\d+: invalid YAML`)],
      [`@${list}`, new RegExp(`${list}:1:1: -e @.*must hold a mapping`)],
      [`@${name}`, new RegExp(`${name}:2:1: -e @.*invalid variable name "not-a-name"`)],
      [`@${join(dir, 'nope.yml')}`, /-e @.*nope\.yml: cannot read .*ENOENT/],
    ] as const) {
      const r = await runCli(['run', PLAYBOOK, '-i', INVENTORY, '--no-store', '-e', arg]);
      expect(r.code, arg).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe('inventory --host NAME', () => {
  it("prints one host's merged vars as JSON, secrets masked, as ansible-inventory --host", async () => {
    const r = await runCli(['inventory', '-i', INVENTORY, '--host', 'web1']);
    expect(r.code).toBe(0);
    const vars = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(vars).toMatchObject({ ansible_host: '10.0.0.1', backlog_limit: 16384 });
    expect(r.stdout).not.toContain('hunter2');
  });

  it('an unknown host is exit 1, naming it', async () => {
    const r = await runCli(['inventory', '-i', INVENTORY, '--host', 'web9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no host named "web9"/);
  });
});

describe('run --syntax-check, --list-tasks, --list-hosts', () => {
  it('--syntax-check: exit 0 naming the playbook; an invalid one exit 1 at file:line; no -i needed', async () => {
    const ok = await runCli(['run', PLAYBOOK, '--syntax-check'], bareEnv());
    expect(ok).toMatchObject({ code: 0, stdout: `\nplaybook: ${PLAYBOOK}\n` });
    const broken = file('broken.yml', '- hosts: all\n  tasks:\n    - name: x\n      no_such_module: {}\n');
    const bad = await runCli(['run', broken, '--syntax-check'], bareEnv());
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`${broken}:4:\\d+: .*no_such_module`));
  });

  it('--list-tasks lists each play and its tasks with their tags; --start-at-task drops what comes before', async () => {
    const r = await runCli(['run', PLAYBOOK, '--list-tasks'], bareEnv());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `\nplaybook: ${PLAYBOOK}\n\n  play #1 (web): Web first\tTAGS: []\n    tasks:\n      one\tTAGS: [x]\n      two\tTAGS: []\n\n  play #2 (all): Then all\tTAGS: []\n    tasks:\n      three\tTAGS: []\n`,
    );
    const from = await runCli(['run', PLAYBOOK, '--list-tasks', '--start-at-task', 'three'], bareEnv());
    expect(from.stdout).toBe(`\nplaybook: ${PLAYBOOK}\n\n  play #1 (all): Then all\tTAGS: []\n    tasks:\n      three\tTAGS: []\n`);
  });

  it('--start-at-task is refused with --redis (a worker runs whole plays), before Redis is contacted', async () => {
    const r = await runCli(['run', PLAYBOOK, '-i', INVENTORY, '--no-store', '--start-at-task', 'two', '--redis', 'redis://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--start-at-task is not supported with --redis/);
  });

  it('--list-hosts lists the hosts each play would run on, with --limit', async () => {
    const r = await runCli(['run', PLAYBOOK, '-i', INVENTORY, '--list-hosts', '-l', 'web1:db1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("  play #1 (web): Web first\tTAGS: []\n    pattern: ['web']\n    hosts (1):\n      web1\n");
    expect(r.stdout).toContain("    pattern: ['all']\n    hosts (2):\n      web1\n      db1\n");
  });
});

describe('the inventory when -i is absent', () => {
  it('none anywhere: one line with the fix (exit 1), not the whole help', async () => {
    for (const argv of [['sweep'], ['run', PLAYBOOK], ['inventory', '--list'], ['run', PLAYBOOK, '--list-hosts']]) {
      const r = await runCli(argv, bareEnv());
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.stderr).toBe(
        'fleetmend: no inventory: give -i INVENTORY (an Ansible YAML or INI file), or set ANSIBLE_INVENTORY, or put "inventory = FILE" under [defaults] in ansible.cfg [E_USAGE]\n',
      );
    }
  });

  it('ANSIBLE_INVENTORY is used, and said on stderr', async () => {
    const r = await runCli(['inventory', '--limit', 'db'], { ...bareEnv(), ANSIBLE_INVENTORY: INVENTORY });
    expect(r).toMatchObject({ code: 0, stdout: 'db1\n' });
    expect(r.stderr).toBe(`inventory: ${INVENTORY} (from ANSIBLE_INVENTORY)\n`);
  });

  it('ansible.cfg in Ansible order: $ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg; ANSIBLE_INVENTORY first; paths relative to the file', () => {
    const cwd = join(dir, 'project');
    const home = join(dir, 'home');
    file('project/ansible.cfg', '[ssh_connection]\ninventory = wrong.ini\n[defaults]\n# comment\nforks = 5\ninventory = inv/hosts.ini  ; inline comment\n');
    file('home/.ansible.cfg', '[defaults]\ninventory = ~/home-hosts.yml\n');
    const explicit = file('elsewhere/my.cfg', '[defaults]\ninventory=../x.yml\n');
    const stderr = new PassThrough();
    let said = '';
    stderr.on('data', (d: Buffer) => (said += d.toString()));
    const env = { ...bareEnv(), HOME: home };
    const io = (e: NodeJS.ProcessEnv) => ({ env: e, stderr });
    expect(resolveInventory(undefined, io({ ...env, ANSIBLE_CONFIG: explicit }), cwd)).toBe(join(dir, 'x.yml'));
    expect(resolveInventory(undefined, io(env), cwd)).toBe(join(cwd, 'inv', 'hosts.ini'));
    expect(resolveInventory(undefined, io(env), join(dir, 'no-cfg-here'))).toBe(join(home, 'home-hosts.yml'));
    expect(resolveInventory(undefined, io({ ...env, ANSIBLE_INVENTORY: '/srv/fleet.yml' }), cwd)).toBe('/srv/fleet.yml');
    expect(resolveInventory('given.yml', io(env), cwd)).toBe('given.yml');
    expect(said).toContain(`inventory: ${join(cwd, 'inv', 'hosts.ini')} (from ${join(cwd, 'ansible.cfg')}:6)\n`);
    expect(() => resolveInventory(undefined, io({ ...env, ANSIBLE_INVENTORY: 'a.yml,b.yml' }), cwd)).toThrow(/ANSIBLE_INVENTORY names 2 inventories \(a\.yml, b\.yml\): fleetmend reads one file/);
    expect(inventoryFromConfig('[defaults]\nhostfile = old.ini\n')).toEqual({ value: 'old.ini', line: 2 });
  });
});
