/**
 * The raw inventory both file formats parse into: groups, parent/child edges, and the variables
 * exactly as the file declared them. `resolve.ts` turns it into the public `Inventory`.
 */
import { FleetmendError, type SourcePosition } from '../errors.js';
import { MAX_GROUP_MEMBERSHIPS, MAX_HOSTS_PER_INVENTORY } from './ranges.js';

export interface RawGroup {
  name: string;
  hosts: string[];
  children: string[];
  vars: Record<string, unknown>;
  /** `ansible_group_priority`: among groups of equal depth, higher merges later. */
  priority: number;
}

export interface RawInventory {
  file: string;
  /** Host name → variables declared for it in the inventory file (later declarations win). */
  hosts: Map<string, Record<string, unknown>>;
  groups: Map<string, RawGroup>;
}

/** Accumulates declarations in file order; `finish()` rejects group loops. */
export class RawInventoryBuilder {
  readonly inv: RawInventory;
  /** group → its direct hosts, for O(1) duplicate checks in large ranges. */
  private readonly members = new Map<string, Set<string>>();
  /** Distinct (group, host) pairs so far, bounded by MAX_GROUP_MEMBERSHIPS. */
  private memberships = 0;
  /** parent/child edge → the order it was declared in and where (for a loop's error). */
  private readonly edges = new Map<string, { seq: number; at: SourcePosition }>();

  constructor(file: string) {
    this.inv = { file, hosts: new Map(), groups: new Map() };
    // As Ansible's InventoryData: 'all' and its first child 'ungrouped' always exist.
    this.group('all').children.push('ungrouped');
    this.group('ungrouped');
  }

  group(name: string): RawGroup {
    let g = this.inv.groups.get(name);
    if (!g) {
      g = { name, hosts: [], children: [], vars: {}, priority: 1 };
      this.inv.groups.set(name, g);
    }
    return g;
  }

  hasGroup(name: string): boolean {
    return this.inv.groups.has(name);
  }

  addHost(groupName: string, host: string, vars: Record<string, unknown>): void {
    const g = this.group(groupName);
    const members = this.members.get(groupName) ?? new Set<string>();
    this.members.set(groupName, members);
    if (!members.has(host)) {
      members.add(host);
      g.hosts.push(host);
      this.memberships++;
    }
    this.inv.hosts.set(host, { ...(this.inv.hosts.get(host) ?? {}), ...vars });
  }

  /**
   * The names one entry declared; past MAX_HOSTS_PER_INVENTORY distinct hosts, or
   * MAX_GROUP_MEMBERSHIPS (group, host) pairs, in the file the entry is refused at its position
   * (checked per host, so memory stays bounded).
   */
  addHosts(groupName: string, hosts: readonly string[], vars: Record<string, unknown>, at: () => SourcePosition): void {
    for (const host of hosts) {
      this.addHost(groupName, host, vars);
      if (this.inv.hosts.size > MAX_HOSTS_PER_INVENTORY) {
        throw new FleetmendError(
          'E_INVENTORY',
          `the inventory declares more than ${MAX_HOSTS_PER_INVENTORY.toLocaleString('en-US')} hosts (the limit per inventory file)`,
          { position: at() },
        );
      }
      if (this.memberships > MAX_GROUP_MEMBERSHIPS) {
        throw new FleetmendError(
          'E_INVENTORY',
          `the inventory puts hosts in groups more than ${MAX_GROUP_MEMBERSHIPS.toLocaleString('en-US')} times (the limit per inventory file)`,
          { position: at() },
        );
      }
    }
  }

  setGroupVar(groupName: string, key: string, value: unknown, at: SourcePosition): void {
    const g = this.group(groupName);
    // Ansible keeps ansible_group_priority as a property of the group, not as a variable.
    if (key === 'ansible_group_priority') {
      const n = typeof value === 'string' && /^-?[0-9]+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) {
        throw new FleetmendError('E_INVENTORY', `group '${groupName}': ansible_group_priority must be an integer`, {
          position: at,
        });
      }
      g.priority = n;
      return;
    }
    g.vars[key] = value;
  }

  addChild(parent: string, child: string, at: SourcePosition): void {
    if (child === 'all') {
      throw new FleetmendError('E_INVENTORY', `group 'all' cannot be a child of '${parent}'`, { position: at });
    }
    if (parent === child) throw loop(parent, child, at);
    const p = this.group(parent);
    this.group(child);
    if (!p.children.includes(child)) {
      p.children.push(child);
      this.edges.set(edgeKey(parent, child), { seq: this.edges.size, at });
    }
  }

  /**
   * Loops are looked for once, when the file has been read (iteratively, O(groups + edges)): a
   * check per edge walked the child's descendants each time, quadratic in a long chain of
   * groups. The loop is reported at the edge that closed it, the one declared last.
   */
  finish(): RawInventory {
    const state = new Map<string, 'open' | 'done'>();
    for (const root of this.inv.groups.keys()) {
      if (state.has(root)) continue;
      const path: string[] = [root];
      const next: number[] = [0];
      state.set(root, 'open');
      while (path.length) {
        const name = path[path.length - 1] as string;
        const children = this.inv.groups.get(name)?.children ?? [];
        const k = next[next.length - 1] as number;
        if (k === children.length) {
          state.set(name, 'done');
          path.pop();
          next.pop();
          continue;
        }
        next[next.length - 1] = k + 1;
        const c = children[k] as string;
        const s = state.get(c);
        if (s === 'open') this.throwLoop([...path.slice(path.indexOf(c)), c]);
        if (s === undefined) {
          state.set(c, 'open');
          path.push(c);
          next.push(0);
        }
      }
    }
    return this.inv;
  }

  private throwLoop(cycle: string[]): never {
    let last: { parent: string; child: string; seq: number; at: SourcePosition } | undefined;
    for (let i = 0; i + 1 < cycle.length; i++) {
      const e = this.edges.get(edgeKey(cycle[i] as string, cycle[i + 1] as string));
      if (e && (!last || e.seq > last.seq)) last = { parent: cycle[i] as string, child: cycle[i + 1] as string, ...e };
    }
    if (!last) throw new FleetmendError('E_INTERNAL', `group loop ${cycle.join(' -> ')} without its edges`);
    throw loop(last.parent, last.child, last.at);
  }
}

function edgeKey(parent: string, child: string): string {
  return `${parent}\u0000${child}`;
}

function loop(parent: string, child: string, at: SourcePosition): FleetmendError {
  return new FleetmendError('E_INVENTORY', `adding group '${child}' as a child of '${parent}' creates a loop`, { position: at });
}
