/**
 * Loads and validates a playbook BEFORE any host is contacted: YAML with positions, a zod
 * schema for plays and tasks, each task's module arguments against that module's own schema,
 * conditions compiled, templates parsed (and every value position in a shell argument proven
 * safe), `notify` targets resolved (handler names, `listen` topics, roles' handlers). Ansible
 * playbooks load unchanged for what fleetmend supports (ansible.ts: FQCN module names, YAML 1.1
 * booleans, `loop`, `gather_facts`; load-tree.ts: roles, blocks, imports/includes; every file
 * they name is read here, so a missing one fails the load, not a host); every other
 * Ansible construct is one error. Every error names file:line:column (E_YAML, E_SCHEMA,
 * E_PLAYBOOK, E_EXPR, E_TEMPLATE, E_SHELL_QUOTE).
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { FleetmendError, type SourcePosition } from '../errors.js';
import { MEMORY_SHARE } from '../diagnosis/concepts.js';
import { resolveModule } from '../modules/index.js';
import type { Module } from '../modules/types.js';
import { keyPositionOf, parseYaml, positionOf, readYamlFile, schemaError, type YamlSource } from '../util/yaml.js';
import { ansibleBool, refuseBecomeMethod, refuseUnsupportedPlayKeys, withYaml11Booleans } from './ansible.js';
import { parseBudgetLimit } from '../executor/budget.js';
import { Templater } from './template.js';
import { flatTasks, type Play, type Playbook, type Task } from './types.js';
import { inheritFrom, rootInherited, stringList, templatedBool, varsSchema, type Inherited } from './load-task.js';
import { loadRoleEntries, loadTaskList, type PlayLoad } from './load-tree.js';
import { findIncluded, readYamlSync, roleSearchPath, type LoaderEnv } from './roles.js';
import type { Vars } from './vars.js';

export { validateArgs } from './load-task.js';

/** What the loader reads besides the playbook: the environment (ANSIBLE_ROLES_PATH). */
export interface LoadOptions {
  env?: LoaderEnv;
}

const serialItem = z.union([z.number().int().min(1), z.string().regex(/^\s*\d+(\.\d+)?\s*%\s*$/, 'serial must be a number or "N%"')]);

const playSchema = z
  .object({
    name: z.string().min(1).optional(),
    // Ansible also takes a list of patterns
    hosts: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).transform((l) => l.join(':'))]),
    vars: varsSchema.default({}),
    /** Files of variables, relative to the playbook; above play vars (Ansible's precedence). */
    vars_files: z.array(z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])).default([]),
    become: ansibleBool.optional(),
    become_method: z.string().optional(),
    /** Inherited by every task of the play (roles' included), as Ansible's play keywords are. */
    tags: stringList.optional(),
    check_mode: templatedBool.optional(),
    diff: templatedBool.optional(),
    /** false: nothing gathered (fleetmend's default, README "gather_facts"); true: `setup` first. */
    gather_facts: ansibleBool.default(false),
    serial: z.union([z.enum(['canary', 'ramp']), serialItem, z.array(serialItem).min(1)]).optional(),
    max_fail_percentage: z.number().min(0).max(100).optional(),
    /** The run-wide failure budget while this play runs (src/executor/budget.ts): 3 or "5%". */
    max_failures: z.union([z.number().int().min(0), z.string().regex(/^\s*\d+(\.\d+)?%\s*$/, 'max_failures must be a host count or "P%"')]).optional(),
    max_unavailable: z.union([z.number().int().min(0), z.string().regex(/^\s*\d+(\.\d+)?%\s*$/, 'max_unavailable must be a host count or "P%"')]).optional(),
    any_errors_fatal: ansibleBool.default(false),
    /** Seconds a changed host is watched after its play (src/playbook/watch.ts); 0: none. */
    watch: z.number().min(0).max(3600).default(0),
    memory_share: z.number().gt(0).max(1).default(MEMORY_SHARE),
    allow_parallel_reboot: ansibleBool.default(false),
    roles: z.array(z.unknown()).default([]),
    tasks: z.array(z.unknown()).nullable().default([]),
    handlers: z.array(z.unknown()).nullable().default([]),
  })
  .strict();

const playbookSchema = z.array(playSchema).min(1, 'a playbook is a list of plays');

/** `gather_facts: true`: `setup` (the audit facts and Ansible's, in the probe's one round trip). */
function gatherTask(position: SourcePosition, dir: string): Task {
  const mod = resolveModule('setup') as Module<unknown, unknown>;
  const root = rootInherited(dir);
  return { name: 'Gathering Facts', moduleName: mod.name, module: mod, args: {}, when: [], notify: [], ignoreErrors: false, tags: ['always'], vars: root.vars, searchPaths: root.searchPaths, position };
}

/**
 * `vars_files`: each a YAML mapping, relative to the playbook; a list entry is "the first of these
 * that exists", as in Ansible. A templated name would need a host: refused.
 */
function varsFromFiles(src: YamlSource, files: readonly (string | string[])[], index: number, dir: string): Vars {
  const out: Vars = {};
  files.forEach((entry, i) => {
    const position = positionOf(src, [index, 'vars_files', i]);
    const names = typeof entry === 'string' ? [entry] : entry;
    const templated = names.find((n) => /\{[{%]/.test(n));
    if (templated) throw new FleetmendError('E_PLAYBOOK', `vars_files: a templated file name (${JSON.stringify(templated)}) is not supported: fleetmend reads vars files before it contacts a host`, { position });
    const file = firstFound(names, dir, position);
    const vf = readYamlSync(file, position, { pyyaml: true });
    const r = varsSchema.safeParse(vf.value ?? {});
    if (!r.success) throw schemaError(vf, r.error);
    Object.assign(out, r.data);
  });
  return out;
}

function firstFound(names: readonly string[], dir: string, position: SourcePosition): string {
  for (const n of names.slice(0, -1)) {
    try {
      return findIncluded(n, [dir], position, 'vars_files');
    } catch {
      // the next candidate
    }
  }
  return findIncluded(names[names.length - 1]!, [dir], position, 'vars_files');
}

/** Every notify names a handler, a handler's `listen` topic, or `role : handler`. */
function checkNotify(pl: PlayLoad, tasks: readonly Task[], handlers: readonly Task[]): void {
  const topics = new Set(handlers.flatMap((h) => [h.name, ...(h.listen ?? [])]));
  for (const t of tasks) {
    const missing = t.notify.find((n) => !topics.has(n));
    if (missing !== undefined) {
      throw new FleetmendError('E_PLAYBOOK', `notify: no handler named '${missing}' in this play (nor a handler listening to it)`, { position: pl.notifyAt.get(t) ?? t.position });
    }
  }
}

/** What every task of the play inherits from the play's own keywords. */
function playInherited(src: YamlSource, raw: z.infer<typeof playSchema>, index: number, dir: string, templater: Templater): Inherited {
  const keywords = { ...(raw.tags !== undefined ? { tags: raw.tags } : {}), ...(raw.check_mode !== undefined ? { check_mode: raw.check_mode } : {}), ...(raw.diff !== undefined ? { diff: raw.diff } : {}) };
  for (const k of ['check_mode', 'diff'] as const) if (typeof raw[k] === 'string') templater.validate(raw[k], keyPositionOf(src, [index, k]));
  return inheritFrom(src, [index], rootInherited(dir), keywords);
}

function loadPlay(src: YamlSource, raw: z.infer<typeof playSchema>, index: number, templater: Templater, env: LoaderEnv): Play {
  refuseBecomeMethod(src, raw, [index]);
  const dir = resolve(dirname(src.file));
  const pl: PlayLoad = { templater, playbookDir: dir, rolesSearch: roleSearchPath(dir, env), handlers: [], rolesRun: new Set(), handlersLoaded: new Set(), fileStack: [], notifyAt: new Map() };
  const root = playInherited(src, raw, index, dir, templater);
  const fromRoles = loadRoleEntries(pl, src, raw.roles, [index, 'roles'], root);
  const own = loadTaskList(pl, src, raw.tasks ?? [], [index, 'tasks'], root, dir);
  const loaded = [...fromRoles, ...own];
  (raw.handlers ?? []).forEach((h, i) => {
    if (!(h && typeof h === 'object' && 'name' in h)) {
      throw new FleetmendError('E_PLAYBOOK', 'a handler needs a name (tasks notify it by name)', { position: positionOf(src, [index, 'handlers', i]) });
    }
  });
  const handlers = [...flatTasks(loadTaskList(pl, src, raw.handlers ?? [], [index, 'handlers'], root, dir)), ...pl.handlers];
  const tasks = raw.gather_facts ? [gatherTask(keyPositionOf(src, [index, 'gather_facts']), dir), ...loaded] : loaded;
  checkNotify(pl, flatTasks(loaded), handlers);
  return {
    name: raw.name ?? raw.hosts,
    hosts: raw.hosts,
    vars: { ...raw.vars, ...varsFromFiles(src, raw.vars_files, index, dir) },
    become: raw.become,
    ...(raw.serial !== undefined ? { serial: raw.serial } : {}),
    ...(raw.max_fail_percentage !== undefined ? { maxFailPercentage: raw.max_fail_percentage } : {}),
    ...(raw.max_failures !== undefined ? { maxFailures: parseBudgetLimit(raw.max_failures, 'max_failures') } : {}),
    ...(raw.max_unavailable !== undefined ? { maxUnavailable: parseBudgetLimit(raw.max_unavailable, 'max_unavailable') } : {}),
    anyErrorsFatal: raw.any_errors_fatal,
    watch: raw.watch,
    memoryShare: raw.memory_share,
    allowParallelReboot: raw.allow_parallel_reboot,
    tasks,
    handlers,
    dir,
    position: positionOf(src, [index]),
  };
}

export function parsePlaybook(file: string, text: string, opts: LoadOptions = {}): Playbook {
  return playbookFromYaml(parseYaml(file, text), opts);
}

/** `env` defaults to the process's: the CLI's entry; tests and workers pass their own. */
export function playbookFromYaml(source: YamlSource, opts: LoadOptions = {}): Playbook {
  const src = withYaml11Booleans(source);
  if (Array.isArray(src.value)) src.value.forEach((p, i) => refuseUnsupportedPlayKeys(src, p, [i]));
  const parsed = playbookSchema.safeParse(src.value);
  if (!parsed.success) throw schemaError(src, parsed.error);
  const templater = new Templater();
  return { file: src.file, plays: parsed.data.map((p, i) => loadPlay(src, p, i, templater, opts.env ?? process.env)) };
}

/** Reads, parses and validates a playbook file; nothing is contacted. */
export async function loadPlaybook(file: string, opts: LoadOptions = {}): Promise<Playbook> {
  return playbookFromYaml(await readYamlFile(file), opts);
}
