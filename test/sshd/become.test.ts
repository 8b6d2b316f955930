/**
 * become through the host's real sudo: without a password (NOPASSWD), with the password fed on
 * stdin, and the failures (wrong/missing password, not in sudoers) as clean E_BECOME, in bounded
 * time, never echoing the password. The harness's sudoers file is removed by fleet.stop().
 * Issue 16.1: the password goes to sudo only when sudo prompts (NOPASSWD with a password set
 * must not hand it to the command), checked through the CLI as an operator runs a playbook.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshdFleet, type FleetHost, type SshdFleet } from '../helpers/sshd-fleet.js';
import { runCli } from '../helpers/cli.js';
import { captureLogger, expectFailure, factory, skipReason, specFor } from './util.js';

describe.skipIf(skipReason !== null)('become (sudo) on real hosts', () => {
  let fleet: SshdFleet;
  let h: FleetHost;

  beforeAll(async () => {
    fleet = await startSshdFleet({ hosts: 2, sudo: 'nopasswd', state: () => ({ auditctlNeedsRoot: true }) });
    h = fleet.hosts[0]!;
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  async function execAs(become: { enabled: boolean; password?: string }, command: string, log = captureLogger()) {
    const t = await factory(log).connect(specFor(fleet, h, { become }));
    try {
      return await t.exec(command);
    } finally {
      await t.close();
    }
  }

  it('sudo without a password (NOPASSWD rule) runs as root and can change the audit state', async () => {
    const r = await execAs({ enabled: true }, 'id -u; auditctl -b 4096 >/dev/null && auditctl -s');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^0\n/);
    expect(r.stdout).toContain('backlog_limit 4096');
    expect((await fleet.readState(h)).backlogLimit).toBe(4096);
  });

  it('without become the same command is refused by the host, not faked as success', async () => {
    const r = await execAs({ enabled: false }, 'auditctl -s');
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('You must be root');
  });

  describe('with a sudo password', () => {
    beforeAll(async () => {
      await fleet.setSudo('password');
    });
    afterAll(async () => {
      await fleet.setSudo('nopasswd');
    });

    it('answers sudo\'s own prompt: correct password runs the command, stdin reaches it, no marker shown', async () => {
      const log = captureLogger();
      const t = await factory(log).connect(specFor(fleet, h, { become: { enabled: true, password: fleet.password! } }));
      try {
        const r = await t.exec('id -u; echo to-err >&2; cat', { stdin: 'payload\n' });
        expect(r).toMatchObject({ code: 0, stdout: '0\npayload\n', stderr: 'to-err\n' });
        // timestamp_timeout = 0 in the harness: a second command is asked again, and answered
        expect((await t.exec('id -un')).stdout).toBe('root\n');
      } finally {
        await t.close();
      }
      expect(log.lines.join('\n')).not.toContain(fleet.password!);
    });

    it('feeds the password on stdin, and neither output nor logs contain it', async () => {
      const log = captureLogger();
      const r = await execAs({ enabled: true, password: fleet.password! }, 'id -u; cat', log);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('0\n');
      expect(r.stderr).toBe('');
      expect([r.stdout, r.stderr, r.command, ...log.lines].join('\n')).not.toContain(fleet.password!);
    });

    it('a wrong password is a clean E_BECOME, quickly, not a hang on a second prompt', async () => {
      const wrong = 'definitely-wrong-Zq7';
      const started = Date.now();
      const log = captureLogger();
      const e = await expectFailure(execAs({ enabled: true, password: wrong }, 'id -u', log), 'E_BECOME');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(e.message).toMatch(/rejected the become password/);
      expect(e.host).toBe(h.name);
      for (const text of [e.message, e.stack ?? '', ...log.lines]) expect(text).not.toContain(wrong);
    });

    it('no password where sudo wants one is E_BECOME saying so', async () => {
      const e = await expectFailure(execAs({ enabled: true }, 'id -u'), 'E_BECOME');
      expect(e.message).toMatch(/requires a password/);
    });

    it('the connection stays usable after a failed become', async () => {
      const t = await factory().connect(specFor(fleet, h, { become: { enabled: true, password: 'nope-nope' } }));
      try {
        await expectFailure(t.exec('id -u'), 'E_BECOME');
        const plain = await t.exec('id -un', { become: false });
        expect(plain.stdout).toBe(`${fleet.userName}\n`);
      } finally {
        await t.close();
      }
    });
  });

  describe('NOPASSWD sudo with a become password set (issue 16.1)', () => {
    const RULES = '/etc/audit/rules.d/zz-fleetmend.rules';
    let out: { code: number; stdout: string; stderr: string };
    let inv: string;

    beforeAll(async () => {
      const data = parse(await readFile(fleet.inventoryPath, 'utf8')) as { all: { children: Record<string, { hosts: Record<string, Record<string, unknown>> }> } };
      for (const group of Object.values(data.all.children)) for (const vars of Object.values(group.hosts)) vars.ansible_become_password = fleet.password;
      inv = join(fleet.dir, 'inventory-become-password.yml');
      await writeFile(inv, stringify(data));
      const pb = join(fleet.dir, 'become-stdin.yml');
      await writeFile(pb, stringify([{
        name: 'stdin under sudo', hosts: 'all', become: true, tasks: [
          { name: 'reads stdin', shell: 'head -c 40 || true' },
          { name: 'persist backlog', auditctl: { backlog_limit: 12288, persist: true } },
        ],
      }]));
      out = await runCli(['run', pb, '-i', inv, '--known-hosts', fleet.knownHostsPath, '--no-store', '--json', '-q', '--command-timeout', '20'], { ...process.env, FLEETMEND_KEY_PASSPHRASE: '' });
    });

    it('a become task reading stdin reads nothing: the password was never its input', () => {
      expect(out.code, out.stderr + out.stdout.slice(0, 2000)).toBe(0);
      const doc = JSON.parse(out.stdout) as { hosts: { host: string; tasks: { task: string; stdout?: string; status: string }[] }[] };
      expect(doc.hosts).toHaveLength(fleet.hosts.length);
      for (const host of doc.hosts) {
        expect(host.tasks.find((t) => t.task === 'reads stdin')?.stdout, host.host).toBe('');
        expect(host.tasks.find((t) => t.task === 'persist backlog')?.status, host.host).toBe('changed');
      }
      expect(out.stdout + out.stderr).not.toContain(fleet.password!);
    });

    it("the auditctl module's rules file holds the rules, not the password", async () => {
      for (const host of fleet.hosts) {
        const text = (await fleet.readHostFile(host, RULES)) ?? '';
        expect(text, host.name).toMatch(/^(#[^\n]*\n)*-b 12288\n/);
        expect(text, host.name).not.toContain(fleet.password!);
        expect((await fleet.readState(host)).backlogLimit).toBe(12288);
      }
    });
  });

  it('a user sudo does not allow at all is E_BECOME', async () => {
    await fleet.setSudo('none');
    try {
      const e = await expectFailure(execAs({ enabled: true, password: fleet.password! }, 'id -u'), 'E_BECOME');
      expect(e.message).toMatch(/may not use sudo|rejected|requires/);
    } finally {
      await fleet.setSudo('nopasswd');
    }
  });
});
