/**
 * Bad input (issue 7 §3): every kind of broken input is refused before any host is contacted,
 * with exit 1, a stable code and, for files, file:line:column. A small simulated fleet proves
 * "no host contacted": its servers' accepted-connection counters must not move.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { runCli } from '../helpers/cli.js';

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
});
