import type { Command } from 'commander';
import { FleetmendError } from '../errors.js';
import type { HostKeyChecking } from '../transport/types.js';
import { optionWithDefault, secondsOption } from './options.js';
import { parsePositiveInt } from './util.js';

/** Options every command that contacts hosts shares (sweep, run, schedule): the run layer's type. */
export type { ConnectionOptions } from '../run/index.js';

export const DEFAULT_FORKS = 50;
/** Logins on hosts with a stalled audit queue take tens of seconds (reference §3). */
export const DEFAULT_CONNECT_TIMEOUT_S = 60;
export const DEFAULT_COMMAND_TIMEOUT_S = 120;
export const DEFAULT_MAX_OUTPUT = 8 * 1024 * 1024;

export function addConnectionOptions(cmd: Command): Command {
  return cmd
    // not commander's required option: without -i, ANSIBLE_INVENTORY or ansible.cfg may name
    // one, and a missing one is one line with the fix, not the whole help (inventory-source.ts)
    .option('-i, --inventory <file>', 'inventory file (Ansible YAML or INI; default: $ANSIBLE_INVENTORY, else `inventory =` in ansible.cfg)')
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

