/**
 * Jump hosts and ssh config against real sshd. The fleet hosts live in a network namespace the
 * test process cannot reach; only the bastion (an `sshd -i` started inside that namespace, fed
 * by a relay in the root namespace) can. ProxyJump comes from `ansible_ssh_common_args` or from
 * an OpenSSH client config with Host patterns, HostName, User, Port and IdentityFile.
 */
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConnectionSpec } from '../../src/transport/index.js';
import { startSshdFleet, type SshdFleet } from '../helpers/sshd-fleet.js';
import { expectFailure, factory, runOn, skipReason, specFor } from './util.js';

function tcpReachable(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    const t = setTimeout(() => (s.destroy(), resolve(false)), 2000);
    s.on('connect', () => (clearTimeout(t), s.destroy(), resolve(true)));
    s.on('error', () => (clearTimeout(t), resolve(false)));
  });
}

describe.skipIf(skipReason !== null)('jump hosts and ssh config against real sshd', () => {
  let fleet: SshdFleet;

  beforeAll(async () => {
    fleet = await startSshdFleet({ hosts: 3, jump: true, state: ({ index }) => ({ backlogLimit: 100 + index }) });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('the targets are unreachable directly from here (their sockets exist only in the namespace)', async () => {
    const h = fleet.hosts[0]!;
    expect(await tcpReachable(h.address, h.port)).toBe(false);
    const e = await expectFailure(runOn(specFor(fleet, h, { connectTimeoutMs: 3000 }), 'true'), 'E_CONNECT');
    expect(e.message).toContain(h.address);
  });

  it('ProxyJump from ansible_ssh_common_args reaches every target through one shared bastion connection', async () => {
    const f = factory();
    const transports = await Promise.all(
      fleet.hosts.map(async (h) => {
        const spec = await buildConnectionSpec(
          h.name,
          { address: h.address, port: h.port, user: fleet.userName, privateKeyFile: fleet.clientKeyPath, sshCommonArgs: `-o ProxyJump=${fleet.userName}@${fleet.bastion!.address}:${fleet.bastion!.port}` },
          { knownHostsFile: fleet.knownHostsPath, sshConfig: null, agentSocket: '' },
        );
        expect(spec.jump?.address).toBe(fleet.bastion!.address);
        return f.connect(spec);
      }),
    );
    try {
      expect(f.bastions.size).toBe(1);
      const outs = await Promise.all(transports.map((t) => t.exec('auditctl -s')));
      outs.forEach((r, i) => expect(r.stdout).toContain(`backlog_limit ${100 + i}\n`));
    } finally {
      await Promise.all(transports.map((t) => t.close()));
    }
    expect(f.bastions.size).toBe(0);
  });

  it('the bastion host key is checked too: an unknown bastion is refused', async () => {
    const h = fleet.hosts[0]!;
    const file = join(fleet.dir, 'known_hosts_targets_only');
    await writeFile(file, `${h.knownHostsName} ${h.hostKey.type} ${h.hostKey.base64}\n`);
    const spec = specFor(fleet, h, { knownHostsFile: file, jump: specFor(fleet, fleet.bastion!, { knownHostsFile: file }) });
    const e = await expectFailure(runOn(spec, 'true'), 'E_HOSTKEY_UNKNOWN');
    expect(e.message).toContain('bastion');
  });

  it('an ssh config file supplies Host patterns, HostName, User, Port, IdentityFile and ProxyJump', async () => {
    const [a, b] = fleet.hosts;
    const config = join(fleet.dir, 'ssh_config_test');
    await writeFile(
      config,
      [
        'Host jumpbox',
        `  HostName ${fleet.bastion!.address}`,
        `  Port ${fleet.bastion!.port}`,
        `  User ${fleet.userName}`,
        '',
        'Host web-1',
        `  HostName ${a!.address}`,
        'Host web-2',
        `  HostName ${b!.address}`,
        '',
        'Host web-*',
        `  User ${fleet.userName}`,
        `  Port ${a!.port}`,
        `  IdentityFile ${fleet.rsaKeyPath}`,
        '  ProxyJump jumpbox',
        '',
        // First obtained value wins (ssh_config(5)): web-* above sets User before this does.
        'Host *',
        '  User nobody-by-default',
        '',
      ].join('\n'),
    );
    for (const [name, idx] of [['web-1', 0], ['web-2', 1]] as const) {
      const spec = await buildConnectionSpec(name, {}, { sshConfigFile: config, knownHostsFile: fleet.knownHostsPath, agentSocket: '', defaultIdentityFiles: [] });
      expect(spec).toMatchObject({ address: fleet.hosts[idx]!.address, user: fleet.userName, port: a!.port });
      expect(spec.auth.identityFiles).toContain(fleet.rsaKeyPath);
      expect(spec.jump).toMatchObject({ name: 'jumpbox', address: fleet.bastion!.address, port: fleet.bastion!.port, user: fleet.userName });
      expect(await runOn({ ...spec, auth: { ...spec.auth, useAgent: false } }, 'auditctl -s')).toContain(`backlog_limit ${100 + idx}\n`);
    }
    // The login used the RSA key from IdentityFile, not the default key.
    expect(await fleet.logs()).toMatch(/Accepted publickey for fmt\w+ .* RSA SHA256:/);
  });
});
