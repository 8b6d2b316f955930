/**
 * Loads and validates a playbook BEFORE any host is contacted: YAML with positions, a zod
 * schema for plays and tasks, each task's module arguments against that module's own schema,
 * conditions compiled, templates parsed, `notify` targets resolved. Every error names
 * file:line:column (E_YAML, E_SCHEMA, E_PLAYBOOK, E_EXPR, E_TEMPLATE).
 */
import { z } from 'zod';
import { FleetmendError, type SourcePosition } from '../errors.js';
import { MODULES, moduleNames } from '../modules/index.js';
import type { Condition, Module } from '../modules/types.js';
import { keyPositionOf, parseYaml, positionOf, readYamlFile, schemaError, type YamlSource } from '../util/yaml.js';
import { compileCondition } from './conditions.js';
import { argDialects, Templater } from './template.js';
import type { Play, Playbook, Task } from './types.js';
import { VAR_NAME } from './vars.js';

const serialItem = z.union([z.number().int().min(1), z.string().regex(/^\s*\d+(\.\d+)?\s*%\s*$/, 'serial must be a number or "N%"')]);

const playSchema = z
  .object({
    name: z.string().min(1),
    hosts: z.string().min(1),
    vars: z.record(z.string().regex(VAR_NAME, 'variable names are identifiers'), z.unknown()).default({}),
    become: z.boolean().optional(),
    serial: z.union([serialItem, z.array(serialItem).min(1)]).optional(),
    max_fail_percentage: z.number().min(0).max(100).optional(),
    any_errors_fatal: z.boolean().default(false),
    memory_share: z.number().gt(0).max(1).default(0.1),
    allow_parallel_reboot: z.boolean().default(false),
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
    ignore_errors: z.boolean().default(false),
    tags: stringList.optional(),
    become: z.boolean().optional(),
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

function conditions(value: unknown, position: SourcePosition): Condition[] {
  if (value === undefined) return [];
  if (typeof value === 'boolean') return [{ source: String(value), evaluate: () => value }];
  const list = typeof value === 'string' ? [value] : (value as string[]);
  return list.map((s) => compileCondition(s, position));
}

function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}

/** Module arguments as a mapping: `null` → {}, a free-form string → {cmd: ...}. */
function argsOf(src: YamlSource, mod: Module<unknown, unknown>, raw: unknown, path: Path): Record<string, unknown> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw === 'string' && mod.freeForm) return { [mod.freeForm]: raw };
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
  const moduleKeys = entries.filter(([k]) => !META_KEYS.has(k)).map(([k]) => k);
  const unknown = moduleKeys.find((k) => !MODULES.has(k));
  if (unknown !== undefined) {
    throw new FleetmendError('E_PLAYBOOK', `unknown module or task keyword '${unknown}' (modules: ${moduleNames().join(', ')})`, {
      position: keyPositionOf(src, [...path, unknown]),
    });
  }
  if (moduleKeys.length !== 1) {
    const msg = moduleKeys.length ? `a task takes exactly one module, found ${moduleKeys.join(', ')}` : `task has no module (one of: ${moduleNames().join(', ')})`;
    throw new FleetmendError('E_PLAYBOOK', msg, { position: moduleKeys[1] ? keyPositionOf(src, [...path, moduleKeys[1]]) : position });
  }
  const moduleName = moduleKeys[0] as string;
  const mod = MODULES.get(moduleName) as Module<unknown, unknown>;
  const metaRaw = Object.fromEntries(entries.filter(([k]) => META_KEYS.has(k)));
  const meta = taskMeta.safeParse(metaRaw);
  if (!meta.success) throw schemaError(src, prefixed(meta.error, path));
  const argPath = [...path, moduleName];
  const args = argsOf(src, mod, (raw as Record<string, unknown>)[moduleName], argPath);
  validateArgs(src, mod, args, argPath);
  const dialects = argDialects(mod);
  for (const [k, v] of Object.entries(args)) {
    if (mod.noTemplate?.includes(k)) continue;
    const at = typeof (raw as Record<string, unknown>)[moduleName] === 'string' ? argPath : [...argPath, k];
    forEachString(v, (s) => templater.validate(s, textPositionOf(src, at), dialects[k] ?? 'none'));
  }
  const m = meta.data;
  const at = (key: string) => keyPositionOf(src, [...path, key]);
  return {
    name: m.name ?? moduleName,
    moduleName,
    module: mod,
    args,
    when: conditions(m.when, at('when')),
    ...(m.changed_when !== undefined ? { changedWhen: conditions(m.changed_when, at('changed_when')) } : {}),
    ...(m.failed_when !== undefined ? { failedWhen: conditions(m.failed_when, at('failed_when')) } : {}),
    ...(m.register !== undefined ? { register: m.register } : {}),
    notify: asList(m.notify),
    ignoreErrors: m.ignore_errors,
    tags: asList(m.tags),
    ...(m.become !== undefined ? { become: m.become } : {}),
    position,
  };
}

function loadPlay(src: YamlSource, raw: z.infer<typeof playSchema>, index: number, templater: Templater): Play {
  const tasks = raw.tasks.map((t, i) => loadTask(src, t, [index, 'tasks', i], templater));
  const handlers = raw.handlers.map((t, i) => loadTask(src, t, [index, 'handlers', i], templater));
  const handlerNames = new Set(handlers.map((h) => h.name));
  raw.handlers.forEach((h, i) => {
    if (!(h && typeof h === 'object' && 'name' in h)) {
      throw new FleetmendError('E_PLAYBOOK', 'a handler needs a name (tasks notify it by name)', { position: positionOf(src, [index, 'handlers', i]) });
    }
  });
  tasks.forEach((t, i) => {
    const missing = t.notify.find((n) => !handlerNames.has(n));
    if (missing !== undefined) {
      throw new FleetmendError('E_PLAYBOOK', `notify: no handler named '${missing}' in this play`, {
        position: positionOf(src, [index, 'tasks', i, 'notify']),
      });
    }
  });
  return {
    name: raw.name,
    hosts: raw.hosts,
    vars: raw.vars,
    become: raw.become,
    ...(raw.serial !== undefined ? { serial: raw.serial } : {}),
    ...(raw.max_fail_percentage !== undefined ? { maxFailPercentage: raw.max_fail_percentage } : {}),
    anyErrorsFatal: raw.any_errors_fatal,
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

export function playbookFromYaml(src: YamlSource): Playbook {
  const parsed = playbookSchema.safeParse(src.value);
  if (!parsed.success) throw schemaError(src, parsed.error);
  const templater = new Templater();
  return { file: src.file, plays: parsed.data.map((p, i) => loadPlay(src, p, i, templater)) };
}

/** Reads, parses and validates a playbook file; nothing is contacted. */
export async function loadPlaybook(file: string): Promise<Playbook> {
  return playbookFromYaml(await readYamlFile(file));
}
