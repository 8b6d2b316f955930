import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { FleetmendError } from '../errors.js';
import type { HostTarget } from '../executor/run-hosts.js';
import { connectionVars, loadInventory, selectHosts, type Inventory } from '../inventory/index.js';
import { buildConnectionSpec, loadPrivateKey, type CliConnectionDefaults } from '../transport/index.js';
import { promptSecret } from './prompt.js';
import type { ConnectionSpec, HostKeyChecking } from '../transport/types.js';
import { optionWithDefault, secondsOption } from './options.js';
import { parsePositiveInt } from './util.js';

/** Options every command that contacts hosts shares (sweep, run, schedule). */
export interface ConnectionOptions {
  inventory: string;
  limit?: string;
  forks: number;
  user?: string;
  privateKey?: string;
  knownHosts?: string;
  hostKeyChecking: HostKeyChecking;
  sshConfig?: string;
  become?: boolean;
  becomeUser?: string;
  askBecomePass?: boolean;
  connectTimeout: number;
  commandTimeout: number;
  maxOutput: number;
}

export const DEFAULT_FORKS = 50;
/** Logins on hosts with a stalled audit queue take tens of seconds (reference §3). */
export const DEFAULT_CONNECT_TIMEOUT_S = 60;
export const DEFAULT_COMMAND_TIMEOUT_S = 120;
export const DEFAULT_MAX_OUTPUT = 8 * 1024 * 1024;

export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-i, --inventory <file>', 'inventory file (Ansible YAML or INI)')
    .option('-l, --limit <pattern>', "host pattern: 'web*', 'g1:g2', 'all:!db', 'g1:&g2'")
    .option('-f, --forks <n>', 'hosts in parallel', parsePositiveInt('--forks'), DEFAULT_FORKS)
    .option('-u, --user <name>', 'remote user when the inventory sets none')
    .option('--private-key <file>', 'private key when the inventory sets none')
    .option('--known-hosts <file>', 'known_hosts file (default: ~/.ssh/known_hosts)')
    .addOption(optionWithDefault('--host-key-checking <mode>', 'strict | accept-new | off', 'strict' as HostKeyChecking, parseChecking))
    .option('--ssh-config <file>', 'OpenSSH client config (default: ~/.ssh/config when present)')
    .option('-b, --become', 'run privileged commands through sudo')
    .option('--become-user <name>', 'sudo to this user (default: root)')
    .option('-K, --ask-become-pass', 'ask for the sudo password on the terminal (or FLEETMEND_BECOME_PASSWORD)')
    .addOption(secondsOption('--connect-timeout <seconds>', 'TCP + SSH handshake + auth', DEFAULT_CONNECT_TIMEOUT_S))
    .addOption(secondsOption('--command-timeout <seconds>', 'per command', DEFAULT_COMMAND_TIMEOUT_S))
    .option('--max-output <bytes>', 'per-command output cap', parsePositiveInt('--max-output'), DEFAULT_MAX_OUTPUT);
}

function parseChecking(v: string): HostKeyChecking {
  if (v === 'strict' || v === 'accept-new' || v === 'off') return v;
  throw new FleetmendError('E_USAGE', `--host-key-checking must be strict, accept-new or off, got '${v}'`);
}

export interface ResolvedTargets {
  inventory: Inventory;
  targets: HostTarget[];
  specs: Map<string, ConnectionSpec>;
}

/**
 * Everything that can be checked before contacting a host is checked here: inventory, pattern,
 * key files. Any problem is a FleetmendError (exit 1, nothing contacted).
 */
export async function resolveTargets(opts: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedTargets> {
  const inventory = await loadInventory(opts.inventory);
  const names = selectHosts(inventory, opts.limit ?? 'all');
  const becomePassword = env.FLEETMEND_BECOME_PASSWORD || (opts.askBecomePass ? await promptSecret('BECOME password: ') : undefined);
  const defaults: CliConnectionDefaults = {
    user: opts.user ?? userInfo().username,
    knownHostsFile: opts.knownHosts ?? join(homedir(), '.ssh', 'known_hosts'),
    hostKeyChecking: opts.hostKeyChecking,
    connectTimeoutMs: opts.connectTimeout,
    commandTimeoutMs: opts.commandTimeout,
    maxOutputBytes: opts.maxOutput,
    ...(opts.privateKey ? { privateKeyFile: opts.privateKey } : {}),
    ...(opts.sshConfig ? { sshConfigFile: opts.sshConfig } : {}),
    ...(opts.become ? { become: true } : {}),
    ...(opts.becomeUser ? { becomeUser: opts.becomeUser } : {}),
    ...(env.FLEETMEND_KEY_PASSPHRASE ? { passphrase: env.FLEETMEND_KEY_PASSPHRASE } : {}),
    ...(becomePassword ? { becomePassword } : {}),
  };
  const targets: HostTarget[] = [];
  const specs = new Map<string, ConnectionSpec>();
  const keyFiles = new Set<string>();
  for (const name of names) {
    const host = inventory.hosts.get(name);
    if (!host) continue;
    const spec = await buildConnectionSpec(name, connectionVars(host), defaults);
    specs.set(name, spec);
    targets.push({ name, address: spec.address, port: spec.port, groups: host.groups });
    for (const s of withJumps(spec)) if (s.auth.privateKeyFile) keyFiles.add(s.auth.privateKeyFile);
  }
  await unlockKeyFiles(keyFiles, specs);
  return { inventory, targets, specs };
}

/**
 * Every explicit key file is read and decrypted once, before any host is contacted: a missing
 * file or a wrong passphrase is exit 1 (E_KEYFILE). An encrypted key without a passphrase
 * (inventory or FLEETMEND_KEY_PASSPHRASE) is asked for on the terminal, once per file.
 */
function withJumps(s: ConnectionSpec): ConnectionSpec[] {
  return s.jump ? [s, ...withJumps(s.jump)] : [s];
}

async function unlockKeyFiles(files: Set<string>, specs: Map<string, ConnectionSpec>): Promise<void> {
  for (const file of files) {
    const users = [...specs.values()].flatMap(withJumps).filter((s) => s.auth.privateKeyFile === file);
    const given = users.find((s) => s.auth.passphrase !== undefined)?.auth.passphrase;
    try {
      await loadPrivateKey(file, given);
    } catch (err) {
      if (given !== undefined || !(err instanceof FleetmendError) || !/no passphrase/.test(err.message) || !process.stdin.isTTY) throw err;
      const passphrase = await promptSecret(`Enter passphrase for key ${file}: `);
      await loadPrivateKey(file, passphrase);
      for (const s of users) s.auth.passphrase = passphrase;
    }
  }
}
