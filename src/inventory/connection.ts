/**
 * Connection variables: the `ansible_*` names fleetmend honours, their typed form, and a
 * once-per-inventory warning for the ones it ignores. Which vars are secrets is src/secrets'.
 */
import { FleetmendError } from '../errors.js';
import type { ConnectionVars, InventoryHost } from './types.js';

/** Names read by `connectionVars`; the first of each list wins when several are set. */
const ALIASES = {
  address: ['ansible_host', 'ansible_ssh_host'],
  port: ['ansible_port', 'ansible_ssh_port'],
  user: ['ansible_user', 'ansible_ssh_user'],
  privateKeyFile: ['ansible_ssh_private_key_file', 'ansible_private_key_file'],
  password: ['ansible_password', 'ansible_ssh_pass', 'ansible_ssh_password'],
  passphrase: ['ansible_ssh_private_key_passphrase'],
  become: ['ansible_become'],
  becomeUser: ['ansible_become_user'],
  becomePassword: ['ansible_become_password', 'ansible_become_pass'],
  sshCommonArgs: ['ansible_ssh_common_args'],
} as const satisfies Record<keyof ConnectionVars, readonly string[]>;

/** `ansible_*` names that are understood (connection ones, plus inventory-structure ones). */
export const SUPPORTED_ANSIBLE_VARS: ReadonlySet<string> = new Set<string>([
  ...Object.values(ALIASES).flat(),
  'ansible_group_priority',
  'ansible_become_method',
]);

export function connectionVars(host: InventoryHost): ConnectionVars {
  const get = (key: keyof typeof ALIASES): unknown => {
    for (const name of ALIASES[key]) if (host.vars[name] !== undefined && host.vars[name] !== null) return host.vars[name];
    return undefined;
  };
  const str = (key: keyof typeof ALIASES): string | undefined => toText(host.name, ALIASES[key][0], get(key));
  refuseBecomeMethod(host);
  const out: ConnectionVars = {
    address: str('address') ?? host.name,
    port: toPort(host.name, get('port')),
    become: toBool(host.name, 'ansible_become', get('become')),
  };
  const optional = ['user', 'privateKeyFile', 'password', 'passphrase', 'becomeUser', 'becomePassword', 'sshCommonArgs'] as const;
  for (const key of optional) {
    const v = str(key);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * fleetmend becomes with sudo (src/transport/become.ts), so `ansible_become_method: sudo` says
 * what happens anyway and is accepted; any other method (su, doas, pbrun...) would be silently
 * replaced by sudo, so it is refused before any host is contacted.
 */
function refuseBecomeMethod(host: InventoryHost): void {
  const method = host.vars['ansible_become_method'];
  if (method === undefined || method === null || method === 'sudo') return;
  throw invalid(host.name, `ansible_become_method ${JSON.stringify(method)} is not supported: fleetmend becomes with sudo only (set ansible_become_method: sudo or remove it)`);
}

function invalid(host: string, message: string): FleetmendError {
  return new FleetmendError('E_INVENTORY', `host '${host}': ${message}`, { host });
}

function toText(host: string, name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw invalid(host, `${name} must be a string, got ${JSON.stringify(v)}`);
}

function toPort(host: string, v: unknown): number {
  if (v === undefined) return 22;
  const n = typeof v === 'string' && /^\s*[0-9]+\s*$/.test(v) ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535) return n;
  throw invalid(host, `ansible_port must be an integer 1-65535, got ${JSON.stringify(v)}`);
}

/** Ansible's `boolean()` filter: the accepted spellings, case-insensitively; nothing else. */
const TRUE = new Set(['y', 'yes', 'on', '1', 'true', 't', '1.0']);
const FALSE = new Set(['n', 'no', 'off', '0', 'false', 'f', '0.0', '']);

function toBool(host: string, name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if ((typeof v === 'string' || typeof v === 'number') && TRUE.has(s)) return true;
  if ((typeof v === 'string' || typeof v === 'number') && FALSE.has(s)) return false;
  throw invalid(host, `${name} must be a boolean, got ${JSON.stringify(v)}`);
}

/**
 * One warning per unsupported `ansible_*` name across the whole inventory, in first-seen order,
 * naming how many hosts it reaches: these are settings the operator expects to take effect.
 */
export function unsupportedVarWarnings(hosts: Iterable<InventoryHost>): string[] {
  const seen = new Map<string, string[]>();
  for (const h of hosts) {
    for (const k of Object.keys(h.vars)) {
      if (!k.startsWith('ansible_') || SUPPORTED_ANSIBLE_VARS.has(k)) continue;
      const list = seen.get(k) ?? [];
      list.push(h.name);
      seen.set(k, list);
    }
  }
  return [...seen].map(([k, hs]) => {
    const who = hs.length === 1 ? `host '${hs[0]}'` : `${hs.length} hosts (first '${hs[0]}')`;
    return `unsupported variable '${k}' is ignored (set for ${who})`;
  });
}
