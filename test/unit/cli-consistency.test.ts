/**
 * Issue 24 item 8, the parts that need no simulated host: the names a playbook error advertises,
 * `runs`/`history --last`, `ansible_become_method`, the drift baseline of the same fleet under
 * another inventory file, `sim`'s listing, where `demo` keeps its store, and `npm run demo`'s
 * build step. (The no-auditctl host, the locked host's check mode and the `states` disk host are
 * in test/sim/cli-consistency.test.ts.)
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ansibleModuleNames, moduleNames, resolveModule } from '../../src/modules/index.js';
import { parseInventory } from '../../src/inventory/index.js';
import { openStore } from '../../src/store/index.js';
import { driftSinceLast } from '../../src/drift/index.js';
import { hostListing } from '../../src/sim/fleet.js';
import { buildHost, summarize, T0 } from '../fixtures/results/build.js';
import type { HostResult } from '../../src/results/index.js';
import { loadError } from '../helpers/playbook.js';
import { runCli } from '../helpers/cli.js';
// @ts-expect-error: a plain .mjs script (package.json "demo"), no type declarations
import { staleReason } from '../../scripts/build-if-stale.mjs';

const dir = mkdtempSync(join(tmpdir(), 'fm-cli-consistency-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fleetmend-only modules are not advertised under ansible.builtin', () => {
  it('the FQCN list names only ansible-core modules, and ansible.builtin.auditd_conf does not resolve', () => {
    const names = ansibleModuleNames();
    for (const own of ['auditd_conf', 'audit_status', 'auditctl']) {
      expect(names).not.toContain(`ansible.builtin.${own}`);
      expect(resolveModule(`ansible.builtin.${own}`)).toBeUndefined();
      expect(resolveModule(own)?.name).toBe(own);
    }
    expect(names).toContain('ansible.builtin.service');
    expect(resolveModule('ansible.builtin.systemd')?.name).toBe('service');
  });

  it("an unknown FQCN's error lists no fleetmend-only module", () => {
    const err = loadError('- hosts: all\n  tasks:\n    - ansible.builtin.git: { repo: /x, dest: y }\n');
    expect(err.message).toMatch(/supported: .*ansible\.builtin\.service/);
    expect(err.message).not.toMatch(/ansible\.builtin\.(auditd_conf|audit_status|auditctl|kernel_cmdline)\b/);
  });
});

describe('runs and history: --last N (a row count); --limit N kept as a deprecated alias', () => {
  const state = join(dir, 'runs-state');
  const hostA = (i: number): HostResult => ({ ...buildHost('healthy', { index: 1 }), started_at: new Date(T0 + i * 60_000).toISOString() });
  const store = openStore(state);
  for (let i = 0; i < 3; i++) {
    const id = `run-${i}`;
    store.startRun({ id, mode: 'sweep', started_at: new Date(T0 + i * 60_000).toISOString(), forks: 5, inventory: '/inv.yml' }, [hostA(i).host]);
    store.recordHost(id, hostA(i));
    store.finishRun(id, summarize([hostA(i)]));
  }
  store.close();
  const ids = (out: string) => [...out.matchAll(/^(run-\d)\s/gm)].map((m) => m[1]);

  it('runs --last 2 lists the two newest, without a warning', async () => {
    const r = await runCli(['runs', '--state-dir', state, '--last', '2']);
    expect(r.code).toBe(0);
    expect(ids(r.stdout)).toEqual(['run-2', 'run-1']);
    expect(r.stderr).toBe('');
  });

  it('runs --limit 1 and history --limit 1 still work, and say --last is the name', async () => {
    const r = await runCli(['runs', '--state-dir', state, '--limit', '1']);
    expect(r.code).toBe(0);
    expect(ids(r.stdout)).toEqual(['run-2']);
    expect(r.stderr).toMatch(/--limit N is deprecated here, use --last N/);
    const h = await runCli(['history', hostA(0).host, '--state-dir', state, '--limit', '1']);
    expect(h.code).toBe(0);
    expect(ids(h.stdout)).toEqual(['run-2']);
    expect(h.stderr).toMatch(/use --last N/);
    // history reads oldest first: the newest two runs, in time order
    const last = await runCli(['history', hostA(0).host, '--state-dir', state, '--last', '2']);
    expect(ids(last.stdout)).toEqual(['run-1', 'run-2']);
  });
});

describe('ansible_become_method', () => {
  it('sudo, which is what fleetmend uses, is accepted without a warning', () => {
    const inv = parseInventory('hosts.ini', '[web]\nweb1 ansible_become=true ansible_become_method=sudo\n');
    expect(inv.warnings.join('\n')).not.toMatch(/become_method/);
  });

  it('another method is refused, naming the host and the fix', () => {
    expect(() => parseInventory('hosts.ini', '[web]\nweb1 ansible_become=true ansible_become_method=su\n')).toThrow(
      /host 'web1': ansible_become_method "su" is not supported: fleetmend becomes with sudo only/,
    );
  });
});

describe('the drift baseline is the previous run of the same fleet', () => {
  const hosts = [buildHost('healthy', { index: 1 }), buildHost('records-lost', { index: 2 })];
  function record(state: string, id: string, at: number, inventory: string, list: HostResult[]): void {
    const s = openStore(state);
    try {
      s.startRun({ id, mode: 'sweep', started_at: new Date(at).toISOString(), finished_at: new Date(at + 1000).toISOString(), forks: 5, inventory }, list.map((h) => h.host));
      for (const h of list) s.recordHost(id, h);
      s.finishRun(id, summarize(list));
    } finally {
      s.close();
    }
  }
  const previousOf = (state: string, id: string) => {
    const s = openStore(state);
    try {
      return driftSinceLast(s, id).previous?.id;
    } finally {
      s.close();
    }
  };

  it('the YAML copy of an INI fleet (same hosts and addresses) finds the INI sweep', () => {
    const state = join(dir, 'drift-copy');
    record(state, 'ini', T0, '/fleet/hosts.ini', hosts);
    record(state, 'yaml', T0 + 60_000, '/fleet/hosts.yml', structuredClone(hosts));
    expect(previousOf(state, 'yaml')).toBe('ini');
  });

  it('another fleet is not a baseline; the same inventory path still is (runs recorded before)', () => {
    const state = join(dir, 'drift-other');
    record(state, 'a', T0, '/fleet/a.yml', hosts);
    const moved = hosts.map((h) => ({ ...structuredClone(h), port: h.port + 1 }));
    record(state, 'b', T0 + 60_000, '/fleet/b.yml', moved);
    expect(previousOf(state, 'b')).toBeUndefined();
    // the old key: same path, the hosts changed (one was added)
    record(state, 'c', T0 + 120_000, '/fleet/a.yml', [...hosts, buildHost('healthy', { index: 3 })]);
    expect(previousOf(state, 'c')).toBe('a');
  });
});

describe('sim lists every host it starts', () => {
  it('30 hosts: the 13 special ones a line each, the 17 healthy ones folded in one line', () => {
    const special = Array.from({ length: 13 }, (_, i) => ({ name: `st-${String.fromCharCode(97 + i)}`, address: '127.0.0.1', port: 40000 + i, note: `state ${i}` }));
    const healthy = Array.from({ length: 17 }, (_, i) => ({ name: `node-${String(i + 1).padStart(2, '0')}`, address: '127.0.0.1', port: 41000 + i, note: 'healthy' }));
    const lines = hostListing([...special, ...healthy]);
    expect(lines).toHaveLength(14);
    for (const h of special) expect(lines.some((l) => l.includes(h.name) && l.includes(`127.0.0.1:${h.port}`) && l.includes(h.note))).toBe(true);
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}node-\[01-17\] \(17 hosts, ports in the inventory\) {2}healthy$/));
  });
});

describe('demo keeps its store under $XDG_STATE_HOME', () => {
  it('--help names the XDG default, not a directory in the working directory', async () => {
    const r = await runCli(['demo', '--help']);
    expect(r.stdout).toMatch(/\$XDG_STATE_HOME\/fleetmend\/demo/);
    expect(r.stdout).not.toMatch(/\.fleetmend-state/);
  });
});

describe('npm run demo builds only when dist is stale (scripts/build-if-stale.mjs)', () => {
  it('missing, older than a source file, or up to date', () => {
    const root = join(dir, 'pkg');
    mkdirSync(join(root, 'src'), { recursive: true });
    writeFileSync(join(root, 'src', 'a.ts'), 'export {};\n');
    writeFileSync(join(root, 'tsconfig.json'), '{}\n');
    expect(staleReason(root)).toMatch(/dist\/bin\/main\.js is missing/);
    mkdirSync(join(root, 'dist', 'bin'), { recursive: true });
    writeFileSync(join(root, 'dist', 'bin', 'main.js'), '');
    const past = new Date(Date.now() - 60_000);
    for (const p of [join(root, 'src', 'a.ts'), join(root, 'src'), join(root, 'tsconfig.json')]) utimesSync(p, past, past);
    expect(staleReason(root)).toBeUndefined();
    utimesSync(join(root, 'src', 'a.ts'), new Date(), new Date(Date.now() + 5_000));
    expect(staleReason(root)).toMatch(/^src changed/);
  });
});

describe("the README's module list and playbook table name everything shipped", () => {
  const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
  const section = (from: string, to: string) => readme.slice(readme.indexOf(from), readme.indexOf(to, readme.indexOf(from)));

  it('every module in src/modules is in the Modules paragraph', () => {
    const list = section('Modules (`src/modules/`', '**Ansible playbooks, unchanged**');
    // `meta` is written with its one action (`meta: flush_handlers`)
    for (const m of moduleNames()) expect(list, m).toMatch(new RegExp(`\`${m}[\`:]`));
  });

  it('every playbook in playbooks/ has a row in the shipped-playbooks table', () => {
    const table = section('Shipped playbooks', 'Modules (`src/modules/`');
    for (const f of readdirSync(join(process.cwd(), 'playbooks')).filter((n) => n.endsWith('.yml'))) expect(table, f).toContain(`| \`${f}\` |`);
  });
});
