/**
 * Raw declarations → the public Inventory: implicit 'all'/'ungrouped' membership, group depth, and
 * variable precedence. Ansible's order, lowest first (docs "Variable precedence", items 3-9 that
 * apply to inventories; helpers.sort_groups orders groups by depth, priority, name):
 *   1. inventory-file group vars, groups sorted by (depth, ansible_group_priority, name)
 *   2. group_vars/ directory, same group order ('all' first, as it is depth 0)
 *   3. inventory-file host vars
 *   4. host_vars/ directory
 * Merging replaces whole top-level values (Ansible's default hash_behaviour=replace).
 */
import { FleetmendError } from '../errors.js';
import { connectionVars, unsupportedVarWarnings } from './connection.js';
import type { RawGroup, RawInventory } from './raw.js';
import { MAX_GROUP_DEPTH, MAX_GROUP_MEMBERSHIPS } from './ranges.js';
import type { Inventory, InventoryGroup, InventoryHost } from './types.js';
import type { VarsByName } from './vars-dirs.js';

export interface DirVars {
  groupVars: VarsByName;
  hostVars: VarsByName;
}

export function resolveInventory(raw: RawInventory, dirs: DirVars = { groupVars: new Map(), hostVars: new Map() }): Inventory {
  const groups = linkToAll(raw);
  const parents = parentMap(groups);
  const depth = depths(groups, raw.file);
  const order = (a: RawGroup, b: RawGroup): number =>
    (depth.get(a.name) ?? 0) - (depth.get(b.name) ?? 0) || a.priority - b.priority || compareNames(a.name, b.name);

  const direct = directGroupsOf(groups);
  const hosts = new Map<string, InventoryHost>();
  // 'all' aside, as parsing counted them: a host is in each group its groups are children of
  let memberships = 0;
  for (const [name, hostVars] of raw.hosts) {
    const memberOf = [...ancestorsOf(direct.get(name) ?? [], parents)].map((g) => groups.get(g) as RawGroup).sort(order);
    memberships += memberOf.length - 1;
    if (memberships > MAX_GROUP_MEMBERSHIPS) {
      throw new FleetmendError(
        'E_INVENTORY',
        `the inventory puts hosts in groups more than ${MAX_GROUP_MEMBERSHIPS.toLocaleString('en-US')} times, counting the groups their groups are children of (the limit per inventory file)`,
        { position: { file: raw.file } },
      );
    }
    const vars: Record<string, unknown> = {};
    for (const g of memberOf) Object.assign(vars, g.vars);
    for (const g of memberOf) Object.assign(vars, dirs.groupVars.get(g.name));
    Object.assign(vars, hostVars, dirs.hostVars.get(name));
    hosts.set(name, { name, vars, groups: memberOf.map((g) => g.name) });
  }
  for (const h of hosts.values()) connectionVars(h); // a bad port or become fails the load, not the run

  const outGroups = new Map<string, InventoryGroup>();
  for (const g of groups.values()) {
    outGroups.set(g.name, {
      name: g.name,
      hosts: [...g.hosts],
      children: [...g.children],
      vars: { ...g.vars, ...(dirs.groupVars.get(g.name) ?? {}) },
    });
  }
  return { source: raw.file, hosts, groups: outGroups, warnings: unsupportedVarWarnings(hosts.values()) };
}

/** Python's default str ordering (code points), which ansible-inventory and sort_groups use. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Ansible's reconcile_inventory: hosts are never direct members of 'all'; a host in no group
 * but 'all'/'ungrouped' is in 'ungrouped' (and only then); every parentless group is a child of 'all'.
 */
function linkToAll(raw: RawInventory): Map<string, RawGroup> {
  const groups = new Map<string, RawGroup>();
  for (const g of raw.groups.values()) groups.set(g.name, { ...g, hosts: [...g.hosts], children: [...g.children] });
  const all = groups.get('all') as RawGroup;
  const ungrouped = groups.get('ungrouped') as RawGroup;
  const grouped = new Set<string>();
  for (const g of groups.values()) if (g !== all && g !== ungrouped) g.hosts.forEach((h) => grouped.add(h));
  all.hosts = [];
  ungrouped.hosts = [...raw.hosts.keys()].filter((h) => !grouped.has(h));
  const hasParent = new Set([...groups.values()].flatMap((g) => g.children));
  for (const g of groups.values()) {
    if (g !== all && !hasParent.has(g.name) && !all.children.includes(g.name)) all.children.push(g.name);
  }
  return groups;
}

function parentMap(groups: Map<string, RawGroup>): Map<string, string[]> {
  const parents = new Map<string, string[]>();
  for (const g of groups.values()) {
    for (const c of g.children) parents.set(c, [...(parents.get(c) ?? []), g.name]);
  }
  return parents;
}

/**
 * Depth is the longest path from 'all' (Ansible: a child's depth is max(parent depth + 1)), in
 * topological order: a recursion per path overflowed the stack on a chain of 5,000 groups.
 * Past MAX_GROUP_DEPTH the inventory is refused.
 */
function depths(groups: Map<string, RawGroup>, file: string): Map<string, number> {
  const parentsLeft = new Map<string, number>();
  for (const g of groups.values()) for (const c of g.children) parentsLeft.set(c, (parentsLeft.get(c) ?? 0) + 1);
  const depth = new Map<string, number>([['all', 0]]);
  const ready = [...groups.keys()].filter((n) => !parentsLeft.get(n));
  for (let i = 0; i < ready.length; i++) {
    const name = ready[i] as string;
    const d = depth.get(name) ?? 0;
    for (const c of groups.get(name)?.children ?? []) {
      depth.set(c, Math.max(depth.get(c) ?? 0, d + 1));
      const left = (parentsLeft.get(c) as number) - 1;
      parentsLeft.set(c, left);
      if (left === 0) ready.push(c);
    }
  }
  const stuck = [...groups.keys()].find((n) => (parentsLeft.get(n) ?? 0) > 0);
  if (stuck !== undefined) throw new FleetmendError('E_INVENTORY', `group '${stuck}' is its own ancestor`);
  let deepest: [string, number] = ['all', 0];
  for (const entry of depth) if (entry[1] > deepest[1]) deepest = entry;
  if (deepest[1] > MAX_GROUP_DEPTH) {
    const [name, d] = deepest;
    throw new FleetmendError('E_INVENTORY', `group '${name}' is nested ${d.toLocaleString('en-US')} levels deep under 'all'; the limit is ${MAX_GROUP_DEPTH}`, { position: { file } });
  }
  return depth;
}

function directGroupsOf(groups: Map<string, RawGroup>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const g of groups.values()) for (const h of g.hosts) out.set(h, [...(out.get(h) ?? []), g.name]);
  return out;
}

function ancestorsOf(direct: readonly string[], parents: Map<string, string[]>): Set<string> {
  const out = new Set<string>(['all']);
  const stack = [...direct];
  while (stack.length) {
    const g = stack.pop() as string;
    if (out.has(g)) continue;
    out.add(g);
    stack.push(...(parents.get(g) ?? []));
  }
  return out;
}
