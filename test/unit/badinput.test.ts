/**
 * Bad input (issue 7 §3): every kind of broken input is refused before any host is contacted,
 * with exit 1, a stable code and, for files, file:line:column. A small simulated fleet proves
 * "no host contacted": its servers' accepted-connection counters must not move.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { CLI_BIN, runCli } from '../helpers/cli.js';

const cli = (argv: string[]) => runCli(argv, {});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('bad input: exit 1, a position, no host contacted', () => {
  let fleet: Fleet;
  let dir: string;
  let pb: string;
  const connections = () => fleet.hosts.reduce((n, h) => n + h.server.stats.connections, 0);
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const conn = () => ['-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--state-dir', join(dir, 'state'), '-q'];
  const sweep = (...extra: string[]) => cli(['sweep', ...conn(), '--samples', '1', ...extra]);
  const run = (playbook: string, ...extra: string[]) => cli(['run', playbook, ...conn(), ...extra]);

  /** Exit 1, the code, `file:line:col:` when a file is named, and nobody contacted. */
  async function refused(p: Promise<{ code: number; stderr: string }>, code: string, at?: { file: string; line?: number }) {
    const before = connections();
    const r = await p;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`[${code}]`);
    expect(r.stderr).not.toMatch(/internal error/);
    if (at) {
      const line = at.line !== undefined ? String(at.line) : '\\d+';
      expect(r.stderr).toMatch(new RegExp(`${esc(at.file)}:${line}:\\d+: `));
    }
    expect(connections(), 'a host was contacted').toBe(before);
    return r;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-badinput-'));
    fleet = await startFleet({ scenario: 'healthy', hosts: 2, dir: join(dir, 'fleet'), loginDelayScale: 0 });
    pb = file('ok.yml', '- name: ok\n  hosts: all\n  tasks:\n    - name: t\n      command: echo hi\n');
  });
  afterAll(async () => {
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the good inputs work (the refusals below are about the input, not the setup)', async () => {
    const r = await run(pb);
    expect(r.code, r.stderr).toBe(0);
    expect(connections()).toBeGreaterThan(0);
  });

  it('inventory: invalid YAML and a schema error (YAML and INI)', async () => {
    const badYaml = file('inv-bad.yml', 'all:\n  hosts:\n    a: {ansible_port: [1,\n');
    await refused(cli(['sweep', '-i', badYaml, '--no-store']), 'E_YAML', { file: badYaml });
    const schema = file('inv-schema.yml', 'all:\n  hosts:\n    a:\n  colour: blue\n');
    await refused(cli(['sweep', '-i', schema, '--no-store']), 'E_SCHEMA', { file: schema, line: 4 });
    // a connection variable of the wrong type is found when the host's vars are merged (no
    // position survives the merge of group_vars/host_vars): the host and the variable are named
    const badVar = file('inv-var.yml', 'all:\n  hosts:\n    a:\n      ansible_port: [22]\n');
    const r = await refused(cli(['sweep', '-i', badVar, '--no-store']), 'E_INVENTORY');
    expect(r.stderr).toMatch(/host 'a': ansible_port must be an integer/);
    const ini = file('inv-bad.ini', '[web]\nweb1 ansible_port=22\n[web:vars\nx=1\n');
    // INI is line-based: its errors name file:line (the inventory's own tests pin that shape)
    const r0 = await refused(cli(['sweep', '-i', ini, '--no-store']), 'E_INVENTORY');
    expect(r0.stderr).toContain(`${ini}:3: `);
  });

  it('playbook: invalid YAML, a schema error, an unknown module, an unknown argument, a bad template', async () => {
    const badYaml = file('pb-yaml.yml', '- name: x\n  hosts: all\n  tasks:\n    - name: t\n      command: "echo\n');
    await refused(run(badYaml), 'E_YAML', { file: badYaml });
    const schema = file('pb-schema.yml', '- name: x\n  hosts: all\n  tasks:\n    - name: t\n      command: echo hi\n      retries_typo: 3\n');
    // an unknown task key is taken for a module name: refused as such, at the key
    const r1 = await refused(run(schema), 'E_PLAYBOOK', { file: schema, line: 6 });
    expect(r1.stderr).toMatch(/retries_typo/);
    const noHosts = file('pb-nohosts.yml', '- name: x\n  tasks: []\n');
    await refused(run(noHosts), 'E_SCHEMA', { file: noHosts, line: 1 });
    const unknown = file('pb-module.yml', '- name: x\n  hosts: all\n  tasks:\n    - name: t\n      frobnicate: {a: 1}\n');
    const r2 = await refused(run(unknown), 'E_PLAYBOOK', { file: unknown, line: 5 });
    expect(r2.stderr).toMatch(/frobnicate/);
    const badArg = file('pb-arg.yml', '- name: x\n  hosts: all\n  tasks:\n    - name: t\n      command:\n        cmd: echo hi\n        shout: yes\n');
    const r3 = await refused(run(badArg), 'E_SCHEMA', { file: badArg });
    expect(r3.stderr).toMatch(/shout/);
    const tpl = file('pb-tpl.yml', '- name: x\n  hosts: all\n  tasks:\n    - name: t\n      command: echo {{ oops\n');
    await refused(run(tpl), 'E_TEMPLATE', { file: tpl, line: 5 });
  });

  it('playbook: an Ansible construct fleetmend does not do (pre_tasks, delegate_to, a lookup, another module), at its file:line:column', async () => {
    const head = '- hosts: all\n  become: yes\n';
    const cases: [string, string, number, RegExp][] = [
      ['pb-pre.yml', `${head}  pre_tasks:\n    - debug: { msg: x }\n`, 3, /pre_tasks is not supported by fleetmend \(construct 'pre_tasks'\)/],
      ['pb-delegate.yml', `${head}  tasks:\n    - ansible.builtin.debug: { msg: x }\n      delegate_to: localhost\n`, 5, /delegate_to is not supported/],
      ['pb-lookup.yml', `${head}  tasks:\n    - ansible.builtin.debug:\n        msg: "{{ lookup('file', '/etc/hostname') }}"\n`, 5, /lookups \(lookup\(\.\.\.\)\) are not supported/],
      ['pb-git.yml', `${head}  tasks:\n    - ansible.builtin.git: { repo: a, dest: /tmp/a }\n`, 4, /unknown module or task keyword 'ansible\.builtin\.git'/],
    ];
    for (const [name, text, line, message] of cases) {
      const p = file(name, text);
      const r = await refused(run(p), /lookup/.test(text) ? 'E_TEMPLATE' : 'E_PLAYBOOK', { file: p, line });
      expect(r.stderr, name).toMatch(message);
    }
  });

  it('policy: invalid YAML and a schema error', async () => {
    const badYaml = file('pol-yaml.yml', 'controls:\n  - id: a\n    when: [\n');
    await refused(sweep('--policy', badYaml), 'E_YAML', { file: badYaml });
    const schema = file('pol-schema.yml', 'name: p\ncontrols:\n  - id: a\n    title: t\n    impact: 7\n    condition: audit.enabled == 1\n');
    await refused(sweep('--policy', schema), 'E_SCHEMA', { file: schema, line: 5 });
    const badExpr = file('pol-expr.yml', 'name: p\ncontrols:\n  - id: a\n    title: t\n    impact: 1\n    condition: audit.enabled ==\n');
    await refused(sweep('--policy', badExpr), 'E_EXPR', { file: badExpr, line: 6 });
  });

  it('report templates: a broken template in --template-dir', async () => {
    const tdir = join(dir, 'tpl');
    mkdirSync(tdir, { recursive: true });
    writeFileSync(join(tdir, 'md.header.hbs'), '# Run {{run.id}}\n\n{{#each hosts}}\n{{host}}\n');
    const r = await refused(sweep('-o', join(dir, 'reports'), '--format', 'md', '--template-dir', tdir), 'E_TEMPLATE', { file: join(tdir, 'md.header.hbs') });
    // where the parser stopped (line 5, column 1: end of file inside {{#each}}) and why
    expect(r.stderr).toContain(`${join(tdir, 'md.header.hbs')}:5:1: `);
    expect(r.stderr).toMatch(/Expecting .*got 'EOF'/);
  });

  it('--limit matching no host, and an empty retry file', async () => {
    await refused(sweep('-l', 'nosuch*'), 'E_PATTERN');
    await refused(run(pb, '-l', 'nosuch:&other'), 'E_PATTERN');
    const empty = file('empty.retry', '\n');
    await refused(run(pb, '-l', `@${empty}`), 'E_PATTERN');
  });

  it('an unreadable key file: missing, a directory, not a key', async () => {
    const inv = readFileSync(fleet.inventoryPath, 'utf8');
    const withKey = (name: string, key: string) => file(name, inv.replace(/ansible_ssh_private_key_file: .*/g, `ansible_ssh_private_key_file: ${key}`));
    const keyDir = join(dir, 'keydir');
    mkdirSync(keyDir, { recursive: true });
    const garbage = file('garbage_key', 'this is not a key\n');
    chmodSync(garbage, 0o600);
    for (const [name, key] of [['inv-missing.yml', join(dir, 'missing_key')], ['inv-dir.yml', keyDir], ['inv-garbage.yml', garbage]] as const) {
      const invFile = withKey(name, key);
      const r = await refused(cli(['sweep', '-i', invFile, '--known-hosts', fleet.knownHostsPath, '--no-store', '-q']), 'E_KEYFILE');
      expect(r.stderr, name).toContain(key);
    }
  });

  it('-e that does not parse', async () => {
    await refused(run(pb, '-e', '{"a": 1'), 'E_USAGE');
    await refused(run(pb, '-e', '[1, 2]'), 'E_USAGE');
    await refused(run(pb, '-e', '=novalue'), 'E_USAGE');
    await refused(run(pb, '-e', '{"bad-name": 1}'), 'E_USAGE');
  });

  describe('hostile input (issue 16 §4, §5): bounded, positioned, printed safely', () => {
    it('host ranges past the limit (one range or a product), YAML and INI: E_INVENTORY at file:line', async () => {
      const yml = file('inv-range.yml', 'all:\n  children:\n    web:\n      hosts:\n        ok1:\n        web[0:99999999]:\n');
      const r1 = await refused(cli(['sweep', '-i', yml, '--no-store']), 'E_INVENTORY', { file: yml, line: 6 });
      expect(r1.stderr).toMatch(/declares 100,000,000 hosts; the limit is 100,000 per entry/);
      const ini = file('inv-range.ini', '[web]\nok1\nrack[0:99]node[0:9999] ansible_user=x\n');
      const r2 = await refused(cli(['inventory', '-i', ini, '--list']), 'E_INVENTORY');
      expect(r2.stderr).toContain(`${ini}:3: `);
      expect(r2.stderr).toMatch(/declares 1,000,000 hosts/);
    });

    it('`inventory --list` on web[0:99999999] exits 1 at once in a 64 MB heap (the built binary)', async () => {
      const yml = file('inv-range-bin.yml', 'all:\n  hosts:\n    web[0:99999999]:\n');
      const t0 = Date.now();
      const child = spawn(process.execPath, ['--max-old-space-size=64', CLI_BIN, 'inventory', '-i', yml, '--list'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
      clearTimeout(killer);
      expect(code, stderr).toBe(1);
      expect(stderr).toContain(`${yml}:3:5: `);
      expect(stderr).toContain('[E_INVENTORY]');
      expect(Date.now() - t0).toBeLessThan(10_000);
    }, 30_000);

    it('a YAML alias bomb in an inventory or a playbook: E_YAML at file:line, not an internal error', async () => {
      const bomb = (top: string) =>
        `${top}a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n` +
        'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n' +
        'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n';
      const inv = file('inv-bomb.yml', bomb(''));
      const r1 = await refused(cli(['sweep', '-i', inv, '--no-store']), 'E_YAML', { file: inv, line: 4 });
      expect(r1.stderr).toMatch(/aliases expand to more than 100 nodes/);
      const pbBomb = file('pb-bomb.yml', `- name: x\n  hosts: all\n  vars:\n${bomb('').split('\n').map((l) => (l ? `    ${l}` : l)).join('\n')}  tasks: []\n`);
      await refused(run(pbBomb), 'E_YAML', { file: pbBomb, line: 7 });
    });

    it('terminal control characters from the inventory are shown escaped in the error, never sent', async () => {
      // a host named with an OSC "set window title" sequence, a CSI "erase line" and a bidi override
      const inv = file('inv-ctl.yml', 'all:\n  hosts:\n    "evil\\e]0;owned\\a\\e[2K\\r\\u202Eok":\n      ansible_port: [22]\n');
      const r = await refused(cli(['sweep', '-i', inv, '--no-store']), 'E_INVENTORY');
      // (the '[' of the CSI reads as an unterminated host range: that is the error, quoting the name)
      expect(r.stderr).toContain("'evil\\x1b]0;owned\\x07\\x1b[2K\\r\\u202eok'");
      expect(r.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/);
    });

    it('`inventory --graph` and `-l` show control characters in host and group names escaped, never sent', async () => {
      const inv = file('inv-ctl-ok.yml', 'all:\n  children:\n    "g\\e]0;grp\\a":\n      hosts:\n        "evil\\e]0;owned\\a\\r\\u202Eok":\n        "forged\\nline":\n        web1:\n');
      for (const view of [['--graph'], ['-l', 'all']]) {
        const r = await cli(['inventory', '-i', inv, ...view]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain('evil\\x1b]0;owned\\x07\\r\\u202eok');
        expect(r.stdout).toContain('web1');
        expect(r.stdout).toContain('forged\\nline');
        expect(r.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/);
      }
      expect((await cli(['inventory', '-i', inv, '--graph'])).stdout).toContain('@g\\x1b]0;grp\\x07:');
    });

    it('an error quoting a 4 KB task command is cut, keeping file:line and the code', async () => {
      const big = `echo ${'A'.repeat(4096)} {{ oops`;
      const pbBig = file('pb-big.yml', `- name: x\n  hosts: all\n  tasks:\n    - name: t\n      command: ${JSON.stringify(big)}\n`);
      const r = await refused(run(pbBig), 'E_TEMPLATE', { file: pbBig, line: 5 });
      const line = r.stderr.split('\n').find((l) => l.includes('[E_TEMPLATE]'))!;
      expect(line.length).toBeLessThan(800);
      expect(line).toMatch(/A{100}…/);
      expect(line).toMatch(/more characters/);
    });
  });
});
