/**
 * Reading an inventory file: detect its format, parse it, pick up group_vars/ and host_vars/
 * beside it, resolve. Only this file touches the file system for the inventory itself.
 */
import { dirname, extname, join } from 'node:path';
import { readInputText } from '../util/input-file.js';
import { parseIniInventory } from './ini-format.js';
import type { RawInventory } from './raw.js';
import { resolveInventory, type DirVars } from './resolve.js';
import type { Inventory, InventoryFormat } from './types.js';
import { loadVarsDir } from './vars-dirs.js';
import { parseYamlInventory } from './yaml-format.js';

/**
 * `.ini` → INI; `.yml`/`.yaml`/`.json` → YAML; otherwise (e.g. Ansible's customary `hosts`) by
 * content: YAML if the first meaningful line is `---`, `{`, or a `key:` mapping entry (a colon
 * followed by a space or the end of line, which an INI host line `web1:2222` never has).
 */
export function detectInventoryFormat(file: string, text: string): InventoryFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.ini') return 'ini';
  if (ext === '.yml' || ext === '.yaml' || ext === '.json') return 'yaml';
  for (const raw of text.split(/\r?\n/)) {
    const t = raw.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    return t === '---' || t.startsWith('{') || /^[^\s=[]+:(\s|$)/.test(t) ? 'yaml' : 'ini';
  }
  return 'ini';
}

export function parseInventoryText(file: string, text: string, format = detectInventoryFormat(file, text)): RawInventory {
  return format === 'ini' ? parseIniInventory(file, text) : parseYamlInventory(file, text);
}

/** Parse inventory text with no group_vars/host_vars directories (pure). */
export function parseInventory(file: string, text: string, format?: InventoryFormat): Inventory {
  return resolveInventory(parseInventoryText(file, text, format));
}

export async function loadInventory(path: string): Promise<Inventory> {
  const text = await readInputText(path, { code: 'E_INVENTORY', what: 'inventory', directoryHint: 'give the inventory file' });
  const raw = parseInventoryText(path, text);
  const base = dirname(path);
  const [groupVars, hostVars] = await Promise.all([
    loadVarsDir(join(base, 'group_vars'), raw.groups.keys()),
    loadVarsDir(join(base, 'host_vars'), raw.hosts.keys()),
  ]);
  const dirs: DirVars = { groupVars, hostVars };
  return resolveInventory(raw, dirs);
}
