import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { FleetmendError } from '../errors.js';
import type { HostTarget } from '../results/index.js';
import { connectionVars, loadInventory, selectHosts, type Inventory } from '../inventory/index.js';
import { buildConnectionSpec, loadPrivateKey, type CliConnectionDefaults } from '../transport/index.js';
import type { ConnectionSpec } from '../transport/types.js';
import type { ConnectionOptions } from './types.js';

/** Asks the operator for a secret on the terminal (the CLI's promptSecret); absent: never ask. */
export type AskSecret = (question: string) => Promise<string>;

export interface ResolvedTargets {
  inventory: Inventory;
  targets: HostTarget[];
  specs: Map<string, ConnectionSpec>;
}

/**
 * Everything that can be checked before contacting a host is checked here: inventory, pattern,
 * key files. Any problem is a FleetmendError (exit 1, nothing contacted).
 */
export async function resolveTargets(opts: ConnectionOptions, env: NodeJS.ProcessEnv = process.env, ask?: AskSecret): Promise<ResolvedTargets> {
  const inventory = await loadInventory(opts.inventory);
  const names = selectHosts(inventory, opts.limit ?? 'all');
  const becomePassword = env.FLEETMEND_BECOME_PASSWORD || (opts.askBecomePass ? await askOrRefuse(ask, 'BECOME password: ') : undefined);
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
  await unlockKeyFiles(keyFiles, specs, ask);
  return { inventory, targets, specs };
}

/** A connection and the bastions it jumps through, nearest first. */
function withJumps(s: ConnectionSpec): ConnectionSpec[] {
  return s.jump ? [s, ...withJumps(s.jump)] : [s];
}

/**
 * Every explicit key file is read and decrypted once, before any host is contacted: a missing
 * file or a wrong passphrase is exit 1 (E_KEYFILE). An encrypted key without a passphrase
 * (inventory or FLEETMEND_KEY_PASSPHRASE) is asked for on the terminal, once per file.
 */
async function unlockKeyFiles(files: Set<string>, specs: Map<string, ConnectionSpec>, ask: AskSecret | undefined): Promise<void> {
  for (const file of files) {
    const users = [...specs.values()].flatMap(withJumps).filter((s) => s.auth.privateKeyFile === file);
    const given = users.find((s) => s.auth.passphrase !== undefined)?.auth.passphrase;
    try {
      await loadPrivateKey(file, given);
    } catch (err) {
      if (given !== undefined || !(err instanceof FleetmendError) || !/no passphrase/.test(err.message) || !ask || !process.stdin.isTTY) throw err;
      const passphrase = await ask(`Enter passphrase for key ${file}: `);
      await loadPrivateKey(file, passphrase);
      for (const s of users) s.auth.passphrase = passphrase;
    }
  }
}

function askOrRefuse(ask: AskSecret | undefined, question: string): Promise<string> {
  if (!ask) throw new FleetmendError('E_USAGE', `cannot ask: no terminal (${question.trim()}); set FLEETMEND_BECOME_PASSWORD`);
  return ask(question);
}
