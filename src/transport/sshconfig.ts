/**
 * OpenSSH client config (ssh_config(5)) through the `ssh-config` library: the subset fleetmend
 * honours, resolved for one host alias. Like OpenSSH, the first obtained value of each keyword
 * wins (so specific `Host` blocks go first and `Host *` last); `IdentityFile` accumulates.
 * `Match exec` is never evaluated (a config file must not run commands for us).
 */
import { homedir, userInfo } from 'node:os';
import SSHConfig from 'ssh-config';
import { FleetmendError } from '../errors.js';
import { readInputText } from '../util/input-file.js';
import type { HostKeyChecking } from './types.js';

export interface JumpHop {
  user?: string;
  host: string;
  port?: number;
}

/** What the ssh config (or ssh command-line args) says about one host; every field optional. */
export interface SshOptions {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles?: string[];
  /** Hops in dialling order (first hop is contacted first); 'none' disables a ProxyJump. */
  proxyJump?: JumpHop[] | 'none';
  /** OpenSSH ConnectTimeout: TCP connect + banner only, not the login. */
  connectTimeoutMs?: number;
  serverAliveIntervalMs?: number;
  serverAliveCountMax?: number;
  strictHostKeyChecking?: HostKeyChecking;
  userKnownHostsFile?: string;
}

export interface TokenContext {
  home?: string;
  localUser?: string;
}

export async function loadSshConfig(file: string): Promise<SSHConfig> {
  return parseSshConfig(await readInputText(file, { code: 'E_USAGE', what: 'ssh config' }), file);
}

export function parseSshConfig(text: string, file = 'ssh_config'): SSHConfig {
  try {
    return SSHConfig.parse(text);
  } catch (err) {
    throw new FleetmendError('E_USAGE', `cannot parse ssh config ${file}: ${(err as Error).message}`, { position: { file } });
  }
}

/** `[user@]host[:port]`, `ssh://[user@]host[:port]`, IPv6 as `[addr]:port`. */
export function parseJumpHop(spec: string): JumpHop {
  let s = spec.trim().replace(/^ssh:\/\//, '');
  const hop: JumpHop = { host: '' };
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    hop.user = s.slice(0, at);
    s = s.slice(at + 1);
  }
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const plain = /^([^:]+)(?::(\d+))?$/.exec(s);
  const m = v6 ?? plain;
  if (!m || !m[1]) throw new FleetmendError('E_USAGE', `invalid jump host '${spec}'`);
  hop.host = m[1];
  if (m[2] !== undefined) {
    const port = Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new FleetmendError('E_USAGE', `invalid port in jump host '${spec}'`);
    hop.port = port;
  }
  return hop;
}

export function parseProxyJump(value: string): JumpHop[] | 'none' {
  if (value.trim().toLowerCase() === 'none') return 'none';
  return value.split(',').filter((h) => h.trim() !== '').map(parseJumpHop);
}

/** StrictHostKeyChecking → policy. `ask` means strict here: a run never prompts. */
export function mapStrictHostKeyChecking(value: string): HostKeyChecking | undefined {
  switch (value.trim().toLowerCase()) {
    case 'yes':
    case 'ask':
    case 'true':
      return 'strict';
    case 'accept-new':
      return 'accept-new';
    case 'no':
    case 'off':
    case 'false':
      return 'off';
    default:
      return undefined;
  }
}

function first(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[0] : v;
}

function seconds(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v) * 1000;
}

/** The ssh_config TOKENS fleetmend can know: %h %p %r %u %d %%. */
export function expandTokens(value: string, t: { host: string; port: number; user: string; localUser: string; home: string }): string {
  const out = value.replace(/%([%hprud])/g, (_m, c: string) => {
    switch (c) {
      case 'h':
        return t.host;
      case 'p':
        return String(t.port);
      case 'r':
        return t.user;
      case 'u':
        return t.localUser;
      case 'd':
        return t.home;
      default:
        return '%';
    }
  });
  if (out === '~') return t.home;
  return out.startsWith('~/') ? `${t.home}${out.slice(1)}` : out;
}

/** Pure resolution of one alias (besides the home directory and local user for `~`, `%d`, `%u`). */
export function resolveSshConfig(config: SSHConfig, hostAlias: string, ctx: TokenContext = {}): SshOptions {
  const c = config.compute(hostAlias, { ignoreCase: true, matchExec: false });
  const home = ctx.home ?? homedir();
  const localUser = ctx.localUser ?? userInfo().username;
  const out: SshOptions = {};
  const hostNameRaw = first(c['hostname']);
  const hostName = hostNameRaw !== undefined ? hostNameRaw.replace(/%h/g, hostAlias).replace(/%%/g, '%') : undefined;
  if (hostName !== undefined) out.hostName = hostName;
  const user = first(c['user']);
  if (user !== undefined) out.user = user;
  const port = first(c['port']);
  if (port !== undefined && /^\d+$/.test(port)) out.port = Number(port);
  const tok = { host: hostName ?? hostAlias, port: out.port ?? 22, user: out.user ?? localUser, localUser, home };
  const ids = c['identityfile'];
  if (ids !== undefined) out.identityFiles = (Array.isArray(ids) ? ids : [ids]).filter((f) => f.toLowerCase() !== 'none').map((f) => expandTokens(f, tok));
  const pj = first(c['proxyjump']);
  if (pj !== undefined) out.proxyJump = parseProxyJump(pj);
  const ct = seconds(first(c['connecttimeout']));
  if (ct !== undefined) out.connectTimeoutMs = ct;
  const sai = seconds(first(c['serveraliveinterval']));
  if (sai !== undefined) out.serverAliveIntervalMs = sai;
  const sacm = first(c['serveralivecountmax']);
  if (sacm !== undefined && /^\d+$/.test(sacm)) out.serverAliveCountMax = Number(sacm);
  const shkc = first(c['stricthostkeychecking']);
  const policy = shkc !== undefined ? mapStrictHostKeyChecking(shkc) : undefined;
  if (policy !== undefined) out.strictHostKeyChecking = policy;
  // several files may be listed; the first is the one OpenSSH writes new keys to
  const ukh = first(c['userknownhostsfile'])?.split(/\s+/)[0];
  if (ukh !== undefined && ukh !== '') out.userKnownHostsFile = expandTokens(ukh, tok);
  return out;
}
