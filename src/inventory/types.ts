/**
 * The inventory model handed to the rest of fleetmend: hosts with fully merged variables, groups
 * with their direct members. Built once by `loadInventory`, never mutated afterwards.
 */

export interface InventoryHost {
  name: string;
  /** Fully merged variables (group vars by Ansible precedence, then host vars). */
  vars: Record<string, unknown>;
  /** Every group the host belongs to, ancestors and 'all' included, in variable-merge order. */
  groups: string[];
}

export interface InventoryGroup {
  name: string;
  /** Hosts declared directly in this group (not via children). Always empty for 'all'. */
  hosts: string[];
  /** Direct child groups. */
  children: string[];
  /** The group's own variables (inventory file, then group_vars/ directory). */
  vars: Record<string, unknown>;
}

export interface Inventory {
  /** The inventory file this was loaded from. */
  source: string;
  /** In inventory order (order of first declaration). */
  hosts: Map<string, InventoryHost>;
  /** 'all' and 'ungrouped' first, then in order of first declaration. */
  groups: Map<string, InventoryGroup>;
  /** Non-fatal findings, each reported once for the whole inventory. */
  warnings: string[];
}

/** What the transport needs to reach a host, typed and validated. */
export interface ConnectionVars {
  address: string;
  port: number;
  user?: string;
  privateKeyFile?: string;
  password?: string;
  passphrase?: string;
  become: boolean;
  becomeUser?: string;
  becomePassword?: string;
  sshCommonArgs?: string;
}

export type InventoryFormat = 'yaml' | 'ini';
