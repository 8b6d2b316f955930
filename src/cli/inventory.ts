import type { Command } from 'commander';
import { inventoryToGraph, inventoryToList, loadInventory, selectHosts } from '../inventory/index.js';
import { FleetmendError } from '../errors.js';
import type { CliIO } from './io.js';
import { escapeControls, escapeJsonControls, terminalLine } from '../util/terminal.js';

export function inventoryCommand(program: Command, io: CliIO): Command {
  return program
    .command('inventory')
    .description('show the resolved inventory (like ansible-inventory)')
    .requiredOption('-i, --inventory <file>', 'inventory file (Ansible YAML or INI)')
    .option('--list', 'hosts and merged vars as JSON (secrets redacted)')
    .option('--graph', 'the group tree')
    .option('-l, --limit <pattern>', 'only print the host names this pattern selects')
    .action(async (opts: { inventory: string; list?: boolean; graph?: boolean; limit?: string }) => {
      const inv = await loadInventory(opts.inventory);
      for (const w of inv.warnings) io.stderr.write(`warning: ${terminalLine(w)}\n`);
      // names are the inventory's: a control character in one is shown, not sent (--list is JSON)
      if (opts.limit) io.stdout.write(selectHosts(inv, opts.limit).map((h) => escapeControls(h)).join('\n') + '\n');
      else if (opts.graph) io.stdout.write(inventoryToGraph(inv, 'all', (n) => escapeControls(n)).replace(/\n?$/, '\n'));
      else if (opts.list) io.stdout.write(escapeJsonControls(JSON.stringify(inventoryToList(inv), null, 4)) + '\n');
      else throw new FleetmendError('E_USAGE', 'inventory: choose --list, --graph or --limit PATTERN');
    });
}
