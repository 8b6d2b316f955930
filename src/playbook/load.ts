/**
 * Loads and validates a playbook BEFORE any host is contacted: YAML with positions, a zod
 * schema for plays and tasks, each task's module arguments against that module's own schema,
 * conditions compiled, templates parsed (and every value position in a shell argument proven
 * safe), `notify` targets resolved. Ansible playbooks load unchanged for what fleetmend supports
 * (ansible.ts: FQCN module names, YAML 1.1 booleans, `loop`, `gather_facts`); every other
 * Ansible construct is one error. Every error names file:line:column (E_YAML, E_SCHEMA,
 * E_PLAYBOOK, E_EXPR, E_TEMPLATE, E_SHELL_QUOTE).
 */
import { z } from 'zod';
import { FleetmendError, type SourcePosition } from '../errors.js';
import { MEMORY_SHARE } from '../diagnosis/concepts.js';
import { ansibleModuleNames, moduleNames, resolveModule } from '../modules/index.js';
import type { Module } from '../modules/types.js';
import { keyPositionOf, parseYaml, positionOf, readYamlFile, schemaError, type YamlSource } from '../util/yaml.js';
import { ansibleBool, keyValueArgs, refuseUnsupportedPlayKeys, refuseUnsupportedTaskKeys, withYaml11Booleans } from './ansible.js';
import { compileCondition, type Condition } from '../expr/conditions.js';
import { parseBudgetLimit } from '../executor/budget.js';
import { argDialects, Templater } from './template.js';
import type { Play, Playbook, Task, TaskLoop } from './types.js';
import { VAR_NAME } from './vars.js';

const serialItem = z.union([z.number().int().min(1), z.string().regex(/^\s*\d+(\.\d+)?\s*%\s*$/, 'serial must be a number or "N%"')]);

const playSchema = z
  .object({
    name: z.string().min(1).optional(),
    // Ansible also takes a list of patterns
    hosts: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).transform((l) => l.join(':'))]),
    vars: z.record(z.string().regex(VAR_NAME, 'variable names are identifiers'), z.unknown()).default({}),
    become: ansibleBool.optional(),
    /** false: nothing gathered (fleetmend's default); true: the audit facts (an audit_status task first). */
    gather_facts: ansibleBool.default(false),
    serial: z.union([z.enum(['canary', 'ramp']), serialItem, z.array(serialItem).min(1)]).optional(),
    max_fail_percentage: z.number().min(0).max(100).optional(),
    /** The run-wide failure budget while this play runs (src/executor/budget.ts): 3 or "5%". */
    max_failures: z.union([z.number().int().min(0), z.string().regex(/^\s*\d+(\.\d+)?%\s*$/, 'max_failures must be a host count or "P%"')]).optional(),
    any_errors_fatal: ansibleBool.default(false),
    /** Seconds a changed host is watched after its play (src/playbook/watch.ts); 0: none. */
    watch: z.number().min(0).max(3600).default(0),
    memory_share: z.number().gt(0).max(1).default(MEMORY_SHARE),
    allow_parallel_reboot: ansibleBool.default(false),
    tasks: z.array(z.unknown()).default([]),
    handlers: z.array(z.unknown()).default([]),
  })
  .strict();

const playbookSchema = z.array(playSchema).min(1, 'a playbook is a list of plays');

const condition = z.union([z.string().min(1), z.boolean(), z.array(z.string().min(1)).min(1)]);
const stringList = z.union([z.string().min(1), z.array(z.string().min(1))]);

const taskMeta = z
  .object({
    name: z.string().min(1).optional(),
    when: condition.optional(),
    register: z.string().regex(VAR_NAME, 'register names are identifiers').optional(),
    notify: stringList.optional(),
    changed_when: condition.optional(),
    failed_when: condition.optional(),
    ignore_errors: ansibleBool.default(false),
    tags: stringList.optional(),
    become: ansibleBool.optional(),
    loop: z.union([z.array(z.unknown()), z.string().regex(/^\s*\{\{[\s\S]*\}\}\s*$/, 'loop takes a list or a "{{ list }}" template')]).optional(),
    loop_control: z
      .object({ loop_var: z.string().regex(VAR_NAME, 'loop_var is an identifier').optional(), label: z.string().optional() })
      .strict()
      .optional(),
  })
  .strict();
const META_KEYS = new Set(Object.keys(taskMeta.shape));

type Path = (string | number)[];

function prefixed(err: z.ZodError, prefix: Path): z.ZodError {
  return new z.ZodError(err.issues.map((i) => ({ ...i, path: [...prefix, ...i.path] })));
}

function containsTemplate(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('{{');
  if (Array.isArray(v)) return v.some(containsTemplate);
  if (v && typeof v === 'object') return Object.values(v).some(containsTemplate);
  return false;
}

function forEachString(v: unknown, fn: (s: string) => void): void {
  if (typeof v === 'string') fn(v);
  else if (Array.isArray(v)) v.forEach((x) => forEachString(x, fn));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => forEachString(x, fn));
}

/**
 * Where the first character of a string's text is: after the quote of a quoted scalar, on the
 * next line for a block scalar (column within the line), so template errors point at the text.
 */
function textPositionOf(src: YamlSource, path: Path): SourcePosition {
  const p = positionOf(src, path);
  const node = src.doc.getIn(path, true) as { type?: string } | undefined;
  const type = node && typeof node === 'object' ? node.type : undefined;
  if ((type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE') && p.column !== undefined) return { ...p, column: p.column + 1 };
  if ((type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') && p.line !== undefined) return { file: p.file, line: p.line + 1 };
  return p;
}

function conditions(value: unknown, position: SourcePosition, keyword: string): Condition[] {
  if (value === undefined) return [];
  if (typeof value === 'boolean') return [{ source: String(value), evaluate: () => value }];
  const list = typeof value === 'string' ? [value] : (value as string[]);
  return list.map((s) => compileCondition(s, position, keyword));
}

function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}

/** Module arguments as a mapping: `null` → {}, a free-form string → {cmd: ...}. */
function argsOf(src: YamlSource, mod: Module<unknown, unknown>, raw: unknown, path: Path): Record<string, unknown> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw === 'string' && mod.freeForm) return { [mod.freeForm]: raw };
  if (typeof raw === 'string') return keyValueArgs(src, raw, mod.name, path);
  if (typeof raw === 'object' && !Array.isArray(raw)) return raw as Record<string, unknown>;
  throw new FleetmendError('E_SCHEMA', `arguments of ${mod.name} must be a mapping`, { position: positionOf(src, path) });
}

/**
 * Validates arguments with the module's schema. Values that are templates can only be checked
 * once rendered (per host, at run time); unknown arguments and missing required ones are errors now.
 */
export function validateArgs(src: YamlSource, mod: Module<unknown, unknown>, args: Record<string, unknown>, path: Path): void {
  const r = mod.schema.safeParse(args);
  if (r.success) {
    mod.validate?.(r.data, positionOf(src, path));
    return;
  }
  const issues = r.error.issues.filter((i) => {
    const top = i.path[0];
    return !(typeof top === 'string' && containsTemplate(args[top]));
  });
  if (issues.length) {
    const err = prefixed(new z.ZodError(issues), path);
    const e = schemaError(src, err, 'E_SCHEMA');
    throw new FleetmendError('E_SCHEMA', `${mod.name}: ${e.message}`, e.position ? { position: e.position } : {});
  }
}

function loadTask(src: YamlSource, raw: unknown, path: Path, templater: Templater): Task {
  const position = positionOf(src, path);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new FleetmendError('E_SCHEMA', 'a task must be a mapping', { position });
  const entries = Object.entries(raw as Record<string, unknown>);
  refuseUnsupportedTaskKeys(src, raw as Record<string, unknown>, path);
  const moduleKeys = entries.filter(([k]) => !META_KEYS.has(k)).map(([k]) => k);
  const unknown = moduleKeys.find((k) => !resolveModule(k));
  if (unknown !== undefined) {
    const hint = unknown.includes('.') ? `supported: ${ansibleModuleNames().join(', ')}` : `modules: ${moduleNames().join(', ')}`;
    throw new FleetmendError('E_PLAYBOOK', `unknown module or task keyword '${unknown}' (${hint})`, {
      position: keyPositionOf(src, [...path, unknown]),
    });
  }
  if (moduleKeys.length !== 1) {
    const msg = moduleKeys.length ? `a task takes exactly one module, found ${moduleKeys.join(', ')}` : `task has no module (one of: ${moduleNames().join(', ')})`;
    throw new FleetmendError('E_PLAYBOOK', msg, { position: moduleKeys[1] ? keyPositionOf(src, [...path, moduleKeys[1]]) : position });
  }
  const moduleKey = moduleKeys[0] as string;
  const mod = resolveModule(moduleKey) as Module<unknown, unknown>;
  const moduleName = mod.name;
  const metaRaw = Object.fromEntries(entries.filter(([k]) => META_KEYS.has(k)));
  const meta = taskMeta.safeParse(metaRaw);
  if (!meta.success) throw schemaError(src, prefixed(meta.error, path));
  const argPath = [...path, moduleKey];
  const args = argsOf(src, mod, (raw as Record<string, unknown>)[moduleKey], argPath);
  validateArgs(src, mod, args, argPath);
  const dialects = argDialects(mod);
  for (const [k, v] of Object.entries(args)) {
    if (mod.noTemplate?.includes(k)) continue;
    const at = typeof (raw as Record<string, unknown>)[moduleKey] === 'string' ? argPath : [...argPath, k];
    forEachString(v, (s) => templater.validate(s, textPositionOf(src, at), dialects[k] ?? 'none'));
  }
  const m = meta.data;
  const at = (key: string) => keyPositionOf(src, [...path, key]);
  return {
    name: m.name ?? moduleName,
    moduleName,
    module: mod,
    args,
    when: conditions(m.when, at('when'), 'when'),
    ...(m.changed_when !== undefined ? { changedWhen: conditions(m.changed_when, at('changed_when'), 'changed_when') } : {}),
    ...(m.failed_when !== undefined ? { failedWhen: conditions(m.failed_when, at('failed_when'), 'failed_when') } : {}),
    ...(m.register !== undefined ? { register: m.register } : {}),
    notify: asList(m.notify),
    ignoreErrors: m.ignore_errors,
    tags: asList(m.tags),
    ...(m.become !== undefined ? { become: m.become } : {}),
    ...(m.loop !== undefined ? { loop: loopOf(src, m.loop, m.loop_control?.loop_var ?? 'item', at('loop'), templater) } : {}),
    position,
  };
}

function loopOf(src: YamlSource, items: unknown[] | string, loopVar: string, position: SourcePosition, templater: Templater): TaskLoop {
  forEachString(items, (s) => templater.validate(s, position));
  void src;
  return { items, loopVar };
}

/** `gather_facts: true`: `setup` (the audit facts and Ansible's, in the probe's one round trip). */
function gatherTask(position: SourcePosition): Task {
  const mod = resolveModule('setup') as Module<unknown, unknown>;
  return { name: 'Gathering Facts', moduleName: mod.name, module: mod, args: {}, when: [], notify: [], ignoreErrors: false, tags: ['always'], position };
}

function loadPlay(src: YamlSource, raw: z.infer<typeof playSchema>, index: number, templater: Templater): Play {
  const loaded = raw.tasks.map((t, i) => loadTask(src, t, [index, 'tasks', i], templater));
  const tasks = raw.gather_facts ? [gatherTask(keyPositionOf(src, [index, 'gather_facts'])), ...loaded] : loaded;
  const handlers = raw.handlers.map((t, i) => loadTask(src, t, [index, 'handlers', i], templater));
  const handlerNames = new Set(handlers.map((h) => h.name));
  raw.handlers.forEach((h, i) => {
    if (!(h && typeof h === 'object' && 'name' in h)) {
      throw new FleetmendError('E_PLAYBOOK', 'a handler needs a name (tasks notify it by name)', { position: positionOf(src, [index, 'handlers', i]) });
    }
  });
  loaded.forEach((t, i) => {
    const missing = t.notify.find((n) => !handlerNames.has(n));
    if (missing !== undefined) {
      throw new FleetmendError('E_PLAYBOOK', `notify: no handler named '${missing}' in this play`, {
        position: positionOf(src, [index, 'tasks', i, 'notify']),
      });
    }
  });
  return {
    name: raw.name ?? raw.hosts,
    hosts: raw.hosts,
    vars: raw.vars,
    become: raw.become,
    ...(raw.serial !== undefined ? { serial: raw.serial } : {}),
    ...(raw.max_fail_percentage !== undefined ? { maxFailPercentage: raw.max_fail_percentage } : {}),
    ...(raw.max_failures !== undefined ? { maxFailures: parseBudgetLimit(raw.max_failures, 'max_failures') } : {}),
    anyErrorsFatal: raw.any_errors_fatal,
    watch: raw.watch,
    memoryShare: raw.memory_share,
    allowParallelReboot: raw.allow_parallel_reboot,
    tasks,
    handlers,
    position: positionOf(src, [index]),
  };
}

export function parsePlaybook(file: string, text: string): Playbook {
  return playbookFromYaml(parseYaml(file, text));
}

export function playbookFromYaml(source: YamlSource): Playbook {
  const src = withYaml11Booleans(source);
  if (Array.isArray(src.value)) src.value.forEach((p, i) => refuseUnsupportedPlayKeys(src, p, [i]));
  const parsed = playbookSchema.safeParse(src.value);
  if (!parsed.success) throw schemaError(src, parsed.error);
  const templater = new Templater();
  return { file: src.file, plays: parsed.data.map((p, i) => loadPlay(src, p, i, templater)) };
}

/** Reads, parses and validates a playbook file; nothing is contacted. */
export async function loadPlaybook(file: string): Promise<Playbook> {
  return playbookFromYaml(await readYamlFile(file));
}
