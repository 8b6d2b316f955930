/**
 * known_hosts against real OpenSSH host keys: strict, accept-new, hashed names, [host]:port, and
 * @revoked — the host key is checked before authentication, as OpenSSH does.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startSshdFleet, type FleetHost, type SshdFleet } from '../helpers/sshd-fleet.js';
import { captureLogger, expectFailure, factory, otherHostKey, runOn, skipReason, specFor } from './util.js';

describe.skipIf(skipReason !== null)('known_hosts against real sshd', () => {
  let fleet: SshdFleet;
  let dir: string;
  let h: FleetHost;
  const line = (host: FleetHost, name = host.knownHostsName) => `${name} ${host.hostKey.type} ${host.hostKey.base64}\n`;
  const kh = async (name: string, content: string) => {
    const p = join(dir, name);
    await writeFile(p, content);
    return p;
  };

  beforeAll(async () => {
    fleet = await startSshdFleet({ hosts: 3, hostsPerSshd: 1 });
    dir = await mkdtemp(join(tmpdir(), 'fm-kh-'));
    h = fleet.hosts[0]!;
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('strict: a host whose key is not recorded is refused before login (E_HOSTKEY_UNKNOWN)', async () => {
    const file = await kh('unknown', line(fleet.hosts[1]!));
    const accepted = async () => ((await fleet.logs()).match(/Accepted /g) ?? []).length;
    const before = await accepted();
    const e = await expectFailure(runOn(specFor(fleet, h, { knownHostsFile: file }), 'true'), 'E_HOSTKEY_UNKNOWN');
    expect(e.message).toContain(h.knownHostsName);
    expect(e.message).toContain(h.hostKey.fingerprint);
    // Refused during key exchange: no login happened.
    expect(await accepted()).toBe(before);
  });

  it('strict: a changed key is refused, naming both SHA256 fingerprints', async () => {
    const other = await otherHostKey(dir);
    const file = await kh('changed', `${h.knownHostsName} ${other}\n`);
    const e = await expectFailure(runOn(specFor(fleet, h, { knownHostsFile: file }), 'true'), 'E_HOSTKEY_CHANGED');
    const otherFp = (await run(['ssh-keygen', '-lf', '-'], { input: `${other}\n` })).stdout.split(' ')[1]!;
    expect(otherFp).toMatch(/^SHA256:/);
    expect(e.message).toContain(otherFp);
    expect(e.message).toContain(h.hostKey.fingerprint);
  });

  it('strict: the recorded key lets the connection through', async () => {
    const file = await kh('good', line(h));
    expect(await runOn(specFor(fleet, h, { knownHostsFile: file }), 'echo ok')).toBe('ok\n');
  });

  it('accept-new: records an unknown key, then holds the host to it', async () => {
    const file = join(dir, 'accept-new');
    const log = captureLogger();
    expect(await runOn(specFor(fleet, h, { knownHostsFile: file, hostKeyChecking: 'accept-new' }), 'echo first', log)).toBe('first\n');
    const text = await readFile(file, 'utf8');
    expect(text).toBe(line(h));
    // OpenSSH agrees with what was written.
    const found = await run(['ssh-keygen', '-F', h.knownHostsName, '-f', file]);
    expect(found.code).toBe(0);
    expect(log.lines.join('\n')).toContain(h.hostKey.fingerprint);
    // Same file, strict now: the recorded key matches.
    expect(await runOn(specFor(fleet, h, { knownHostsFile: file }), 'echo second')).toBe('second\n');
    // A different host answering under that name is "changed", also in accept-new mode.
    const impostor = fleet.hosts[1]!;
    await writeFile(file, `${h.knownHostsName} ${impostor.hostKey.type} ${impostor.hostKey.base64}\n`);
    await expectFailure(runOn(specFor(fleet, h, { knownHostsFile: file, hostKeyChecking: 'accept-new' }), 'true'), 'E_HOSTKEY_CHANGED');
  });

  it('accept-new with hashing writes a hashed name that OpenSSH can look up', async () => {
    const file = join(dir, 'accept-new-hashed');
    const log = captureLogger();
    const t = await factory(log, true).connect(specFor(fleet, h, { knownHostsFile: file, hostKeyChecking: 'accept-new' }));
    await t.close();
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    expect(text).not.toContain(h.address);
    expect((await run(['ssh-keygen', '-F', h.knownHostsName, '-f', file])).code).toBe(0);
  });

  it('hashed entries written by ssh-keygen -H match', async () => {
    const file = await kh('hashed', line(fleet.hosts[1]!) + line(h) + line(fleet.hosts[2]!));
    const r = await run(['ssh-keygen', '-H', '-f', file]);
    expect(r.code).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(h.address);
    expect(text.match(/^\|1\|/gm)).toHaveLength(3);
    expect(await runOn(specFor(fleet, h, { knownHostsFile: file }), 'echo hashed')).toBe('hashed\n');
  });

  it('[host]:port entries are port-specific: a bare address entry does not cover another port', async () => {
    expect(h.port).not.toBe(22);
    expect(h.knownHostsName).toBe(`[${h.address}]:${h.port}`);
    const bare = await kh('bare', line(h, h.address));
    await expectFailure(runOn(specFor(fleet, h, { knownHostsFile: bare }), 'true'), 'E_HOSTKEY_UNKNOWN');
    const otherPort = await kh('other-port', line(h, `[${h.address}]:${h.port + 1}`));
    await expectFailure(runOn(specFor(fleet, h, { knownHostsFile: otherPort }), 'true'), 'E_HOSTKEY_UNKNOWN');
    const wildcard = await kh('wildcard', line(h, `[127.*]:${h.port}`));
    expect(await runOn(specFor(fleet, h, { knownHostsFile: wildcard }), 'echo port')).toBe('port\n');
  });

  it('@revoked refuses the key even when it is also recorded as valid', async () => {
    const file = await kh('revoked', `@revoked * ${h.hostKey.type} ${h.hostKey.base64}\n${line(h)}`);
    const e = await expectFailure(runOn(specFor(fleet, h, { knownHostsFile: file }), 'true'), 'E_HOSTKEY_REVOKED');
    expect(e.message).toContain(h.hostKey.fingerprint);
    // Other hosts with unrevoked keys still connect from the same file.
    const other = fleet.hosts[1]!;
    await writeFile(file, `@revoked * ${h.hostKey.type} ${h.hostKey.base64}\n${line(other)}`);
    expect(await runOn(specFor(fleet, other, { knownHostsFile: file }), 'echo fine')).toBe('fine\n');
  });
});
