import type { Command } from 'commander';
import { FleetmendError } from '../errors.js';
import type { CliIO } from './io.js';
import { parsePositiveInt } from './util.js';

export interface PruneCliOptions {
  stateDir?: string;
  keepRuns?: number;
  keepDays?: number;
  json?: boolean;
}

/** At least one bound: `prune` alone would have to guess how much history the operator needs. */
export function retention(o: { keepRuns?: number; keepDays?: number }): { keepRuns?: number; keepDays?: number } {
  if (o.keepRuns === undefined && o.keepDays === undefined) {
    throw new FleetmendError('E_USAGE', 'prune: give --keep-runs N and/or --keep-days D');
  }
  return { ...(o.keepRuns !== undefined ? { keepRuns: o.keepRuns } : {}), ...(o.keepDays !== undefined ? { keepDays: o.keepDays } : {}) };
}

export function pruneCommand(program: Command, io: CliIO): Command {
  return program
    .command('prune')
    .description('delete old runs from the store (the newest finished run of each inventory stays, for drift), then VACUUM')
    .option('--state-dir <dir>', 'run store location')
    .option('--keep-runs <n>', 'keep the newest N runs of each inventory and mode', parsePositiveInt('--keep-runs'))
    .option('--keep-days <d>', 'keep every run younger than D days', parsePositiveInt('--keep-days'))
    .option('--json', 'the outcome as JSON')
    .action(async (opts: PruneCliOptions) => {
      const keep = retention(opts);
      const { defaultStateDir, openStore } = await import('../store/index.js');
      const store = openStore(opts.stateDir ?? defaultStateDir(io.env));
      try {
        const r = store.prune({ ...keep, now: io.clock.now() });
        if (opts.json) return void io.stdout.write(JSON.stringify(r) + '\n');
        io.stdout.write(`pruned ${r.deleted_runs} runs, kept ${r.kept_runs}; store ${r.bytes_before} -> ${r.bytes_after} bytes\n`);
      } finally {
        store.close();
      }
    });
}
