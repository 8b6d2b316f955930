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

/** Accumulates declarations in file order; rejects group cycles the moment they appear. */
export class RawInventoryBuilder {
  readonly inv: RawInventory;
  /** group → its direct hosts, for O(1) duplicate checks in large ranges. */
  private readonly members = new Map<string, Set<string>>();
  /** Distinct (group, host) pairs so far, bounded by MAX_GROUP_MEMBERSHIPS. */
  private memberships = 0;

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
    if (parent === child || this.descendants(child).has(parent)) {
      throw new FleetmendError(
        'E_INVENTORY',
        `adding group '${child}' as a child of '${parent}' creates a loop`,
        { position: at },
      );
    }
    const p = this.group(parent);
    this.group(child);
    if (!p.children.includes(child)) p.children.push(child);
  }

  private descendants(name: string): Set<string> {
    const seen = new Set<string>();
    const stack = [name];
    while (stack.length) {
      const g = this.inv.groups.get(stack.pop() as string);
      for (const c of g?.children ?? []) {
        if (!seen.has(c)) {
          seen.add(c);
          stack.push(c);
        }
      }
    }
    return seen;
  }
}
