/**
 * Authentication against real sshd: ed25519 and RSA keys, an encrypted key with its passphrase,
 * an ssh-agent the test starts itself, and passwords. Secrets never show up in errors or logs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startSshdFleet, type FleetHost, type SshdFleet } from '../helpers/sshd-fleet.js';
import { captureLogger, expectFailure, runOn, skipReason, specFor } from './util.js';

describe.skipIf(skipReason !== null)('authentication against real sshd', () => {
  let fleet: SshdFleet;
  let h: FleetHost;
  let agent: ChildProcess | undefined;
  let agentSock: string;

  beforeAll(async () => {
    fleet = await startSshdFleet({ hosts: 1 });
    h = fleet.hosts[0]!;
  });
  afterAll(async () => {
    if (agent?.pid && agent.exitCode === null) {
      process.kill(agent.pid, 'SIGTERM');
      await new Promise((r) => agent?.once('exit', r));
    }
    await fleet?.stop();
  });

  const loggedIn = async (method: RegExp) => expect(await fleet.logs()).toMatch(method);

  it('logs in with an ed25519 key', async () => {
    expect(await runOn(specFor(fleet, h), 'id -un')).toBe(`${fleet.userName}\n`);
    await loggedIn(/Accepted publickey for fmt\w+ .* ED25519/);
  });

  it('logs in with an RSA key (rsa-sha2 signatures; OpenSSH 9 refuses SHA-1 ssh-rsa)', async () => {
    expect(await runOn(specFor(fleet, h, { auth: { privateKeyFile: fleet.rsaKeyPath, useAgent: false } }), 'echo rsa')).toBe('rsa\n');
    await loggedIn(/Accepted publickey for fmt\w+ .* RSA SHA256:/);
  });

  it('logs in with an encrypted key and its passphrase, which never appears in messages', async () => {
    const log = captureLogger();
    const spec = specFor(fleet, h, { auth: { privateKeyFile: fleet.encryptedKeyPath, passphrase: fleet.passphrase, useAgent: false } });
    expect(await runOn(spec, 'echo enc', log)).toBe('enc\n');
    const wrong = 'not-the-passphrase-7731';
    const e = await expectFailure(runOn({ ...spec, auth: { ...spec.auth, passphrase: wrong } }, 'true', log), 'E_KEYFILE');
    expect(e.message).toContain('wrong passphrase');
    const missing = await expectFailure(runOn({ ...spec, auth: { privateKeyFile: fleet.encryptedKeyPath, useAgent: false } }, 'true'), 'E_KEYFILE');
    expect(missing.message).toContain('encrypted');
    for (const text of [e.message, e.stack ?? '', JSON.stringify(e.details ?? {}), ...log.lines]) {
      expect(text).not.toContain(fleet.passphrase);
      expect(text).not.toContain(wrong);
    }
  });

  it('logs in through an ssh-agent the test started (no key file given)', async () => {
    agentSock = join(fleet.dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(agentSock); i++) await sleep(20);
    const add = await run(['ssh-add', fleet.rsaKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: agentSock } });
    expect(add.code, add.stderr).toBe(0);
    const spec = specFor(fleet, h, { auth: { agentSocket: agentSock, identityFiles: [] } });
    const before = ((await fleet.logs()).match(/Accepted publickey .* RSA/g) ?? []).length;
    expect(await runOn(spec, 'echo agent')).toBe('agent\n');
    expect(((await fleet.logs()).match(/Accepted publickey .* RSA/g) ?? []).length).toBe(before + 1);
    // Without the agent (and no key) the same spec cannot log in: the agent did the work.
    await expectFailure(runOn(specFor(fleet, h, { auth: { useAgent: false, identityFiles: [] } }), 'true'), 'E_AUTH');
  });

  it('logs in with a password; a wrong one is E_AUTH without echoing it', async () => {
    expect(fleet.password).not.toBeNull();
    const spec = specFor(fleet, h, { auth: { password: fleet.password!, useAgent: false, identityFiles: [] } });
    expect(await runOn(spec, 'echo pw')).toBe('pw\n');
    await loggedIn(/Accepted password for fmt\w+/);
    const wrong = 'Wr0ng-Passw0rd-x9';
    const log = captureLogger();
    const e = await expectFailure(runOn({ ...spec, auth: { ...spec.auth, password: wrong } }, 'true', log), 'E_AUTH');
    expect(e.message).toContain('password');
    for (const text of [e.message, e.stack ?? '', ...log.lines]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(fleet.password!);
    }
  });

  it('a key the server does not accept is E_AUTH naming what was tried', async () => {
    const stranger = join(fleet.dir, 'stranger');
    expect((await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', stranger])).code).toBe(0);
    const e = await expectFailure(runOn(specFor(fleet, h, { auth: { privateKeyFile: stranger, useAgent: false } }), 'true'), 'E_AUTH');
    expect(e.message).toContain(stranger);
    expect(e.message).toContain(fleet.userName);
  });
});
