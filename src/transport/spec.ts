/**
 * From inventory vars + ssh config + CLI defaults to a ConnectionSpec.
 *
 * Precedence, per field (first defined wins):
 *   1. inventory `ansible_*` vars (ansible_host, ansible_port, ansible_user, key, passwords, become)
 *   2. `ansible_ssh_common_args` (-J, -o ProxyJump=, -p, -l, -i, -o ...), also inventory
 *   3. OpenSSH client config (`--ssh-config FILE`, else ~/.ssh/config when present), matched on the
 *      address ssh would be given (ansible_host, else the inventory name)
 *   4. CLI defaults (--user or the current user, --private-key, --known-hosts, ...)
 *   5. built-in DEFAULTS below.
 * Two inventory values are indistinguishable from "unset": `ansible_host` equal to the inventory
 * name and `ansible_port` 22; ssh config HostName / Port apply in those cases.
 */
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type SSHConfig from 'ssh-config';
import { expandTilde } from './auth.js';
import { parseSshCommonArgs } from './commonargs.js';
import { loadSshConfig, resolveSshConfig, type JumpHop, type SshOptions } from './sshconfig.js';
import type { AuthSpec, ConnectionSpec, HostKeyChecking } from './types.js';

export const DEFAULTS = {
  port: 22,
  /** Logins on hosts with a stalled audit queue take tens of seconds (reference §3). */
  connectTimeoutMs: 60_000,
  commandTimeoutMs: 120_000,
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 4,
  maxOutputBytes: 8 * 1024 * 1024,
  hostKeyChecking: 'strict' as HostKeyChecking,
} as const;

/** The connection part of an inventory host (structurally the inventory's ConnectionVars). */
export interface InventoryConnectionVars {
  address?: string;
  port?: number;
  user?: string;
  privateKeyFile?: string;
  password?: string;
  passphrase?: string;
  become?: boolean;
  becomeUser?: string;
  becomePassword?: string;
  sshCommonArgs?: string;
}

export interface CliConnectionDefaults {
  /** Default remote user (the CLI passes --user or os.userInfo().username). */
  user?: string;
  privateKeyFile?: string;
  passphrase?: string;
  knownHostsFile?: string;
  hostKeyChecking?: HostKeyChecking;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  maxOutputBytes?: number;
  become?: boolean;
  becomeUser?: string;
  becomePassword?: string;
  agentSocket?: string;
  /** ssh config file to read; default ~/.ssh/config when it exists. */
  sshConfigFile?: string;
  /** An already parsed ssh config (wins over sshConfigFile); `null` disables ssh config. */
  sshConfig?: SSHConfig | null;
  /** Keys tried when nothing names one (OpenSSH's defaults); missing ones are skipped. */
  defaultIdentityFiles?: string[];
}

/** One parse of the ssh config per defaults object (= per run), not per host. */
const configCache = new WeakMap<CliConnectionDefaults, Promise<SSHConfig | null>>();

function sshConfigFor(defaults: CliConnectionDefaults): Promise<SSHConfig | null> {
  if (defaults.sshConfig !== undefined) return Promise.resolve(defaults.sshConfig);
  let p = configCache.get(defaults);
  if (!p) {
    const file = defaults.sshConfigFile ?? join(homedir(), '.ssh', 'config');
    p = defaults.sshConfigFile !== undefined || existsSync(file) ? loadSshConfig(expandTilde(file)) : Promise.resolve(null);
    configCache.set(defaults, p);
  }
  return p;
}

function openSshDefaultKeys(): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f));
}

function defined<T>(...vals: Array<T | undefined>): T | undefined {
  return vals.find((v) => v !== undefined);
}

export async function buildConnectionSpec(name: string, vars: InventoryConnectionVars, defaults: CliConnectionDefaults = {}): Promise<ConnectionSpec> {
  const config = await sshConfigFor(defaults);
  const explicitAddress = vars.address !== undefined && vars.address !== name ? vars.address : undefined;
  const alias = explicitAddress ?? name;
  const fromConfig: SshOptions = config ? resolveSshConfig(config, alias) : {};
  const fromArgs = vars.sshCommonArgs ? parseSshCommonArgs(vars.sshCommonArgs) : { ignored: [] };
  const explicitPort = vars.port !== undefined && vars.port !== DEFAULTS.port ? vars.port : undefined;

  const argKeys = fromArgs.identityFiles?.map(expandTilde);
  const privateKeyFile = defined(vars.privateKeyFile, argKeys?.[0], defaults.privateKeyFile);
  const candidates = [...(argKeys?.slice(1) ?? []), ...(fromConfig.identityFiles ?? [])];
  const auth: AuthSpec = {};
  if (privateKeyFile !== undefined) auth.privateKeyFile = expandTilde(privateKeyFile);
  const passphrase = defined(vars.passphrase, defaults.passphrase);
  if (passphrase !== undefined) auth.passphrase = passphrase;
  if (vars.password !== undefined) auth.password = vars.password;
  if (defaults.agentSocket !== undefined) auth.agentSocket = defaults.agentSocket;
  if (candidates.length > 0) auth.identityFiles = candidates;
  else if (privateKeyFile === undefined) auth.identityFiles = defaults.defaultIdentityFiles ?? openSshDefaultKeys();

  const becomeUser = defined(vars.becomeUser, defaults.becomeUser);
  const becomePassword = defined(vars.becomePassword, defaults.becomePassword);
  const knownHostsFile = expandTilde(defined(fromArgs.userKnownHostsFile, fromConfig.userKnownHostsFile, defaults.knownHostsFile) ?? join(homedir(), '.ssh', 'known_hosts'));
  const spec: ConnectionSpec = {
    name,
    address: defined(explicitAddress, fromConfig.hostName) ?? name,
    port: defined(explicitPort, fromArgs.port, fromConfig.port) ?? DEFAULTS.port,
    user: defined(vars.user, fromArgs.user, fromConfig.user, defaults.user) ?? userInfo().username,
    auth,
    become: {
      enabled: vars.become === true || defaults.become === true,
      ...(becomeUser !== undefined ? { user: becomeUser } : {}),
      ...(becomePassword !== undefined ? { password: becomePassword } : {}),
    },
    connectTimeoutMs: defaults.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    commandTimeoutMs: defaults.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
    keepaliveIntervalMs: defined(fromArgs.serverAliveIntervalMs, fromConfig.serverAliveIntervalMs, defaults.keepaliveIntervalMs) ?? DEFAULTS.keepaliveIntervalMs,
    keepaliveCountMax: defined(fromArgs.serverAliveCountMax, fromConfig.serverAliveCountMax, defaults.keepaliveCountMax) ?? DEFAULTS.keepaliveCountMax,
    maxOutputBytes: defaults.maxOutputBytes ?? DEFAULTS.maxOutputBytes,
    knownHostsFile,
    hostKeyChecking: defined(fromArgs.strictHostKeyChecking, fromConfig.strictHostKeyChecking, defaults.hostKeyChecking) ?? DEFAULTS.hostKeyChecking,
  };
  const dial = defined(fromArgs.connectTimeoutMs, fromConfig.connectTimeoutMs);
  if (dial !== undefined) spec.dialTimeoutMs = Math.min(dial, spec.connectTimeoutMs);
  const hops = defined(fromArgs.proxyJump, fromConfig.proxyJump);
  if (hops !== undefined && hops !== 'none' && hops.length > 0) spec.jump = buildJumpChain(hops, spec, config);
  return spec;
}

/**
 * ProxyJump a,b: dial a, then b through a, then the target through b. Each bastion is resolved
 * against the ssh config under its own name, and checks its own host key; it gets the target's
 * key material (never its password or become settings).
 */
function buildJumpChain(hops: JumpHop[], target: ConnectionSpec, config: SSHConfig | null): ConnectionSpec {
  let prev: ConnectionSpec | undefined;
  for (const hop of hops) {
    const c: SshOptions = config ? resolveSshConfig(config, hop.host) : {};
    const auth: AuthSpec = { ...target.auth };
    delete auth.password;
    if (c.identityFiles?.length) auth.identityFiles = c.identityFiles;
    const s: ConnectionSpec = {
      name: hop.host,
      address: c.hostName ?? hop.host,
      port: defined(hop.port, c.port) ?? DEFAULTS.port,
      user: defined(hop.user, c.user) ?? target.user,
      auth,
      become: { enabled: false },
      connectTimeoutMs: target.connectTimeoutMs,
      commandTimeoutMs: target.commandTimeoutMs,
      keepaliveIntervalMs: c.serverAliveIntervalMs ?? target.keepaliveIntervalMs,
      keepaliveCountMax: c.serverAliveCountMax ?? target.keepaliveCountMax ?? DEFAULTS.keepaliveCountMax,
      maxOutputBytes: target.maxOutputBytes,
      knownHostsFile: c.userKnownHostsFile ?? target.knownHostsFile,
      hostKeyChecking: c.strictHostKeyChecking ?? target.hostKeyChecking,
    };
    if (prev) s.jump = prev;
    prev = s;
  }
  return prev!;
}
