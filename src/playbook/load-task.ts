/**
 * One task of a playbook, a role or an included file: its module and arguments (validated
 * against the module's schema), its keywords, and what it inherits from the blocks, includes and
 * roles around it (src/playbook/load-tree.ts). Keyword values Ansible templates (`become`,
 * `ignore_errors`, `check_mode`, `diff`, `retries`, `delay`) may be `{{ }}` templates, rendered per
 * host at run time.
 */
import { z } from 'zod';
import { FleetmendError, type SourcePosition } from '../errors.js';
import { ansibleModuleNames, moduleNames, resolveModule } from '../modules/index.js';
import type { Module } from '../modules/types.js';
import { keyPositionOf, positionOf, schemaError, type YamlSource } from '../util/yaml.js';
import { ansibleBool, keyValueArgs, refuseBecomeMethod, refuseUnsupportedTaskKeys, WITH_LOOPS, yaml11ValueAt } from './ansible.js';
import { compileCondition, type Condition } from '../expr/conditions.js';
import { argDialects, type Templater } from './template.js';
import type { RoleRef, Task, TaskLoop, TaskVars, Templated } from './types.js';
import { VAR_NAME, type Vars } from './vars.js';

export type Path = (string | number)[];

/** What a task takes from the blocks, includes and roles around it (Ansible's keyword inheritance). */
export interface Inherited {
  when: Condition[];
  tags: string[];
  become?: Templated<boolean>;
  checkMode?: Templated<boolean>;
  diff?: Templated<boolean>;
  ignoreErrors?: Templated<boolean>;
  anyErrorsFatal?: boolean;
  vars: TaskVars;
  role?: RoleRef;
  /** The roles' directories, innermost first, then the playbook's: module file lookups. */
  searchPaths: string[];
}

export function rootInherited(playbookDir: string): Inherited {
  return { when: [], tags: [], vars: { defaults: {}, vars: {}, params: {} }, searchPaths: [playbookDir] };
}

const TEMPLATE = /^\s*\{\{[\s\S]*\}\}\s*$/;
const template = z.string().regex(TEMPLATE);
/** A boolean keyword, or a template rendered per host (Ansible templates keyword values). */
export const templatedBool = z.union([ansibleBool, template]);
const condition = z.union([z.string().min(1), z.boolean(), z.array(z.union([z.string().min(1), z.boolean()])).min(1)]);
export const stringList = z.union([z.string().min(1), z.array(z.string().min(1))]);
export const varsSchema = z.record(z.string().regex(VAR_NAME, 'variable names are identifiers'), z.unknown());

/** Keywords a task, a block and an include share; all inherited by what they contain. */
export const inheritedKeywords = {
  name: z.string().min(1).optional(),
  when: condition.optional(),
  tags: stringList.optional(),
  become: templatedBool.optional(),
  become_method: z.string().optional(),
  vars: varsSchema.optional(),
  check_mode: templatedBool.optional(),
  diff: templatedBool.optional(),
  ignore_errors: templatedBool.optional(),
  any_errors_fatal: ansibleBool.optional(),
};

const loopControl = z
  .object({
    loop_var: z.string().regex(VAR_NAME, 'loop_var is an identifier').optional(),
    index_var: z.string().regex(VAR_NAME, 'index_var is an identifier').optional(),
    label: z.string().optional(),
  })
  .strict();

const listOrTemplate = z.union([z.array(z.unknown()), template]);
export const loopKeywords = {
  loop: z.union([z.array(z.unknown()), z.string().regex(TEMPLATE, 'loop takes a list or a "{{ list }}" template')]).optional(),
  with_items: z.union([listOrTemplate, z.string()]).optional(),
  with_list: listOrTemplate.optional(),
  with_dict: z.union([z.record(z.string(), z.unknown()), template]).optional(),
  loop_control: loopControl.optional(),
};

const count = z.union([z.number().int().min(0), template]);

const taskMeta = z
  .object({
    ...inheritedKeywords,
    ...loopKeywords,
    register: z.string().regex(VAR_NAME, 'register names are identifiers').optional(),
    notify: stringList.optional(),
    listen: stringList.optional(),
    changed_when: condition.optional(),
    failed_when: condition.optional(),
    until: condition.optional(),
    retries: count.optional(),
    delay: count.optional(),
  })
  .strict();
const META_KEYS = new Set(Object.keys(taskMeta.shape));

export function prefixed(err: z.ZodError, prefix: Path): z.ZodError {
  return new z.ZodError(err.issues.map((i) => ({ ...i, path: [...prefix, ...i.path] })));
}

function containsTemplate(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('{{');
  if (Array.isArray(v)) return v.some(containsTemplate);
  if (v && typeof v === 'object') return Object.values(v).some(containsTemplate);
  return false;
}

export function forEachString(v: unknown, fn: (s: string) => void): void {
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

export function conditions(value: unknown, position: SourcePosition, keyword: string): Condition[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((s) => (typeof s === 'boolean' ? { source: String(s), evaluate: () => s } : compileCondition(s as string, position, keyword)));
}

export function asList(v: string | string[] | undefined): string[] {
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

const pickAnyErrorsFatal = (v: boolean | undefined) => (v !== undefined ? { anyErrorsFatal: v } : {});

type InheritedMeta = { [K in keyof typeof inheritedKeywords]?: z.infer<(typeof inheritedKeywords)[K]> };

/** What a block, include or task adds to what it inherits: conditions and tags append, the rest overrides. */
export function inheritFrom(src: YamlSource, path: Path, parent: Inherited, m: InheritedMeta): Inherited {
  refuseBecomeMethod(src, m, path);
  const at = (key: string) => keyPositionOf(src, [...path, key]);
  const pick = <K extends 'become' | 'checkMode' | 'diff' | 'ignoreErrors'>(k: K, v: Inherited[K] | undefined) => (v !== undefined ? { [k]: v } : parent[k] !== undefined ? { [k]: parent[k] } : {});
  // YAML 1.1 booleans inside vars are data, read as PyYAML reads them
  const ownVars = m.vars !== undefined ? (yaml11ValueAt(src, [...path, 'vars']) as Vars) : {};
  return {
    when: [...parent.when, ...conditions(m.when, at('when'), 'when')],
    tags: [...new Set([...parent.tags, ...asList(m.tags)])],
    ...pick('become', m.become),
    ...pick('checkMode', m.check_mode),
    ...pick('diff', m.diff),
    ...pick('ignoreErrors', m.ignore_errors),
    ...pickAnyErrorsFatal(m.any_errors_fatal ?? parent.anyErrorsFatal),
    vars: { ...parent.vars, vars: { ...parent.vars.vars, ...ownVars } },
    ...(parent.role ? { role: parent.role } : {}),
    searchPaths: parent.searchPaths,
  };
}

/** The loop of a task or include: `loop`, or a `with_*` lookup loop, with its loop_control. */
export function loopOf(src: YamlSource, path: Path, m: z.infer<z.ZodObject<typeof loopKeywords>>, templater: Templater): TaskLoop | undefined {
  const kinds = (['loop', 'with_items', 'with_list', 'with_dict'] as const).filter((k) => m[k] !== undefined);
  if (kinds.length === 0) return undefined;
  if (kinds.length > 1) throw new FleetmendError('E_PLAYBOOK', `a task takes one loop, found ${kinds.join(', ')}`, { position: keyPositionOf(src, [...path, kinds[1]!]) });
  const kind = kinds[0]!;
  let items = m[kind] as TaskLoop['items'];
  // a bare string in with_items is one item, as Ansible's lookup reads it (not a template)
  if (kind === 'with_items' && typeof items === 'string' && !TEMPLATE.test(items)) items = [items];
  const position = keyPositionOf(src, [...path, kind]);
  forEachString(items, (s) => templater.validate(s, position));
  const lc = m.loop_control;
  if (lc?.label !== undefined) templater.validate(lc.label, keyPositionOf(src, [...path, 'loop_control']));
  return {
    items,
    kind: WITH_LOOPS.has(kind) ? kind : 'loop',
    loopVar: lc?.loop_var ?? 'item',
    ...(lc?.index_var !== undefined ? { indexVar: lc.index_var } : {}),
    ...(lc?.label !== undefined ? { label: lc.label } : {}),
  };
}

/** The module key of a task mapping: exactly one key that is not a keyword. */
function moduleKeyOf(src: YamlSource, raw: Record<string, unknown>, path: Path): string {
  const moduleKeys = Object.keys(raw).filter((k) => !META_KEYS.has(k));
  const unknown = moduleKeys.find((k) => !resolveModule(k));
  if (unknown !== undefined) {
    const hint = unknown.includes('.') ? `supported: ${ansibleModuleNames().join(', ')}` : `modules: ${moduleNames().join(', ')}`;
    throw new FleetmendError('E_PLAYBOOK', `unknown module or task keyword '${unknown}' (${hint})`, {
      position: keyPositionOf(src, [...path, unknown]),
    });
  }
  if (moduleKeys.length !== 1) {
    const msg = moduleKeys.length ? `a task takes exactly one module, found ${moduleKeys.join(', ')}` : `task has no module (one of: ${moduleNames().join(', ')})`;
    throw new FleetmendError('E_PLAYBOOK', msg, { position: moduleKeys[1] ? keyPositionOf(src, [...path, moduleKeys[1]]) : positionOf(src, path) });
  }
  return moduleKeys[0]!;
}

/** The module's arguments, validated now and their templates parsed (shell positions proven safe). */
function moduleArgs(src: YamlSource, mod: Module<unknown, unknown>, raw: unknown, argPath: Path, templater: Templater): Record<string, unknown> {
  // set_fact's values are data: YAML 1.1 booleans, as PyYAML reads them
  const value = mod.name === 'set_fact' && raw && typeof raw === 'object' ? yaml11ValueAt(src, argPath) : raw;
  const args = argsOf(src, mod, value, argPath);
  validateArgs(src, mod, args, argPath);
  const dialects = argDialects(mod);
  for (const [k, v] of Object.entries(args)) {
    if (mod.noTemplate?.includes(k)) continue;
    const at = typeof value === 'string' ? argPath : [...argPath, k];
    forEachString(v, (s) => templater.validate(s, textPositionOf(src, at), dialects[k] ?? 'none'));
  }
  return args;
}

function validateTemplated(templater: Templater, src: YamlSource, path: Path, m: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of keys) if (typeof m[k] === 'string') templater.validate(m[k] as string, keyPositionOf(src, [...path, k]));
}

export function loadTask(src: YamlSource, raw: unknown, path: Path, templater: Templater, parent: Inherited): Task {
  const position = positionOf(src, path);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new FleetmendError('E_SCHEMA', 'a task must be a mapping', { position });
  const obj = raw as Record<string, unknown>;
  refuseUnsupportedTaskKeys(src, obj, path);
  const moduleKey = moduleKeyOf(src, obj, path);
  const mod = resolveModule(moduleKey) as Module<unknown, unknown>;
  const meta = taskMeta.safeParse(Object.fromEntries(Object.entries(obj).filter(([k]) => META_KEYS.has(k))));
  if (!meta.success) throw schemaError(src, prefixed(meta.error, path));
  const m = meta.data;
  const args = moduleArgs(src, mod, obj[moduleKey], [...path, moduleKey], templater);
  validateTemplated(templater, src, path, m, ['become', 'check_mode', 'diff', 'ignore_errors', 'retries', 'delay']);
  const inh = inheritFrom(src, path, parent, m);
  const at = (key: string) => keyPositionOf(src, [...path, key]);
  const loop = loopOf(src, path, m, templater);
  return {
    name: m.name ?? mod.name,
    moduleName: mod.name,
    module: mod,
    args,
    when: inh.when,
    ...(m.changed_when !== undefined ? { changedWhen: conditions(m.changed_when, at('changed_when'), 'changed_when') } : {}),
    ...(m.failed_when !== undefined ? { failedWhen: conditions(m.failed_when, at('failed_when'), 'failed_when') } : {}),
    ...(m.register !== undefined ? { register: m.register } : {}),
    notify: asList(m.notify),
    ...(m.listen !== undefined ? { listen: asList(m.listen) } : {}),
    ignoreErrors: inh.ignoreErrors ?? false,
    tags: inh.tags,
    ...(inh.become !== undefined ? { become: inh.become } : {}),
    ...(inh.checkMode !== undefined ? { checkMode: inh.checkMode } : {}),
    ...(inh.diff !== undefined ? { diff: inh.diff } : {}),
    ...(inh.anyErrorsFatal !== undefined ? { anyErrorsFatal: inh.anyErrorsFatal } : {}),
    ...(loop ? { loop } : {}),
    // Ansible: `until` without retries retries 3 times, 5 s apart
    ...(m.until !== undefined ? { until: { until: conditions(m.until, at('until'), 'until'), retries: m.retries ?? 3, delay: m.delay ?? 5 } } : {}),
    vars: inh.vars,
    ...(inh.role ? { role: inh.role } : {}),
    searchPaths: inh.searchPaths,
    position,
  };
}
