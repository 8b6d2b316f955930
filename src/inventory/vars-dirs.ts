/**
 * `group_vars/` and `host_vars/` beside the inventory file, found the way Ansible's host_group_vars
 * plugin does (DataLoader.find_vars_files): for entity NAME the first of `NAME` (file, or a
 * directory whose files are read recursively in sorted order), `NAME.yml`, `NAME.yaml`,
 * `NAME.json` that exists is used.
 */
import type { Stats } from 'node:fs';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
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

/** The vars files of `path`: itself, or the files under it when it is a directory. */
async function varsFiles(path: string): Promise<string[]> {
  const st = await statVarsPath(path);
  return st.isDirectory() ? filesUnder(path, st, new Map()) : [path];
}

/**
 * Links are followed as Ansible does, so `ancestors` (device:inode -> path of the directories
 * being read) turns a link back to one of them (`a -> .`) into E_INVENTORY, not endless recursion.
 */
async function filesUnder(dir: string, st: Stats, ancestors: ReadonlyMap<string, string>): Promise<string[]> {
  const id = `${st.dev}:${st.ino}`;
  const seen = ancestors.get(id);
  if (seen !== undefined) throw varsPathError(dir, `a symbolic link loop (it leads back to ${seen})`);
  const inside = new Map(ancestors).set(id, dir);
  const out: string[] = [];
  for (const n of (await named(dir, readdir(dir))).sort()) {
    // Ansible skips hidden files and editor backups.
    if (n.startsWith('.') || n.endsWith('~')) continue;
    const full = join(dir, n);
    const isVars = EXTENSIONS.includes(extname(n));
    // a broken link Ansible would not read (notes.txt) is no reason to refuse the inventory
    const entry = await statVarsPath(full).catch((err: unknown) => (isVars ? Promise.reject(err) : undefined));
    if (entry?.isDirectory()) out.push(...(await filesUnder(full, entry, inside)));
    else if (entry && isVars) out.push(full);
  }
  return out;
}

/**
 * stat(2), with a link loop (ELOOP) or a dangling link named as such: the inventory's to fix,
 * with the file named, not an internal error with a stack trace.
 */
async function statVarsPath(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw varsPathError(path, 'a symbolic link loop (ELOOP)');
    const target = code === 'ENOENT' ? await readlink(path).catch(() => undefined) : undefined;
    throw varsPathError(path, target !== undefined ? `a symbolic link to ${target}, which does not exist` : errnoOf(err));
  }
}

/** `op` on `path`, a failure of it an E_INVENTORY naming the file. */
async function named<T>(path: string, op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (err) {
    throw varsPathError(path, errnoOf(err));
  }
}

const errnoOf = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? String(err);

/** The path is the error's position (printed before the message), so the message says only why. */
function varsPathError(path: string, why: string): FleetmendError {
  return new FleetmendError('E_INVENTORY', `cannot read this vars file: ${why}`, { position: { file: path } });
}

async function readVarsFile(file: string): Promise<Record<string, unknown>> {
  // YAML 1.1 scalars as Ansible's PyYAML loader reads them (`no` is false); JSON reads the same either way
  const src = parseYaml(file, await named(file, readFile(file, 'utf8')), { pyyaml: true });
  if (src.value === null || src.value === undefined) return {};
  if (typeof src.value !== 'object' || Array.isArray(src.value)) {
    throw new FleetmendError('E_SCHEMA', 'a vars file must be a mapping of name: value', {
      position: positionOf(src, []),
    });
  }
  return src.value as Record<string, unknown>;
}
