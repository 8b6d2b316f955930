/**
 * Where roles are found and what a role directory holds, as ansible-core reads them
 * (docs: "Roles" — "Storing and finding roles"): a role name is looked up in `roles/` next to
 * the playbook, then in the roles path (ANSIBLE_ROLES_PATH, else `roles_path` of the
 * ansible.cfg next to the playbook, else Ansible's default path), then next to the playbook
 * itself; a name with a `/` is a path. A role is `tasks/`, `handlers/`, `defaults/`, `vars/`,
 * `meta/` (each `main.yml`), `templates/` and `files/`. Reading is synchronous: it happens once,
 * at load time, before any host is contacted.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { FleetmendError, type SourcePosition } from '../errors.js';
import { parseYaml, type ParseYamlOptions, type YamlSource } from '../util/yaml.js';

/** Environment the loader reads (ANSIBLE_ROLES_PATH); injected so tests and workers choose. */
export type LoaderEnv = Readonly<Record<string, string | undefined>>;

/** Ansible's DEFAULT_ROLES_PATH when neither the environment nor ansible.cfg sets one. */
function defaultRolesPath(): string[] {
  return [join(homedir(), '.ansible/roles'), '/usr/share/ansible/roles', '/etc/ansible/roles'];
}

/** `roles_path` in the `[defaults]` section of an INI ansible.cfg; relative entries from the file's directory. */
export function rolesPathFromCfg(file: string): string[] | undefined {
  if (!existsSync(file)) return undefined;
  let section = '';
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!.trim();
      continue;
    }
    const kv = /^roles_path\s*[=:]\s*(.*)$/.exec(line);
    if (section === 'defaults' && kv) return splitPath(kv[1]!.replace(/\s[#;].*$/, ''), dirname(file));
  }
  return undefined;
}

function splitPath(value: string, base: string): string[] {
  return value
    .split(':')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => (p.startsWith('~') ? join(homedir(), p.slice(1)) : resolve(base, p)));
}

/** The directories a role name is looked up in, in order, for a playbook in `playbookDir`. */
export function roleSearchPath(playbookDir: string, env: LoaderEnv): string[] {
  const fromEnv = env.ANSIBLE_ROLES_PATH ? splitPath(env.ANSIBLE_ROLES_PATH, process.cwd()) : undefined;
  const configured = fromEnv ?? rolesPathFromCfg(join(playbookDir, 'ansible.cfg')) ?? defaultRolesPath();
  return [join(playbookDir, 'roles'), ...configured, playbookDir];
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The role's directory. A missing role names every directory searched and the file:line that
 * asked for it (Ansible: "the role 'x' was not found in ...").
 */
export function findRole(name: string, searchPath: readonly string[], position: SourcePosition): string {
  const candidates = name.includes('/') || isAbsolute(name) ? [resolve(searchPath[searchPath.length - 1] ?? '.', name)] : searchPath.map((d) => join(d, name));
  const found = candidates.find(isDir);
  if (found) return found;
  throw new FleetmendError('E_PLAYBOOK', `the role '${name}' was not found in: ${candidates.map((c) => dirname(c)).join(', ')}`, {
    position,
    details: { searched: candidates },
  });
}

/** `<dir>/main.yml` (or `main.yaml`, `main`): the file a role's part is read from, if any. */
export function rolePart(roleDir: string, part: 'tasks' | 'handlers' | 'defaults' | 'vars' | 'meta', name = 'main'): string | undefined {
  const base = join(roleDir, part, name);
  return [`${base}.yml`, `${base}.yaml`, base].find((f) => existsSync(f) && !isDir(f));
}

/** Reads and parses a YAML file of the playbook's tree (a role part, an included task file, vars_files). */
export function readYamlSync(file: string, position: SourcePosition, opts: ParseYamlOptions = {}): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FleetmendError('E_PLAYBOOK', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { position });
  }
  return parseYaml(file, text, opts);
}

/**
 * A file named by `import_tasks`/`include_tasks`/`vars_files`, relative to the including file's
 * directory and (inside a role) the role's `tasks/` then the role's directory, as Ansible looks.
 */
export function findIncluded(name: string, dirs: readonly string[], position: SourcePosition, what: string): string {
  const candidates = isAbsolute(name) ? [name] : [...new Set(dirs.map((d) => join(d, name)))];
  const found = candidates.find((c) => existsSync(c) && !isDir(c));
  if (found) return found;
  throw new FleetmendError('E_PLAYBOOK', `${what}: '${name}' was not found (looked for ${candidates.join(', ')})`, { position, details: { searched: candidates } });
}
