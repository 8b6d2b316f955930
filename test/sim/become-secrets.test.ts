/**
 * Issue 16.1 on the simulated fleet, through the CLI: the become password reaches sudo only
 * when sudo prompts for it. On a NOPASSWD host with a become password set, a task reading its
 * stdin reads nothing and the auditctl module's rules file holds only rules; on a host whose
 * sudo asks, the password answers the prompt (and a wrong one fails fast). A host that prints a
 * secret back has it masked before the terminal, --json, the store or a report see it, and so
 * is the value of a secret-named `-e` or inventory var a task templates into its output.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { filesBelow } from '../helpers/files.js';
import { scenarioOf } from '../fixtures/playbooks/sim-harness.js';

type Inv = { all: { hosts: Record<string, Record<string, unknown>>; children?: unknown } };

interface JsonTask {
  task: string;
  status: string;
  stdout?: string;
  stderr?: string;
  error?: { code: string; message: string };
}
interface JsonHost {
  host: string;
  status: string;
  error: { code: string; message: string } | null;
  tasks: JsonTask[];
}

const RULES = 'zz-fleetmend.rules';

describe('become password only on a sudo prompt (simulated fleet, CLI)', () => {
  // random per test run, so no fixture or earlier run can make a "not contained" pass
  const NOPASSWD_SECRET = `np-${randomBytes(9).toString('base64url')}`;
  const SUDO_SECRET = `pw-${randomBytes(9).toString('base64url')}`;
  // values fleetmend knows are secrets only by their var names (an -e var, an inventory var)
  const EXTRA_SECRET = `ev-${randomBytes(9).toString('base64url')}`;
  const INV_SECRET = `iv-${randomBytes(9).toString('base64url')}`;
  const SECRETS = [NOPASSWD_SECRET, SUDO_SECRET, EXTRA_SECRET, INV_SECRET];
  let fleet: Fleet;
  let dir: string;
  let invFile: string;
  let run: CliResult;
  let doc: { hosts: JsonHost[] };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-become-'));
    const scenario = scenarioOf('become-secrets', (mk) => [
      { spec: mk.rhel('np-01') },
      { spec: { ...mk.rhel('pw-01'), sudo: { password: SUDO_SECRET, nopasswd: false } } },
    ]);
    fleet = await startFleet({ scenario, dir: join(dir, 'fleet'), loginDelayScale: 0 });
    const inv = parse(readFileSync(fleet.inventoryPath, 'utf8')) as Inv;
    expect(inv.all.hosts['pw-01']!.ansible_become_password).toBe(SUDO_SECRET);
    // NOPASSWD, yet a become password is configured: sudo will not ask for it
    inv.all.hosts['np-01']!.ansible_become_password = NOPASSWD_SECRET;
    for (const h of Object.values(inv.all.hosts)) h.vault_api_token = INV_SECRET;
    invFile = join(dir, 'inventory.yml');
    writeFileSync(invFile, stringify(inv));
    for (const h of fleet.hosts) h.machine.fs.put('/etc/leaky.conf', `secret=${h.name === 'np-01' ? NOPASSWD_SECRET : SUDO_SECRET}\n`);
    const pb = join(dir, 'pb.yml');
    writeFileSync(
      pb,
      stringify([
        {
          name: 'become',
          hosts: 'all',
          become: true,
          tasks: [
            { name: 'whoami', shell: 'id -u' },
            { name: 'reads stdin', shell: 'cat || true' },
            { name: 'leaky host', shell: 'cat /etc/leaky.conf' },
            { name: 'templated secrets', shell: 'echo "db={{ db_password }} tok={{ vault_api_token }}"' },
            { name: 'persist backlog', auditctl: { backlog_limit: 16384, persist: true } },
          ],
        },
      ]),
    );
    run = await runCli(
      ['run', pb, '-i', invFile, '--known-hosts', fleet.knownHostsPath, '--state-dir', join(dir, 'state'), '-o', join(dir, 'reports'),
        '--format', 'md,html,json,junit', '--per-host', '--json', '-q', '-e', JSON.stringify({ db_password: EXTRA_SECRET })],
      { HOME: tmpdir() },
    );
    doc = JSON.parse(run.stdout) as { hosts: JsonHost[] };
  }, 60_000);
  afterAll(async () => {
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const task = (host: string, name: string): JsonTask => {
    const h = doc.hosts.find((x) => x.host === host)!;
    expect(h, host).toBeDefined();
    return h.tasks.find((t) => t.task === name)!;
  };

  it('both hosts ran every task as root', () => {
    expect(run.code, run.stderr).toBe(0);
    for (const h of ['np-01', 'pw-01']) {
      expect(task(h, 'whoami').stdout).toBe('0\n');
      expect(task(h, 'persist backlog').status).toBe('changed');
    }
  });

  it("a command reading stdin under NOPASSWD sudo reads nothing: the password is not its input", () => {
    expect(task('np-01', 'reads stdin').stdout).toBe('');
    expect(task('pw-01', 'reads stdin').stdout).toBe('');
  });

  it('the rules file written through `tee` holds the rules, not the password', () => {
    for (const h of fleet.hosts) {
      const text = h.machine.fs.read(`/etc/audit/rules.d/${RULES}`, true) ?? '';
      expect(text, h.name).toMatch(/^(#[^\n]*\n)*-b 16384\n/);
      expect(text).not.toContain(NOPASSWD_SECRET);
      expect(text).not.toContain(SUDO_SECRET);
    }
    expect(fleet.host('np-01').model.status().backlogLimit).toBe(16384);
  });

  it('a secret the host prints is masked in the task output', () => {
    expect(task('np-01', 'leaky host').stdout).toBe('secret=********\n');
    expect(task('pw-01', 'leaky host').stdout).toBe('secret=********\n');
  });

  it('the output of a command a secret-named -e or inventory var was templated into is masked whole', () => {
    // the host could print it in pieces (`| fold -w1`): src/secrets/taint.ts
    for (const h of ['np-01', 'pw-01']) {
      expect(task(h, 'templated secrets').status, h).toBe('changed');
      expect(task(h, 'templated secrets').stdout, h).toBe('********');
    }
  });

  it('no secret in the terminal, --json, the store bytes or any report; no sudo marker either', () => {
    const texts: [string, string][] = [['stdout', run.stdout], ['stderr', run.stderr]];
    for (const f of [...filesBelow(join(dir, 'state')), ...filesBelow(join(dir, 'reports'))]) texts.push([f, readFileSync(f, 'latin1')]);
    expect(texts.length).toBeGreaterThan(6);
    for (const [where, text] of texts) {
      for (const secret of SECRETS) expect(text, where).not.toContain(secret);
      expect(text, where).not.toMatch(/fleetmend-sudo-|FLEETMEND-BECOME-OK/);
    }
  });

  it('a wrong password on the host that prompts is E_BECOME, quickly, without the password', async () => {
    const inv = parse(readFileSync(invFile, 'utf8')) as Inv;
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    inv.all.hosts['pw-01']!.ansible_become_password = wrong;
    const bad = join(dir, 'wrong.yml');
    writeFileSync(bad, stringify(inv));
    const pb = join(dir, 'id.yml');
    writeFileSync(pb, stringify([{ name: 'id', hosts: 'pw-01', become: true, tasks: [{ name: 'id', shell: 'id -u' }] }]));
    const started = Date.now();
    const r = await runCli(['run', pb, '-i', bad, '--known-hosts', fleet.knownHostsPath, '--no-store', '--json', '-q'], { HOME: tmpdir() });
    expect(Date.now() - started).toBeLessThan(10_000);
    const h = (JSON.parse(r.stdout) as { hosts: JsonHost[] }).hosts[0]!;
    const t = h.tasks.find((x) => x.task === 'id')!;
    expect(t.error?.code, JSON.stringify(h)).toBe('E_BECOME');
    expect(t.error?.message).toMatch(/rejected the become password/);
    expect(r.stdout + r.stderr).not.toContain(wrong);
  }, 30_000);
});
