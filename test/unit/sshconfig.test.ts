import { describe, expect, it } from 'vitest';
import { buildConnectionSpec, parseProxyJump, parseSshConfig, resolveSshConfig } from '../../src/transport/index.js';

const ctx = { home: '/home/me', localUser: 'me' };
const config = parseSshConfig(`
Host web*  !web9
  HostName %h.internal.example
  User alice
  Port 2200
  IdentityFile ~/.ssh/web_%r
  ConnectTimeout 10

Host db1
  HostName 10.0.0.7
  ProxyJump ops@bastion.example:2222,jump2
  StrictHostKeyChecking accept-new
  UserKnownHostsFile ~/.ssh/kh_db /etc/ssh/kh2

Host nojump
  ProxyJump none

Host bastion.example
  User bastionuser
  IdentityFile ~/.ssh/bastion_key

Host *
  User bob
  Port 2201
  IdentityFile ~/.ssh/id_fallback
  ServerAliveInterval 30
  ServerAliveCountMax 2
  ProxyJump gw
  StrictHostKeyChecking yes
`);

describe('resolveSshConfig', () => {
  it('first obtained value wins; IdentityFile accumulates with ~ and %r expanded', () => {
    const r = resolveSshConfig(config, 'web1', ctx);
    expect(r).toMatchObject({
      hostName: 'web1.internal.example',
      user: 'alice',
      port: 2200,
      identityFiles: ['/home/me/.ssh/web_alice', '/home/me/.ssh/id_fallback'],
      connectTimeoutMs: 10_000,
      serverAliveIntervalMs: 30_000,
      serverAliveCountMax: 2,
      strictHostKeyChecking: 'strict',
      proxyJump: [{ host: 'gw' }],
    });
  });

  it('negated patterns exclude a host from a block', () => {
    const r = resolveSshConfig(config, 'web9', ctx);
    expect(r.hostName).toBeUndefined();
    expect(r.user).toBe('bob');
    expect(r.port).toBe(2201);
  });

  it('ProxyJump chains, accept-new and the first UserKnownHostsFile', () => {
    const r = resolveSshConfig(config, 'db1', ctx);
    expect(r.proxyJump).toEqual([{ user: 'ops', host: 'bastion.example', port: 2222 }, { host: 'jump2' }]);
    expect(r.strictHostKeyChecking).toBe('accept-new');
    expect(r.userKnownHostsFile).toBe('/home/me/.ssh/kh_db');
  });

  it('ProxyJump none wins when it comes first', () => {
    expect(resolveSshConfig(config, 'nojump', ctx).proxyJump).toBe('none');
  });

  it('parses jump hop forms', () => {
    expect(parseProxyJump('ssh://u@h:2')).toEqual([{ user: 'u', host: 'h', port: 2 }]);
    expect(parseProxyJump('[::1]:2022')).toEqual([{ host: '::1', port: 2022 }]);
    expect(() => parseProxyJump('h:99999')).toThrow(/invalid port/);
  });
});

describe('buildConnectionSpec precedence: inventory > common args > ssh config > CLI defaults', () => {
  const defaults = {
    user: 'cliuser',
    knownHostsFile: '/kh/default',
    hostKeyChecking: 'strict' as const,
    connectTimeoutMs: 60_000,
    commandTimeoutMs: 120_000,
    maxOutputBytes: 1000,
    sshConfig: config,
    defaultIdentityFiles: [],
  };

  it('ssh config fills what the inventory leaves unset', async () => {
    const s = await buildConnectionSpec('web1', { address: 'web1', port: 22, become: false }, defaults);
    expect(s).toMatchObject({ name: 'web1', address: 'web1.internal.example', port: 2200, user: 'alice', hostKeyChecking: 'strict', dialTimeoutMs: 10_000, connectTimeoutMs: 60_000, keepaliveIntervalMs: 30_000 });
    expect(s.auth.identityFiles?.[0]).toMatch(/web_alice$/);
    expect(s.jump?.name).toBe('gw');
  });

  it('inventory vars override the ssh config', async () => {
    const s = await buildConnectionSpec('web1', { address: '192.0.2.10', port: 2022, user: 'root', privateKeyFile: '/k/id', become: true, becomePassword: 'x' }, defaults);
    expect(s).toMatchObject({ address: '192.0.2.10', port: 2022, user: 'root', auth: { privateKeyFile: '/k/id' }, become: { enabled: true, password: 'x' } });
  });

  it('common args (-J / -o) override the ssh config; bastions resolve their own config', async () => {
    const s = await buildConnectionSpec('db1', { sshCommonArgs: '-o ProxyJump=bastion.example:2222 -o StrictHostKeyChecking=no' }, defaults);
    expect(s.address).toBe('10.0.0.7');
    expect(s.hostKeyChecking).toBe('off');
    expect(s.jump).toMatchObject({ name: 'bastion.example', address: 'bastion.example', port: 2222, user: 'bastionuser', become: { enabled: false } });
    expect(s.jump?.auth.identityFiles?.[0]).toMatch(/bastion_key$/);
    expect(s.jump?.jump).toBeUndefined();
  });

  it('a two-hop ProxyJump dials the first hop first', async () => {
    const s = await buildConnectionSpec('db1', {}, defaults);
    expect(s.jump?.name).toBe('jump2');
    expect(s.jump?.jump?.name).toBe('bastion.example');
    expect(s.jump?.jump?.user).toBe('ops');
    expect(s.knownHostsFile).toMatch(/kh_db$/);
    expect(s.hostKeyChecking).toBe('accept-new');
  });

  it('the bastion never receives the target password', async () => {
    const s = await buildConnectionSpec('x', { password: 'pw', sshCommonArgs: '-J gw2' }, { ...defaults, sshConfig: null });
    expect(s.auth.password).toBe('pw');
    expect(s.jump?.auth.password).toBeUndefined();
  });

  it('CLI defaults and built-in defaults fill the rest', async () => {
    const s = await buildConnectionSpec('plain', {}, { sshConfig: null, defaultIdentityFiles: [] });
    expect(s).toMatchObject({ address: 'plain', port: 22, connectTimeoutMs: 60_000, commandTimeoutMs: 120_000, keepaliveIntervalMs: 15_000, keepaliveCountMax: 4, hostKeyChecking: 'strict' });
    expect(s.knownHostsFile).toMatch(/\.ssh\/known_hosts$/);
    expect(s.jump).toBeUndefined();
  });
});
