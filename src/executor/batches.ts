/**
 * Rolling batches (`serial`), as in Ansible: a number, a percentage of the play's hosts, or a
 * list of those used in turn, the last value repeating until every host has a batch.
 * Percentages round down, with a minimum of one host. Two rollout shapes of our own (issue 27):
 * `canary` (one host first, zero tolerance, then the rest) and `ramp` (1, 2, 4, ... up to -f, as
 * SSM automation ramps its rate). See src/playbook/BATCHES.md.
 */
import { FleetmendError } from '../errors.js';

export type SerialItem = number | string;
export type Serial = SerialItem | readonly SerialItem[];

export function batchSize(item: SerialItem, total: number): number {
  if (typeof item === 'number') {
    if (!Number.isInteger(item) || item < 0) throw new FleetmendError('E_PLAYBOOK', `serial: ${item} is not a positive integer`);
    return item === 0 ? total : item;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(item);
  if (m) return Math.max(1, Math.floor((total * Number(m[1])) / 100));
  if (/^\s*\d+\s*$/.test(item)) return batchSize(Number(item), total);
  throw new FleetmendError('E_PLAYBOOK', `serial: ${JSON.stringify(item)} is neither a number nor a percentage`);
}

export function planBatches<T>(hosts: readonly T[], serial?: Serial, forks = 50): T[][] {
  if (hosts.length === 0) return [];
  if (serial === undefined) return [[...hosts]];
  if (serial === 'canary') return [hosts.slice(0, 1), ...(hosts.length > 1 ? [hosts.slice(1)] : [])];
  if (serial === 'ramp') return rampBatches(hosts, forks);
  const items = Array.isArray(serial) ? (serial as readonly SerialItem[]) : [serial as SerialItem];
  if (items.length === 0) return [[...hosts]];
  const batches: T[][] = [];
  let i = 0;
  let k = 0;
  while (i < hosts.length) {
    const item = items[Math.min(k, items.length - 1)] as SerialItem;
    const size = Math.max(1, batchSize(item, hosts.length));
    batches.push(hosts.slice(i, i + size));
    i += size;
    k++;
  }
  return batches;
}

/** 1, 2, 4, ... hosts per batch, never more than `forks` (the hosts that can run at once). */
export function rampBatches<T>(hosts: readonly T[], forks: number): T[][] {
  const batches: T[][] = [];
  let size = 1;
  for (let i = 0; i < hosts.length; i += batches[batches.length - 1]!.length) {
    batches.push(hosts.slice(i, i + size));
    size = Math.min(size * 2, Math.max(1, forks));
  }
  return batches;
}

/** What runs first, and how tolerant that first batch is. */
export interface RolloutPlan<T> {
  batches: T[][];
  /** The first batch is a canary: one host, and its failure holds the run. */
  canary: boolean;
}

/**
 * The play's batches, with `--canary` (or `serial: canary`): one host first, then the play's
 * own `serial` over the other hosts. A play of one host has no canary to learn from.
 */
export function planRollout<T>(hosts: readonly T[], serial: Serial | undefined, opts: { forks?: number; canary?: boolean } = {}): RolloutPlan<T> {
  const canary = (opts.canary || serial === 'canary') && hosts.length > 1;
  if (!canary) return { batches: planBatches(hosts, serial, opts.forks), canary: false };
  const rest = serial === 'canary' ? [[...hosts.slice(1)]] : planBatches(hosts.slice(1), serial, opts.forks);
  return { batches: [hosts.slice(0, 1), ...rest], canary: true };
}
