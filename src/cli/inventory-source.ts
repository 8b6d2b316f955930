/**
 * Which inventory a command reads when `-i` is absent, as ansible-playbook decides it:
 * `ANSIBLE_INVENTORY`, else `inventory =` in the `[defaults]` section of the first ansible.cfg
 * found in Ansible's order ($ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg; fleetmend does not
 * read /etc/ansible/ansible.cfg, a system file that would silently aim it at a whole estate).
 * The file chosen is said on stderr, so an inventory nobody typed is never a surprise.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { FleetmendError } from '../errors.js';
import { terminalLine } from '../util/terminal.js';

export const NO_INVENTORY =
  'no inventory: give -i INVENTORY (an Ansible YAML or INI file), or set ANSIBLE_INVENTORY, or put "inventory = FILE" under [defaults] in ansible.cfg';

interface Found {
  inventory: string;
  /** Where it came from, for the stderr line. */
  from: string;
}

/** Ansible's ansible.cfg search order (without /etc/ansible, see above). */
function configCandidates(env: NodeJS.ProcessEnv, cwd: string): string[] {
  const home = env['HOME'] || homedir();
  return [env['ANSIBLE_CONFIG'], join(cwd, 'ansible.cfg'), join(home, '.ansible.cfg')].filter((p): p is string => !!p);
}

/** `inventory` (or Ansible's older `hostfile`) under [defaults], with its 1-based line. */
export function inventoryFromConfig(text: string): { value: string; line: number } | undefined {
  let section = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[([^\]]+)\]$/.exec(line);
    if (head) {
      section = head[1]!.trim();
      continue;
    }
    const kv = /^(inventory|hostfile)\s*[=:]\s*(.*)$/.exec(line);
    // an inline comment needs a space before it (Python's configparser, as Ansible reads it)
    if (section === 'defaults' && kv) return { value: kv[2]!.replace(/\s+[#;].*$/, '').trim(), line: i + 1 };
  }
  return undefined;
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  return p === '~' || p.startsWith('~/') ? join(env['HOME'] || homedir(), p.slice(1)) : p;
}

/** fleetmend reads one inventory file; Ansible's comma-separated list is refused, naming where it came from. */
function single(value: string, from: string): string {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length !== 1) throw new FleetmendError('E_USAGE', `${from} names ${parts.length ? `${parts.length} inventories (${parts.join(', ')})` : 'no inventory'}: fleetmend reads one file; give -i FILE`);
  return parts[0]!;
}

function findInventory(env: NodeJS.ProcessEnv, cwd: string): Found | undefined {
  const fromEnv = env['ANSIBLE_INVENTORY'];
  if (fromEnv) return { inventory: resolve(cwd, expandHome(single(fromEnv, 'ANSIBLE_INVENTORY'), env)), from: 'ANSIBLE_INVENTORY' };
  for (const cfg of configCandidates(env, cwd)) {
    if (!existsSync(cfg)) continue;
    // the first ansible.cfg found is the one Ansible reads, with or without an inventory line
    const entry = inventoryFromConfig(readFileSync(cfg, 'utf8'));
    if (!entry) return undefined;
    const where = `${cfg}:${entry.line}`;
    const file = expandHome(single(entry.value, where), env);
    // relative to the config file, as Ansible resolves path settings
    return { inventory: isAbsolute(file) ? file : resolve(dirname(resolve(cwd, cfg)), file), from: where };
  }
  return undefined;
}

/**
 * The inventory to read: `-i` when given, else the Ansible-style default (said on `stderr`),
 * else one line saying how to give one (E_USAGE, exit 1).
 */
export function resolveInventory(given: string | undefined, io: { env: NodeJS.ProcessEnv; stderr: NodeJS.WritableStream }, cwd: string = process.cwd()): string {
  if (given) return given;
  const found = findInventory(io.env, cwd);
  if (!found) throw new FleetmendError('E_USAGE', NO_INVENTORY);
  io.stderr.write(`inventory: ${terminalLine(found.inventory)} (from ${terminalLine(found.from)})\n`);
  return found.inventory;
}
