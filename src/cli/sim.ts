import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliIO } from './io.js';
import { optionWithDefault } from './options.js';
import { parsePositiveInt } from './util.js';

export function simCommand(program: Command, io: CliIO): Command {
  return program
    .command('sim')
    .description('start a simulated fleet (real SSH endpoints on loopback) until SIGINT/SIGTERM')
    .option('--hosts <n>', 'number of hosts (default: the scenario size)', parsePositiveInt('--hosts'))
    .addOption(optionWithDefault('--scenario <name>', 'incident | healthy | states | faults', 'incident'))
    .option('--dir <dir>', 'where to write the inventory, known_hosts and client key')
    .option('--inventory-out <file>', 'also copy the inventory to FILE')
    .action(async (opts: { hosts?: number; scenario: string; dir?: string; inventoryOut?: string }) => {
      // the simulator is another machine: loaded only by the commands that start it
      const { runSimCommand } = await import('../sim/index.js');
      await runSimCommand({
        scenario: opts.scenario,
        dir: opts.dir ?? mkdtempSync(join(tmpdir(), 'fleetmend-sim-')),
        ...(opts.hosts ? { hosts: opts.hosts } : {}),
        ...(opts.inventoryOut ? { inventoryOut: opts.inventoryOut } : {}),
        log: (line) => io.stdout.write(`${line}\n`),
      });
    });
}
