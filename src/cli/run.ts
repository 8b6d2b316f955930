import type { Command } from 'commander';
import type { PlaybookOptions, RunRequest } from '../run/index.js';
import { addConnectionOptions } from './context.js';
import type { CliIO } from './io.js';
import { addReportOptions } from './reports.js';
import { runFromTerminal, withoutDistributed, type TerminalOptions } from './terminal.js';
import { optionWithDefault, redisOptions, waitLockOption } from './options.js';
import { collect, increaseVerbosity, parseSeconds } from './util.js';
import { FleetmendError } from '../errors.js';
import { redisInputFrom } from '../distributed/connection.js';
import { expandVarsFiles } from './extra-vars.js';
import { resolveInventory } from './inventory-source.js';
import { playbookListing, wantsListing, type ListingOptions } from './playbook-listing.js';

/** What commander hands the run action: the request's options plus the terminal's. */
export interface RunCliOptions extends PlaybookOptions, TerminalOptions, Omit<ListingOptions, 'inventory' | 'limit' | 'startAtTask'> {}

/** The run command's options (also parsed by `schedule -- run ...`). */
export function runOptions(cmd: Command): Command {
  addConnectionOptions(cmd);
  addReportOptions(cmd);
  cmd
    .option('-C, --check', 'predict changes, change nothing')
    .option('-D, --diff', 'show before/after of every change')
    .addOption(optionWithDefault('-e, --extra-vars <key=value|json|@file>', 'extra variables (repeatable), highest precedence; @FILE reads a YAML or JSON file (with --redis, secret-named ones stay here: give them to the workers)', [] as string[], collect))
    .option('-t, --tags <list>', 'only tasks with these tags')
    .option('--skip-tags <list>', 'skip tasks with these tags')
    .option('--json', 'print one JSON document on stdout')
    .option('--state-dir <dir>', 'run store location')
    .option('--no-store', 'do not record the run')
    .option('--resume <run-id>', 'continue a run (a held one too): skip hosts that already finished ok/changed in it')
    .option('--max-failures <N|P%>', 'run-wide failure budget over every host attempted (a % from 10 hosts on): past it the run is held')
    .option('--max-unreachable <N|P%>', 'run-wide budget for unreachable hosts, counted apart from failures')
    .option('--canary', "every play's first batch is one host; its failure holds the run")
    .option('--watch <seconds>', "watch each changed host this long after its play (overrides the plays' watch:, 0: none)", (v: string) => parseSeconds('--watch')(v) / 1000)
    .option('--start-at-task <name>', 'start at the first task named NAME (earlier plays and tasks are not run)')
    .option('--syntax-check', 'load and validate the playbook, contact no host (exit 0 when valid)')
    .option('--list-tasks', 'list the tasks that would run, contact no host')
    .option('--list-hosts', 'list the hosts each play would run on (-i, --limit), contact no host')
    .addOption(waitLockOption())
    .option('-q, --quiet', 'no progress output, no task stream (the recap stays)')
    .option('-v, --verbose', "-v: a task line and a recap line per host, every task's message (else identical hosts share a line); -vv: also rc, stdout, stderr and the time taken", increaseVerbosity, 0)
    .option('--no-color', 'no colour (also: NO_COLOR set; never when stdout is not a terminal)');
  return redisOptions(cmd, "each host's plays run");
}

export function runCommand(program: Command, io: CliIO): Command {
  const cmd = program
    .command('run')
    .description('apply a playbook across the fleet (check mode, diffs, rolling batches, guards)')
    .argument('<playbook>', 'playbook YAML file');
  return runOptions(cmd).action(async (playbook: string, opts: RunCliOptions) => {
    if (wantsListing(opts)) {
      const inventory = opts.listHosts ? resolveInventory(opts.inventory, io) : undefined;
      io.stdout.write(`${(await playbookListing(playbook, { ...opts, ...(inventory ? { inventory } : {}) })).join('\n')}\n`);
      return;
    }
    const resolved = { ...opts, inventory: resolveInventory(opts.inventory, io) };
    // a worker runs the playbook's whole text by play index: it cannot start mid-play
    if (opts.startAtTask !== undefined && redisInputFrom(opts, io.env)) throw new FleetmendError('E_USAGE', '--start-at-task is not supported with --redis (workers run whole plays)');
    io.exitCode = (await runFromTerminal(playbookRequest(playbook, resolved), resolved, io)).exitCode;
  });
}

/** The typed request of a run's command-line options. */
export function playbookRequest(playbook: string, opts: RunCliOptions): RunRequest {
  const { json: _json, quiet: _quiet, verbose: _verbose, color: _color, sinceLast: _sinceLast, waitLock: _waitLock, syntaxCheck: _sc, listTasks: _lt, listHosts: _lh, ...rest } = withoutDistributed(opts);
  return { kind: 'playbook', playbook, options: { ...rest, extraVars: expandVarsFiles(rest.extraVars) } };
}

