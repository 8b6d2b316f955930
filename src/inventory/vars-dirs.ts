/**
 * `group_vars/` and `host_vars/` beside the inventory file, found the way Ansible's host_group_vars
 * plugin does (DataLoader.find_vars_files): for entity NAME the first of `NAME` (file, or a
 * directory whose files are read recursively in sorted order), `NAME.yml`, `NAME.yaml`,
 * `NAME.json` that exists is used.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { FleetmendError } from '../errors.js';
import { parseYaml, positionOf } from '../util/yaml.js';

const EXTENSIONS = ['', '.yml', '.yaml', '.json'];

export type VarsByName = Map<string, Record<string, unknown>>;

/** Variables for each of `names` that has a file in `dir`; absent dir → empty map. */
export async function loadVarsDir(dir: string, names: Iterable<string>): Promise<VarsByName> {
  const entries = await listDir(dir);
  const out: VarsByName = new Map();
  if (entries.size === 0) return out;
  await Promise.all(
    [...names].map(async (name) => {
      const candidate = EXTENSIONS.map((ext) => name + ext).find((f) => entries.has(f));
      if (candidate === undefined) return;
      const files = await varsFiles(join(dir, candidate));
      let vars: Record<string, unknown> = {};
      for (const f of files) vars = { ...vars, ...(await readVarsFile(f)) };
      out.set(name, vars);
    }),
  );
  return out;
}

async function listDir(dir: string): Promise<Set<string>> {
  try {
    return new Set(await readdir(dir));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return new Set();
    throw new FleetmendError('E_INVENTORY', `cannot read ${dir}: ${code ?? String(err)}`, { position: { file: dir } });
  }
}

async function varsFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const out: string[] = [];
  const names = (await readdir(path)).sort();
  for (const n of names) {
    // Ansible skips hidden files and editor backups.
    if (n.startsWith('.') || n.endsWith('~')) continue;
    const full = join(path, n);
    if ((await stat(full)).isDirectory()) out.push(...(await varsFiles(full)));
    else if (EXTENSIONS.includes(extname(n))) out.push(full);
  }
  return out;
}

async function readVarsFile(file: string): Promise<Record<string, unknown>> {
  // YAML 1.1 scalars as Ansible's PyYAML loader reads them (`no` is false); JSON reads the same either way
  const src = parseYaml(file, await readFile(file, 'utf8'), { pyyaml: true });
  if (src.value === null || src.value === undefined) return {};
  if (typeof src.value !== 'object' || Array.isArray(src.value)) {
    throw new FleetmendError('E_SCHEMA', 'a vars file must be a mapping of name: value', {
      position: positionOf(src, []),
    });
  }
  return src.value as Record<string, unknown>;
}
