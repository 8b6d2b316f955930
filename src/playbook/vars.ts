/**
 * Variables: inventory host vars < play `vars` < `-e key=value` extra vars (Ansible's order for
 * these three sources). `-e` values that look like integers or booleans are typed.
 */
import { readFileSync } from 'node:fs';
import { FleetmendError } from '../errors.js';
import { parseYaml } from '../util/yaml.js';

export type Vars = Record<string, unknown>;

export const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function typed(value: string): unknown {
  if (/^-?(0|[1-9]\d{0,15})$/.test(value)) return Number(value);
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

/** `-e @vars.yml`: a YAML (or JSON) mapping read as Ansible reads vars files (YAML 1.1). */
function extraVarsFile(arg: string, file: string): Vars {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FleetmendError('E_USAGE', `-e ${JSON.stringify(arg)}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const { value } = parseYaml(file, text, { pyyaml: true });
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new FleetmendError('E_USAGE', `-e ${JSON.stringify(arg)}: ${file} must hold a mapping of variables`);
  for (const k of Object.keys(value)) {
    if (!VAR_NAME.test(k)) throw new FleetmendError('E_USAGE', `-e ${JSON.stringify(arg)}: invalid variable name ${JSON.stringify(k)} in ${file}`);
  }
  return value as Vars;
}

/**
 * Parses `-e` arguments: `key=value` (several separated by spaces in one `-e` are allowed, as in
 * Ansible), a JSON object, or `@file` (YAML or JSON, relative to the working directory). Later
 * arguments win. Anything else is an E_USAGE error naming the argument.
 */
export function parseExtraVars(list: readonly string[]): Vars {
  const out: Vars = {};
  for (const arg of list) {
    const text = arg.trim();
    if (text.startsWith('@')) {
      Object.assign(out, extraVarsFile(arg, text.slice(1)));
      continue;
    }
    if (text.startsWith('{')) {
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch (err) {
        throw new FleetmendError('E_USAGE', `-e ${JSON.stringify(arg)}: invalid JSON (${(err as Error).message})`);
      }
      if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new FleetmendError('E_USAGE', `-e ${JSON.stringify(arg)}: JSON must be an object`);
      for (const [k, v] of Object.entries(obj)) {
        if (!VAR_NAME.test(k)) throw new FleetmendError('E_USAGE', `-e: invalid variable name ${JSON.stringify(k)}`);
        out[k] = v;
      }
      continue;
    }
    if (!text) throw new FleetmendError('E_USAGE', '-e: empty extra variable');
    for (const pair of text.split(/\s+/)) {
      const eq = pair.indexOf('=');
      const key = eq > 0 ? pair.slice(0, eq) : '';
      if (!VAR_NAME.test(key)) {
        throw new FleetmendError('E_USAGE', `-e ${JSON.stringify(arg)}: expected key=value with key matching ${VAR_NAME.source}`);
      }
      out[key] = typed(pair.slice(eq + 1));
    }
  }
  return out;
}

export function mergeVars(hostVars: Vars, playVars: Vars, extraVars: Vars): Vars {
  return { ...hostVars, ...playVars, ...extraVars };
}
