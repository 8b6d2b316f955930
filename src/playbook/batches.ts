/**
 * Rolling batches (`serial`), as in Ansible: a number, a percentage of the play's hosts, or a
 * list of those used in turn, the last value repeating until every host has a batch.
 * Percentages round down, with a minimum of one host. See BATCHES.md.
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

export function planBatches<T>(hosts: readonly T[], serial?: Serial): T[][] {
  if (hosts.length === 0) return [];
  if (serial === undefined) return [[...hosts]];
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
