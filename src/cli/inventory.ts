import type { Command } from 'commander';
import { inventoryToGraph, inventoryToList, loadInventory, selectHosts } from '../inventory/index.js';
import { FleetmendError } from '../errors.js';
import type { CliIO } from './io.js';
import { resolveInventory } from './inventory-source.js';
import { escapeControls, escapeJsonControls, terminalLine } from '../util/terminal.js';

interface InventoryCliOptions {
  inventory?: string;
  list?: boolean;
  graph?: boolean;
  host?: string;
  limit?: string;
}

const asJson = (v: unknown): string => escapeJsonControls(JSON.stringify(v, null, 4)) + '\n';

export function inventoryCommand(program: Command, io: CliIO): Command {
  return program
    .command('inventory')
    .description('show the resolved inventory (like ansible-inventory)')
    .option('-i, --inventory <file>', 'inventory file (Ansible YAML or INI; default: $ANSIBLE_INVENTORY, else `inventory =` in ansible.cfg)')
    .option('--list', 'hosts and merged vars as JSON (secrets redacted)')
    .option('--graph', 'the group tree')
    .option('--host <name>', "one host's merged vars as JSON (secrets redacted), as ansible-inventory --host")
    .option('-l, --limit <pattern>', 'only print the host names this pattern selects')
    .action(async (opts: InventoryCliOptions) => {
      if (!opts.limit && !opts.graph && !opts.list && opts.host === undefined) throw new FleetmendError('E_USAGE', 'inventory: choose --list, --graph, --host NAME or --limit PATTERN');
      const inv = await loadInventory(resolveInventory(opts.inventory, io));
      for (const w of inv.warnings) io.stderr.write(`warning: ${terminalLine(w)}\n`);
      // names are the inventory's: a control character in one is shown, not sent (--list is JSON)
      if (opts.limit) io.stdout.write(selectHosts(inv, opts.limit).map((h) => escapeControls(h)).join('\n') + '\n');
      else if (opts.graph) io.stdout.write(inventoryToGraph(inv, 'all', (n) => escapeControls(n)).replace(/\n?$/, '\n'));
      else if (opts.host !== undefined) io.stdout.write(asJson(hostVars(inventoryToList(inv), opts.host, inv.hosts.has(opts.host))));
      else io.stdout.write(asJson(inventoryToList(inv)));
    });
}

/** The host's vars as --list shows them (the same redaction); an unknown host is an error, as in Ansible. */
function hostVars(list: ReturnType<typeof inventoryToList>, host: string, known: boolean): Record<string, unknown> {
  if (!known) throw new FleetmendError('E_USAGE', `inventory --host: no host named ${JSON.stringify(host)} in the inventory`);
  return (list as { _meta: { hostvars: Record<string, Record<string, unknown>> } })._meta.hostvars[host] ?? {};
}
