import { resolve } from 'node:path';
import { FleetmendError } from '../errors.js';

/** What `schedule -- ...` may run: the host-contacting commands that record a run. */
export const SCHEDULABLE = ['sweep', 'run'] as const;

export interface ScheduledCommand {
  /** argv for main(), with `--state-dir` made explicit so the run lands in the scheduler's store. */
  argv: string[];
  /** The inventory as given, and absolute (the store and the locks key on the absolute path). */
  inventory: string;
  inventoryAbs: string;
}

/**
 * Check the forwarded command before the first tick: a typo must fail now with exit 1, not at
 * 3 a.m. on every tick. Only the options the scheduler depends on are read here; the rest is
 * the sub-command's business and is validated by it on each run.
 */
export function prepareCommand(command: readonly string[], stateDir: string): ScheduledCommand {
  const [sub, ...rest] = command;
  if (!sub || !(SCHEDULABLE as readonly string[]).includes(sub)) {
    throw new FleetmendError('E_USAGE', `schedule runs 'sweep' or 'run' after '--', got ${sub ? `'${sub}'` : 'nothing'} (fleetmend schedule --cron EXPR -- sweep -i INVENTORY ...)`);
  }
  if (rest.includes('--no-store')) throw new FleetmendError('E_USAGE', 'a scheduled run must be recorded: drop --no-store');
  if (rest.includes('--help') || rest.includes('-h')) throw new FleetmendError('E_USAGE', `see 'fleetmend ${sub} --help'`);
  const inventory = optionValue(rest, '-i', '--inventory');
  if (!inventory) throw new FleetmendError('E_USAGE', `the scheduled ${sub} needs -i INVENTORY (the lock and the drift are per inventory)`);
  const given = optionValue(rest, undefined, '--state-dir');
  if (given !== undefined && resolve(given) !== resolve(stateDir)) {
    throw new FleetmendError('E_USAGE', `--state-dir differs between schedule (${stateDir}) and ${sub} (${given}): give it once, to schedule`);
  }
  const argv = given !== undefined ? [sub, ...rest] : [sub, ...rest, '--state-dir', stateDir];
  return { argv, inventory, inventoryAbs: resolve(inventory) };
}

/** The value of `-x V`, `-xV`, `--long V` or `--long=V` (the last one wins, as in commander). */
export function optionValue(args: readonly string[], short: string | undefined, long: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a === long || (short && a === short)) value = args[++i];
    else if (a.startsWith(`${long}=`)) value = a.slice(long.length + 1);
    else if (short && a.startsWith(short) && !a.startsWith('--') && a.length > short.length) value = a.slice(short.length);
  }
  return value;
}
