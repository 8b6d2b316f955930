/**
 * A task list as Ansible writes it: tasks, `block`/`rescue`/`always`, `import_tasks` /
 * `include_tasks`, `import_role` / `include_role`, and the roles of a play (`roles:`, a role's
 * `meta/main.yml` dependencies). Everything is read at load time, before any host is contacted:
 * includes are loaded like imports (their file name must not be a template), and the keywords of
 * blocks, includes and roles are inherited by each task they hold (load-task.ts `inheritFrom`).
 */
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { FleetmendError, type SourcePosition } from '../errors.js';
import { keyPositionOf, positionOf, schemaError, type YamlSource } from '../util/yaml.js';
import { refuseUnsupportedTaskKeys, yaml11ValueAt } from './ansible.js';
import {
  inheritedKeywords,
  inheritFrom,
  loadTask,
  loopKeywords,
  loopOf,
  prefixed,
  varsSchema,
  type Inherited,
  type Path,
} from './load-task.js';
import { findIncluded, findRole, readYamlSync, rolePart } from './roles.js';
import type { Templater } from './template.js';
import { flatTasks, type Block, type PlayTask, type RoleRef, type Task } from './types.js';
import type { Vars } from './vars.js';

/** What loading one play's task tree shares: the roles already run, the handlers roles bring. */
export interface PlayLoad {
  templater: Templater;
  playbookDir: string;
  /** Where a role name is looked up (roles.ts roleSearchPath). */
  rolesSearch: string[];
  /** Role handlers, in the order their roles load (the play's own come first). */
  handlers: Task[];
  /** Roles of `roles:` and dependencies already in the play (Ansible runs each once per set of params). */
  rolesRun: Set<string>;
  /** Roles whose handlers are loaded. */
  handlersLoaded: Set<string>;
  /** Task files being loaded: an include loop is an error, not a stack overflow. */
  fileStack: string[];
  /** Where each task's `notify` is written: an unknown handler is reported there. */
  notifyAt: Map<Task, SourcePosition>;
}

const INCLUDE_TASKS = ['import_tasks', 'include_tasks'];
const INCLUDE_ROLE = ['import_role', 'include_role'];
const PREFIXES = ['', 'ansible.builtin.', 'ansible.legacy.'];
const includeKind = (key: string): { kind: string; dynamic: boolean } | undefined => {
  for (const p of PREFIXES) {
    if (!key.startsWith(p)) continue;
    const k = key.slice(p.length);
    if (INCLUDE_TASKS.includes(k) || INCLUDE_ROLE.includes(k)) return { kind: k, dynamic: k.startsWith('include_') };
  }
  return undefined;
};

const TEMPLATE_IN = /\{[{%]/;

export function loadTaskList(pl: PlayLoad, src: YamlSource, list: unknown, path: Path, inh: Inherited, fileDir: string): PlayTask[] {
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw new FleetmendError('E_SCHEMA', 'a task list must be a list', { position: positionOf(src, path) });
  return list.flatMap((raw, i) => loadEntry(pl, src, raw, [...path, i], inh, fileDir));
}

function loadEntry(pl: PlayLoad, src: YamlSource, raw: unknown, path: Path, inh: Inherited, fileDir: string): PlayTask[] {
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const obj = raw as Record<string, unknown>;
    if ('block' in obj) return [loadBlock(pl, src, obj, path, inh, fileDir)];
    const bare = ['rescue', 'always'].find((k) => k in obj);
    if (bare) throw new FleetmendError('E_PLAYBOOK', `'${bare}' belongs to a block (it needs a 'block:' beside it)`, { position: keyPositionOf(src, [...path, bare]) });
    const key = Object.keys(obj).find((k) => includeKind(k));
    if (key) return loadInclude(pl, src, obj, key, path, inh, fileDir);
  }
  const task = loadTask(src, raw, path, pl.templater, inh);
  if (task.notify.length) pl.notifyAt.set(task, keyPositionOf(src, [...path, 'notify']));
  return [task];
}

const taskList = z.array(z.unknown()).nullable().optional();
const blockSchema = z.object({ ...inheritedKeywords, block: taskList, rescue: taskList, always: taskList }).strict();

function loadBlock(pl: PlayLoad, src: YamlSource, obj: Record<string, unknown>, path: Path, parent: Inherited, fileDir: string): Block {
  refuseUnsupportedTaskKeys(src, obj, path);
  const r = blockSchema.safeParse(obj);
  if (!r.success) throw schemaError(src, prefixed(r.error, path));
  validateKeywordTemplates(pl.templater, src, path, r.data);
  const inh = inheritFrom(src, path, parent, r.data);
  const sub = (k: 'block' | 'rescue' | 'always') => loadTaskList(pl, src, r.data[k] ?? [], [...path, k], inh, fileDir);
  return { kind: 'block', name: r.data.name ?? 'block', block: sub('block'), rescue: sub('rescue'), always: sub('always'), position: positionOf(src, path) };
}

function validateKeywordTemplates(templater: Templater, src: YamlSource, path: Path, m: Record<string, unknown>): void {
  for (const k of ['become', 'check_mode', 'diff', 'ignore_errors']) {
    if (typeof m[k] === 'string') templater.validate(m[k] as string, keyPositionOf(src, [...path, k]));
  }
}

const fileArg = z.union([z.string().min(1), z.object({ file: z.string().min(1) }).strict()]);
const roleArg = z
  .object({
    name: z.string().min(1),
    tasks_from: z.string().min(1).optional(),
    vars_from: z.string().min(1).optional(),
    defaults_from: z.string().min(1).optional(),
    handlers_from: z.string().min(1).optional(),
    public: z.unknown().optional(),
    allow_duplicates: z.unknown().optional(),
  })
  .strict();

/**
 * `import_tasks`/`include_tasks`/`import_role`/`include_role`. The include's `vars` are include
 * params (above set_fact, as Ansible ranks them); its other keywords are inherited by every task
 * it loads. An include with a loop becomes a block run once per item.
 */
function loadInclude(pl: PlayLoad, src: YamlSource, obj: Record<string, unknown>, key: string, path: Path, parent: Inherited, fileDir: string): PlayTask[] {
  refuseUnsupportedTaskKeys(src, obj, path);
  const { kind, dynamic } = includeKind(key)!;
  const schema = z.object({ ...inheritedKeywords, ...loopKeywords, [key]: kind.endsWith('_role') ? roleArg : fileArg }).strict();
  const r = schema.safeParse(obj);
  if (!r.success) throw schemaError(src, prefixed(r.error, path));
  const m = r.data as z.infer<typeof schema> & Record<string, unknown>;
  validateKeywordTemplates(pl.templater, src, path, m);
  const loop = loopOf(src, path, m, pl.templater);
  const at = keyPositionOf(src, [...path, key]);
  if (loop && !dynamic) throw new FleetmendError('E_PLAYBOOK', `${kind} cannot loop (Ansible refuses loops on imports; use ${kind.replace('import_', 'include_')})`, { position: keyPositionOf(src, [...path, 'loop']) });
  const { vars: _params, ...keywords } = m;
  const inh = inheritFrom(src, path, parent, keywords);
  const params = m.vars !== undefined ? (yaml11ValueAt(src, [...path, 'vars']) as Vars) : {};
  const withParams: Inherited = { ...inh, vars: { ...inh.vars, params: { ...inh.vars.params, ...params } } };
  const arg = m[key] as z.infer<typeof roleArg> | z.infer<typeof fileArg>;
  const tasks =
    typeof arg === 'object' && 'name' in arg
      ? loadRole(pl, { name: arg.name, ...fromArgs(arg), position: at }, withParams, false)
      : loadIncludedTasks(pl, typeof arg === 'string' ? arg : arg.file, kind, withParams, fileDir, at);
  if (!loop) return tasks;
  const role = withParams.role ? { role: withParams.role } : {};
  return [{ kind: 'block', name: m.name ?? `${kind} (loop)`, block: tasks, rescue: [], always: [], loop, vars: withParams.vars, ...role, position: positionOf(src, path) }];
}

function fromArgs(a: z.infer<typeof roleArg>): Pick<RoleCall, 'tasksFrom' | 'varsFrom' | 'defaultsFrom' | 'handlersFrom'> {
  return {
    ...(a.tasks_from ? { tasksFrom: a.tasks_from } : {}),
    ...(a.vars_from ? { varsFrom: a.vars_from } : {}),
    ...(a.defaults_from ? { defaultsFrom: a.defaults_from } : {}),
    ...(a.handlers_from ? { handlersFrom: a.handlers_from } : {}),
  };
}

function refuseTemplatedName(name: string, what: string, position: SourcePosition): void {
  if (TEMPLATE_IN.test(name)) {
    throw new FleetmendError('E_PLAYBOOK', `${what}: a templated file name (${JSON.stringify(name)}) is not supported: fleetmend loads every file before it contacts a host`, { position });
  }
}

/** A task file: relative to the including file, then (in a role) the role's tasks/ and directory, then the playbook's. */
function loadIncludedTasks(pl: PlayLoad, name: string, kind: string, inh: Inherited, fileDir: string, position: SourcePosition): PlayTask[] {
  refuseTemplatedName(name, kind, position);
  const roleDirs = inh.role ? [join(inh.role.path, 'tasks'), inh.role.path] : [];
  const file = findIncluded(name, [fileDir, ...roleDirs, pl.playbookDir], position, kind);
  return loadTaskFile(pl, file, inh, position);
}

export function loadTaskFile(pl: PlayLoad, file: string, inh: Inherited, position: SourcePosition): PlayTask[] {
  if (pl.fileStack.includes(file)) {
    throw new FleetmendError('E_PLAYBOOK', `include loop: ${[...pl.fileStack, file].join(' -> ')}`, { position });
  }
  const src = readYamlSync(file, position);
  pl.fileStack.push(file);
  try {
    return loadTaskList(pl, src, src.value, [], inh, dirname(file));
  } finally {
    pl.fileStack.pop();
  }
}

/** A role's defaults/ or vars/ file: a mapping of variables, read as PyYAML reads data (YAML 1.1). */
function readVarsFile(file: string | undefined, position: SourcePosition): Vars {
  if (!file) return {};
  const src = readYamlSync(file, position, { pyyaml: true });
  if (src.value === null || src.value === undefined) return {};
  const r = varsSchema.safeParse(src.value);
  if (!r.success) throw schemaError(src, r.error);
  return r.data;
}

export interface RoleCall {
  name: string;
  tasksFrom?: string;
  varsFrom?: string;
  defaultsFrom?: string;
  handlersFrom?: string;
  position: SourcePosition;
}

const metaSchema = z
  .object({
    dependencies: z.array(z.unknown()).nullable().optional(),
    allow_duplicates: z.boolean().optional(),
  })
  .passthrough();

function readMeta(dir: string, position: SourcePosition): { src?: YamlSource; deps: unknown[]; allowDuplicates: boolean } {
  const file = rolePart(dir, 'meta');
  if (!file) return { deps: [], allowDuplicates: false };
  const src = readYamlSync(file, position, { pyyaml: true });
  const r = metaSchema.safeParse(src.value ?? {});
  if (!r.success) throw schemaError(src, r.error);
  return { src, deps: r.data.dependencies ?? [], allowDuplicates: r.data.allow_duplicates ?? false };
}

function partOf(dir: string, part: 'tasks' | 'handlers' | 'defaults' | 'vars', name: string | undefined, position: SourcePosition): string | undefined {
  const file = rolePart(dir, part, name ?? 'main');
  if (name !== undefined && !file) {
    throw new FleetmendError('E_PLAYBOOK', `role ${basename(dir)}: ${part}/${name}.yml was not found (in ${join(dir, part)})`, { position });
  }
  return file;
}

/**
 * A role: its dependencies first (each once), then its tasks, with the role's defaults below the
 * inventory and its vars above the play's; its handlers join the play's. `dedupe`: a role of
 * `roles:` or a dependency runs once per set of params, as Ansible does (`allow_duplicates` aside).
 */
export function loadRole(pl: PlayLoad, call: RoleCall, parent: Inherited, dedupe: boolean): PlayTask[] {
  const nested = parent.role ? [dirname(parent.role.path)] : [];
  const dir = findRole(call.name, [...pl.rolesSearch.slice(0, -1), ...nested, ...pl.rolesSearch.slice(-1)], call.position);
  const meta = readMeta(dir, call.position);
  const key = `${dir}\u0000${call.tasksFrom ?? ''}\u0000${JSON.stringify(parent.vars.params)}`;
  if (dedupe && !meta.allowDuplicates) {
    if (pl.rolesRun.has(key)) return [];
    pl.rolesRun.add(key);
  }
  const deps = meta.src ? loadRoleEntries(pl, meta.src, meta.deps, ['dependencies'], { ...parent, vars: { ...parent.vars, params: {} } }) : [];
  const role: RoleRef = { name: basename(dir), path: dir };
  const inh: Inherited = {
    ...parent,
    vars: {
      defaults: { ...parent.vars.defaults, ...readVarsFile(partOf(dir, 'defaults', call.defaultsFrom, call.position), call.position) },
      vars: { ...parent.vars.vars, ...readVarsFile(partOf(dir, 'vars', call.varsFrom, call.position), call.position) },
      params: parent.vars.params,
    },
    role,
    searchPaths: [dir, ...parent.searchPaths],
  };
  const tasksFile = partOf(dir, 'tasks', call.tasksFrom, call.position);
  const tasks = tasksFile ? loadTaskFile(pl, tasksFile, inh, call.position) : [];
  loadRoleHandlers(pl, dir, call, inh);
  return [...deps, ...tasks];
}

/** A role's handlers, once per role: notified by name, by `listen` topic, or as `role : name`. */
function loadRoleHandlers(pl: PlayLoad, dir: string, call: RoleCall, inh: Inherited): void {
  const hkey = `${dir}\u0000${call.handlersFrom ?? ''}`;
  if (pl.handlersLoaded.has(hkey)) return;
  pl.handlersLoaded.add(hkey);
  const file = partOf(dir, 'handlers', call.handlersFrom, call.position);
  if (!file) return;
  const handlers = flatTasks(loadTaskFile(pl, file, { ...inh, when: [], tags: [] }, call.position));
  const role = basename(dir);
  pl.handlers.push(...handlers.map((h) => ({ ...h, listen: [...(h.listen ?? []), `${role} : ${h.name}`] })));
}

const roleEntry = z.union([
  z.string().min(1),
  z
    .object({ ...inheritedKeywords, role: z.string().min(1).optional() })
    .catchall(z.unknown()),
]);

/**
 * `roles:` of a play or `dependencies:` of a role's meta: a name, or a mapping with `role` (or
 * `name`), keywords (when, tags, become, vars...) and, as in old Ansible, params as extra keys.
 */
export function loadRoleEntries(pl: PlayLoad, src: YamlSource, list: unknown, path: Path, parent: Inherited): PlayTask[] {
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw new FleetmendError('E_SCHEMA', 'roles must be a list', { position: positionOf(src, path) });
  return list.flatMap((raw, i) => loadRoleEntry(pl, src, raw, [...path, i], parent));
}

function loadRoleEntry(pl: PlayLoad, src: YamlSource, raw: unknown, path: Path, parent: Inherited): PlayTask[] {
  const position = positionOf(src, path);
  const r = roleEntry.safeParse(raw);
  if (!r.success) throw schemaError(src, prefixed(r.error, path));
  if (typeof r.data === 'string') return loadRole(pl, { name: r.data, position }, parent, true);
  refuseUnsupportedTaskKeys(src, r.data, path);
  const { role, name, vars: _v, when, tags, become, become_method, check_mode, diff, ignore_errors, any_errors_fatal, ...extra } = r.data;
  const roleName = role ?? name;
  if (!roleName) throw new FleetmendError('E_PLAYBOOK', 'a role entry needs `role:` (or `name:`)', { position });
  const keywords = { when, tags, become, become_method, check_mode, diff, ignore_errors, any_errors_fatal };
  validateKeywordTemplates(pl.templater, src, path, keywords);
  const inh = inheritFrom(src, path, parent, Object.fromEntries(Object.entries(keywords).filter(([, v]) => v !== undefined)));
  const vars = r.data.vars !== undefined ? (yaml11ValueAt(src, [...path, 'vars']) as Vars) : {};
  const bad = Object.keys(extra).find((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k));
  if (bad !== undefined) throw new FleetmendError('E_PLAYBOOK', `role ${roleName}: '${bad}' is neither a keyword nor a variable name`, { position: keyPositionOf(src, [...path, bad]) });
  const params = { ...parent.vars.params, ...extra, ...vars };
  return loadRole(pl, { name: roleName, position: keyPositionOf(src, [...path, role ? 'role' : 'name']) }, { ...inh, vars: { ...inh.vars, params } }, true);
}
