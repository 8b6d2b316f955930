/**
 * Policy files: YAML with positions → schema → every condition compiled, so a bad policy is an
 * E_YAML / E_SCHEMA / E_POLICY / E_EXPR error with file:line:column before any host is contacted.
 *
 *   name: audit-baseline
 *   description: ...            (optional)
 *   parameters:                 (optional) site choices, read by conditions as params.NAME
 *     disk_full_actions: [HALT, SINGLE, ROTATE]
 *   controls:
 *     - id: backlog-limit       (lower-case letters, digits, . _ -; unique)
 *       title: Backlog limit is at least 8192
 *       impact: 0.7             (0.0–1.0, as in InSpec; 0 = informational)
 *       condition: audit.backlog_limit >= 8192
 *       description: ...        (optional)
 */
import { isScalar } from 'yaml';
import { z } from 'zod';
import { FleetmendError, type SourcePosition } from '../errors.js';
import { compileExpr, type CompiledExpr } from '../expr/index.js';
import { positionOf, readYamlFile, schemaError, type YamlSource } from '../util/yaml.js';
import type { Control, Policy } from './types.js';

const ControlSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'id must be lower-case letters, digits, . _ -'),
    title: z.string().min(1),
    impact: z.number().min(0).max(1),
    condition: z.string().min(1),
    description: z.string().optional(),
  })
  .strict();

const ParameterSchema = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()]))]);

const PolicySchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'a parameter name is lower-case letters, digits and _'), ParameterSchema).optional(),
    controls: z.array(ControlSchema).min(1),
  })
  .strict();

/** Compiled conditions of loaded policies (the Policy type stays plain data). */
const compiled = new WeakMap<Control, CompiledExpr>();

export function compiledCondition(control: Control): CompiledExpr | undefined {
  return compiled.get(control);
}

/** Where the expression's first character is: one past the quote of a quoted scalar. */
function conditionPosition(src: YamlSource, index: number): SourcePosition {
  const path = ['controls', index, 'condition'];
  const pos = positionOf(src, path);
  const node = src.doc.getIn(path, true);
  if (!isScalar(node)) return pos;
  if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && pos.column !== undefined) {
    return { ...pos, column: pos.column + 1 };
  }
  if ((node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') && pos.line !== undefined) {
    return { file: pos.file, line: pos.line + 1 };
  }
  return pos;
}

/** Builds a Policy from an already parsed YAML source. */
export function policyFromYaml(src: YamlSource): Policy {
  const parsed = PolicySchema.safeParse(src.value);
  if (!parsed.success) throw schemaError(src, parsed.error);
  const seen = new Map<string, number>();
  const controls: Control[] = parsed.data.controls.map((c, i) => {
    const first = seen.get(c.id);
    if (first !== undefined) {
      throw new FleetmendError('E_POLICY', `duplicate control id '${c.id}' (first at controls[${first}])`, {
        position: positionOf(src, ['controls', i, 'id']),
      });
    }
    seen.set(c.id, i);
    const expr = compileExpr(c.condition, conditionPosition(src, i));
    const control: Control = { id: c.id, title: c.title, impact: c.impact, condition: c.condition };
    if (c.description !== undefined) control.description = c.description;
    compiled.set(control, expr);
    return control;
  });
  return { name: parsed.data.name, file: src.file, controls, ...(parsed.data.parameters ? { parameters: parsed.data.parameters } : {}) };
}

/** Loads and validates a policy file. Throws FleetmendError (E_USAGE, E_YAML, E_SCHEMA, E_POLICY, E_EXPR). */
export async function loadPolicy(file: string): Promise<Policy> {
  return policyFromYaml(await readYamlFile(file));
}
