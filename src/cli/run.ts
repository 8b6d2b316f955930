import type { Command } from 'commander';
import { addConnectionOptions } from './context.js';
import { addReportOptions } from './reports.js';
import type { RunCliOptions } from './run-action.js';
import type { CliIO } from './sweep.js';
import { optionWithDefault } from './options.js';
import { collect } from './util.js';

export function runCommand(program: Command, io: CliIO): Command {
  const cmd = program
    .command('run')
    .description('apply a playbook across the fleet (check mode, diffs, rolling batches, guards)')
    .argument('<playbook>', 'playbook YAML file');
  addConnectionOptions(cmd);
  addReportOptions(cmd);
  return cmd
    .option('-C, --check', 'predict changes, change nothing')
    .option('-D, --diff', 'show before/after of every change')
    .addOption(optionWithDefault('-e, --extra-vars <key=value|json>', 'extra variables (repeatable), highest precedence', [] as string[], collect))
    .option('-t, --tags <list>', 'only tasks with these tags')
    .option('--skip-tags <list>', 'skip tasks with these tags')
    .option('--json', 'print one JSON document on stdout')
    .option('--state-dir <dir>', 'run store location')
    .option('--no-store', 'do not record the run')
    .option('--resume <run-id>', 'continue a run: skip hosts that already finished ok/changed in it')
    .option('-q, --quiet', 'no progress output')
    .option('-v, --verbose', 'one recap line per host (else hosts with the same recap share a line)')
    .action(async (playbook: string, opts: RunCliOptions) => {
      // the playbook engine is loaded only when a playbook runs
      const { runAction } = await import('./run-action.js');
      io.exitCode = await runAction(playbook, opts, io);
    });
}

