/**
 * `ansible-inventory --list` and `--graph`, reproduced from ansible/cli/inventory.py: children
 * and hosts sorted by name, empty `hosts`/`children` keys and empty groups dropped (but still named
 * by their parent), 'all' never lists hosts, JSON keys sorted (json.dumps sort_keys=True).
 * Host variables are merged and redacted: --list never prints a password.
 */
import { FleetmendError } from '../errors.js';
import { maskSecretVars } from '../secrets/index.js';
import { compareNames } from './resolve.js';
import type { Inventory, InventoryGroup } from './types.js';

export interface InventoryListGroup {
  hosts?: string[];
  children?: string[];
}

export type InventoryList = { _meta: { hostvars: Record<string, Record<string, unknown>> } } & Record<
  string,
  InventoryListGroup | { hostvars: Record<string, Record<string, unknown>> }
>;

export function inventoryToList(inv: Inventory): InventoryList {
  const groups: Record<string, InventoryListGroup> = {};
  // once per group: a group reached through several parents is listed once anyway, and
  // visiting it again per path is exponential in a diamond of children
  const seen = new Set<string>();
  const visit = (g: InventoryGroup): void => {
    if (seen.has(g.name)) return;
    seen.add(g.name);
    const entry: InventoryListGroup = {};
    const hosts = g.name === 'all' ? [] : sortedNames(g.hosts);
    const children = sortedNames(g.children);
    if (hosts.length) entry.hosts = hosts;
    if (children.length) entry.children = children;
    if (hosts.length || children.length) groups[g.name] = entry;
    for (const c of children) visit(groupOf(inv, c));
  };
  visit(groupOf(inv, 'all'));

  const hostvars: Record<string, Record<string, unknown>> = {};
  for (const name of sortedNames([...inv.hosts.keys()])) {
    const vars = inv.hosts.get(name)?.vars ?? {};
    if (Object.keys(vars).length) hostvars[name] = sortKeysDeep(maskSecretVars(vars)) as Record<string, unknown>;
  }
  const out: Record<string, unknown> = { _meta: { hostvars } };
  for (const name of sortedNames(Object.keys(groups))) out[name] = groups[name];
  return out as InventoryList;
}

/** `show` renders each host and group name (the CLI makes control characters visible). */
export function inventoryToGraph(inv: Inventory, root = 'all', show: (name: string) => string = (n) => n): string {
  if (!inv.groups.has(root)) throw new FleetmendError('E_PATTERN', `--graph needs a group name, '${root}' is not a group`);
  const lines: string[] = [];
  const line = (name: string, depth: number): void => {
    lines.push(depth ? `${'  |'.repeat(depth)}--${name}` : name);
  };
  const visit = (g: InventoryGroup, depth: number): void => {
    line(`@${show(g.name)}:`, depth);
    for (const c of sortedNames(g.children)) visit(groupOf(inv, c), depth + 1);
    if (g.name !== 'all') for (const h of sortedNames(g.hosts)) line(show(h), depth + 1);
  };
  visit(groupOf(inv, root), 0);
  return lines.join('\n');
}

function groupOf(inv: Inventory, name: string): InventoryGroup {
  const g = inv.groups.get(name);
  if (!g) throw new FleetmendError('E_INTERNAL', `inventory refers to missing group '${name}'`);
  return g;
}

function sortedNames(names: readonly string[]): string[] {
  return [...names].sort(compareNames);
}

function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of sortedNames(Object.keys(v))) out[k] = sortKeysDeep((v as Record<string, unknown>)[k]);
  return out;
}
