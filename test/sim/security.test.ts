/**
 * Security (issue 7 §4) on the simulated fleet through the CLI: no command injection through
 * inventory vars, facts or -e values; host-key verification that a key change between connects
 * cannot bypass (accept-new included); secrets absent from terminal output, errors, reports and
 * the store's bytes; owner-only files and directories; hostile host names cannot write outside
 * the report directory.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { runCli } from '../helpers/cli.js';

const cli = (argv: string[], env: NodeJS.ProcessEnv = {}) => runCli(argv, { HOME: tmpdir(), ...env });

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...walk(p));
  }
  return out;
}

type Inv = { all: { hosts: Record<string, Record<string, unknown>>; children?: unknown } };

const PAYLOADS = ['$(touch /tmp/pwned-a)', '`touch /tmp/pwned-b`', '; touch /tmp/pwned-c', `'"`, '&& touch /tmp/pwned-d #', '$HOME ${PATH} \\ |'];

describe('security on the simulated fleet', () => {
  let fleet: Fleet;
  let dir: string;
  let inv: Inv;
  const writeInv = (name: string, data: Inv) => {
    const p = join(dir, name);
    writeFileSync(p, stringify(data));
    return p;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-sec-'));
    fleet = await startFleet({ scenario: 'healthy', hosts: 3, dir: join(dir, 'fleet'), loginDelayScale: 0, downtimeMs: 800 });
    inv = parse(readFileSync(fleet.inventoryPath, 'utf8')) as Inv;
  });
  afterAll(async () => {
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('no command injection', () => {
    const pwned = () =>
      fleet.hosts.flatMap((h) => h.machine.fs.list('/tmp').filter((f) => f.startsWith('pwned')).map((f) => `${h.name}:/tmp/${f}`));

    it.each(PAYLOADS.map((p, i) => [i, p] as const))('payload %i %s arrives literally through inventory vars, -e and facts', async (i, payload) => {
      const host = fleet.hosts[0]!;
      // a hostile host: its os-release carries the payload, which the facts parser reads
      host.machine.fs.put('/etc/os-release', `ID=debian\nVERSION_ID="12"\nPRETTY_NAME=${JSON.stringify(payload)}\n`);
      const data = structuredClone(inv);
      data.all.hosts[host.name]!.inv_payload = payload;
      const invFile = writeInv(`inv-inject-${i}.yml`, data);
      const pb = join(dir, `inject-${i}.yml`);
      writeFileSync(pb, stringify([{
        name: 'inject', hosts: host.name, tasks: [
          { name: 'facts', audit_status: {} },
          { name: 'inventory var via shell', shell: "printf '%s' {{ inv_payload }} > /tmp/got-inv" },
          { name: 'extra var via shell', shell: "printf '%s' {{ extra_payload }} > /tmp/got-extra" },
          { name: 'fact via shell', shell: "printf '%s' {{ facts.system.distribution.pretty_name }} > /tmp/got-fact" },
          { name: 'inventory var via command', command: 'printf %s {{ inv_payload }}', register: 'cmd' },
        ],
      }]));
      const r = await cli(['run', pb, '-i', invFile, '--known-hosts', fleet.knownHostsPath, '--no-store', '--json', '-q',
        '-e', JSON.stringify({ extra_payload: payload })]);
      expect(r.code, r.stderr).toBe(0);
      const fs = host.machine.fs;
      expect(fs.read('/tmp/got-inv', true)).toBe(payload);
      expect(fs.read('/tmp/got-extra', true)).toBe(payload);
      expect(fs.read('/tmp/got-fact', true)).toBe(payload);
      const doc = JSON.parse(r.stdout) as { hosts: { tasks: { task: string; stdout?: string }[] }[] };
      expect(doc.hosts[0]!.tasks.find((t) => t.task === 'inventory var via command')?.stdout).toBe(payload);
      expect(pwned()).toEqual([]);
    }, 30_000);

    // issue 16 §2: a value inside the author's own double (or single) quotes; the single quotes
    // fleetmend used to wrap it in were literal there, so $(...) ran.
    it.each(PAYLOADS.map((p, i) => [i, p] as const))('payload %i %s arrives literally inside the author\'s double and single quotes', async (i, payload) => {
      const host = fleet.hosts[0]!;
      const data = structuredClone(inv);
      data.all.hosts[host.name]!.inv_payload = payload;
      const invFile = writeInv(`inv-quoted-${i}.yml`, data);
      const pb = join(dir, `quoted-${i}.yml`);
      writeFileSync(pb, stringify([{
        name: 'quoted', hosts: host.name, tasks: [
          { name: 'extra var in double quotes', shell: 'printf \'%s\' "ticket: {{ ticket }}" > /tmp/got-dq' },
          { name: 'inventory var in double quotes', shell: 'printf \'%s\' "[{{ inv_payload }}]" > /tmp/got-dq-inv' },
          { name: 'extra var in single quotes', shell: "printf '%s' 'ticket: {{ ticket }}' > /tmp/got-sq" },
          { name: 'in double quotes in $( )', shell: 'printf \'%s\' "$(printf \'%s\' "{{ ticket }}")" > /tmp/got-cs' },
          { name: 'command in double quotes', command: 'printf %s "ticket: {{ ticket }}"', register: 'cmd' },
        ],
      }]));
      const r = await cli(['run', pb, '-i', invFile, '--known-hosts', fleet.knownHostsPath, '--no-store', '--json', '-q',
        '-e', JSON.stringify({ ticket: payload })]);
      expect(r.code, r.stderr).toBe(0);
      const fs = host.machine.fs;
      expect(fs.read('/tmp/got-dq', true)).toBe(`ticket: ${payload}`);
      expect(fs.read('/tmp/got-dq-inv', true)).toBe(`[${payload}]`);
      expect(fs.read('/tmp/got-sq', true)).toBe(`ticket: ${payload}`);
      expect(fs.read('/tmp/got-cs', true)).toBe(payload);
      const doc = JSON.parse(r.stdout) as { hosts: { tasks: { task: string; stdout?: string }[] }[] };
      expect(doc.hosts[0]!.tasks.find((t) => t.task === 'command in double quotes')?.stdout).toBe(`ticket: ${payload}`);
      expect(pwned()).toEqual([]);
    }, 30_000);

    it('a value inside backquotes is refused before any host is contacted, naming file:line', async () => {
      const pb = join(dir, 'unsafe-pos.yml');
      writeFileSync(pb, '- name: unsafe\n  hosts: all\n  tasks:\n    - name: t\n      shell: "echo `echo {{ ticket }}`"\n');
      const before = fleet.hosts.map((h) => h.server.stats.connections);
      const r = await cli(['run', pb, '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--no-store', '-q', '-e', 'ticket=x']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${pb}:5:`);
      expect(r.stderr).toContain('E_SHELL_QUOTE');
      expect(r.stderr).toContain('inside backquotes');
      expect(fleet.hosts.map((h) => h.server.stats.connections)).toEqual(before);
    }, 30_000);
  });

  describe('host-key verification cannot be bypassed', () => {
    it('accept-new records a key once; a key changed before the next sweep is refused naming both fingerprints', async () => {
      const host = fleet.hosts[1]!;
      const kh = join(dir, 'known_hosts_accept_new');
      writeFileSync(kh, '');
      const args = ['sweep', '-i', fleet.inventoryPath, '--known-hosts', kh, '--host-key-checking', 'accept-new', '-l', host.name, '--samples', '1', '--no-store', '--json', '-q', '--no-policy'];
      const first = await cli(args);
      expect(first.code, first.stderr).toBe(0);
      expect(readFileSync(kh, 'utf8')).toContain(`[${host.address}]:${host.port} `);
      const old = host.hostKeyFingerprint;
      host.rekey();
      try {
        const second = await cli(args);
        expect(second.code).toBe(4);
        const h = (JSON.parse(second.stdout) as { hosts: { status: string; error: { code: string; message: string } }[] }).hosts[0]!;
        expect(h.status).toBe('unreachable');
        expect(h.error.code).toBe('E_HOSTKEY_CHANGED');
        expect(h.error.message).toContain(old);
        const fps = new Set([...h.error.message.matchAll(/SHA256:[A-Za-z0-9+/]+/g)].map((m) => m[0]));
        expect(fps.size).toBe(2);
        // the changed key was not written over the recorded one
        const lines = readFileSync(kh, 'utf8').split('\n').filter((l) => l.startsWith(`[${host.address}]:${host.port} `));
        expect(lines).toHaveLength(1);
      } finally {
        host.server.rekey(host.server.hostKey); // keep serving; later tests use strict with their own files
      }
    }, 60_000);

    it('within one run: a key changed across the reboot module\'s reconnect is refused, also under accept-new', async () => {
      const host = fleet.hosts[2]!;
      const kh = join(dir, 'known_hosts_reboot');
      writeFileSync(kh, readFileSync(fleet.knownHostsPath, 'utf8'));
      const off = host.model.onPower((ev) => {
        if (ev.kind === 'down') host.rekey();
      });
      try {
        const pb = join(dir, 'reboot.yml');
        writeFileSync(pb, stringify([{ name: 'reboot', hosts: 'all', become: true, tasks: [{ name: 'Reboot', reboot: { reboot_timeout: 20 } }] }]));
        const r = await cli(['run', pb, '-i', fleet.inventoryPath, '--known-hosts', kh, '--host-key-checking', 'accept-new', '-l', host.name,
          '--no-store', '--json', '-q', '--connect-timeout', '3']);
        const h = (JSON.parse(r.stdout) as { hosts: { status: string; tasks: { task: string; error?: { code: string; message: string } }[] }[] }).hosts[0]!;
        const t = h.tasks.find((x) => x.task === 'Reboot')!;
        expect(t.error?.code, JSON.stringify(t)).toBe('E_HOSTKEY_CHANGED');
        expect(h.status).not.toMatch(/ok|changed/);
        expect(r.code).not.toBe(0);
      } finally {
        off();
      }
    }, 60_000);
  });

  describe('secrets, permissions, hostile host names', () => {
    const SECRETS = { ansible_password: 'Pw-sECRET-1f9a', ansible_become_password: 'Become-sECRET-7c2e', ansible_ssh_pass: 'SshPass-sECRET-3b1d' };
    const PASSPHRASE = 'Passphrase-sECRET-9e8d';
    let out: { stdout: string; stderr: string }[] = [];
    let reports: string;
    let stateDir: string;

    beforeAll(async () => {
      const data = structuredClone(inv);
      const names = Object.keys(data.all.hosts);
      for (const n of names) Object.assign(data.all.hosts[n]!, SECRETS);
      // a host whose password is refused (auth error text must not carry it)
      data.all.hosts['auth-victim'] = { ...data.all.hosts[names[0]!], ansible_user: 'nobody-here' };
      // hostile names pointing at a real host
      data.all.hosts['../../../escaped-host'] = { ...data.all.hosts[names[0]!] };
      data.all.hosts['a/b/c'] = { ...data.all.hosts[names[0]!] };
      data.all.hosts['/tmp/absolute-host'] = { ...data.all.hosts[names[0]!] };
      const invFile = writeInv('inv-secrets.yml', data);
      reports = join(dir, 'deep', 'reports');
      mkdirSync(join(dir, 'deep'), { recursive: true });
      stateDir = join(dir, 'private-state');
      const pb = join(dir, 'secrets-pb.yml');
      writeFileSync(pb, stringify([{ name: 'p', hosts: 'all', tasks: [{ name: 'echo', command: 'echo hello' }] }]));
      const env = { FLEETMEND_KEY_PASSPHRASE: PASSPHRASE, FLEETMEND_BECOME_PASSWORD: SECRETS.ansible_become_password };
      const common = ['-i', invFile, '--known-hosts', fleet.knownHostsPath, '--state-dir', stateDir, '-o', reports, '--format', 'md,html,json,junit', '--per-host', '--connect-timeout', '5'];
      out = [
        await cli(['sweep', ...common, '--samples', '1', '--json'], env),
        await cli(['sweep', ...common, '--samples', '1'], env),
        await cli(['run', pb, ...common, '--json', '-e', JSON.stringify({ db_password: 'Extra-sECRET-5a5a' })], env),
        await cli(['run', pb, ...common], env),
        await cli(['inventory', '-i', invFile, '--list'], env),
      ];
    }, 120_000);

    const ALL = () => [...Object.values(SECRETS), PASSPHRASE, 'Extra-sECRET-5a5a'];

    it('the runs did run (the auth victim failed, the others were reached)', () => {
      const doc = JSON.parse(out[0]!.stdout) as { hosts: { host: string; status: string; error: { code: string } | null }[] };
      expect(doc.hosts.find((h) => h.host === 'auth-victim')?.error?.code).toBe('E_AUTH');
      expect(doc.hosts.filter((h) => h.status === 'ok').length).toBeGreaterThanOrEqual(3);
    });

    it('no secret in terminal output or error messages', () => {
      for (const o of out) for (const s of ALL()) {
        expect(o.stdout).not.toContain(s);
        expect(o.stderr).not.toContain(s);
      }
    });

    it('no secret in any report file (md, html, json, junit, per host)', () => {
      const files = walk(reports).filter((p) => statSync(p).isFile());
      expect(files.length).toBeGreaterThan(8);
      for (const f of files) {
        const text = readFileSync(f, 'latin1');
        for (const s of ALL()) expect(text, f).not.toContain(s);
      }
    });

    it('no secret in the store (database, WAL and shared-memory bytes)', () => {
      const files = readdirSync(stateDir).filter((f) => f.startsWith('fleetmend.db')).map((f) => join(stateDir, f));
      expect(files.length).toBeGreaterThanOrEqual(1);
      for (const f of files) {
        const bytes = readFileSync(f);
        for (const s of ALL()) expect(bytes.includes(Buffer.from(s)), `${f} contains ${s}`).toBe(false);
      }
    });

    it('reports and the store are owner-only: files 0600, directories 0700', () => {
      const paths = [reports, ...walk(reports), stateDir, ...walk(stateDir)];
      const loose = paths
        .map((p) => ({ p: relative(dir, p), mode: statSync(p).mode & 0o777, dir: statSync(p).isDirectory() }))
        .filter((x) => x.mode !== (x.dir ? 0o700 : 0o600));
      expect(loose).toEqual([]);
    });

    it('hostile host names cannot make --per-host write outside the report directory', () => {
      const outside = walk(dir).filter((p) => !p.startsWith(reports) && !p.startsWith(join(dir, 'fleet')) && !p.startsWith(stateDir));
      const expected = new Set(readdirSync(dir).map((f) => join(dir, f)));
      expected.add(join(dir, 'deep'));
      expect(outside.filter((p) => !expected.has(p))).toEqual([]);
      // '/tmp/absolute-host' taken as a path, '../../../escaped-host' resolved from a run directory
      expect(readdirSync('/tmp').filter((f) => f.includes('absolute-host') || f.includes('escaped-host'))).toEqual([]);
      expect(readdirSync(join(dir, '..')).filter((f) => f.includes('escaped-host'))).toEqual([]);
      // every per-host report file lies directly in a run directory under the report dir
      const perHost = walk(reports).filter((p) => /escaped-host|absolute-host|a.b.c/.test(p));
      expect(perHost.length).toBeGreaterThan(0);
      for (const p of perHost) expect(relative(reports, p).split('/').length, p).toBeLessThanOrEqual(3);
    });
  });
});
