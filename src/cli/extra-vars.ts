/**
 * `-e @FILE`: extra variables from a YAML or JSON file (JSON is YAML), as ansible-playbook reads
 * them. The CLI turns each `@FILE` into the JSON object form that `-e` already takes, so the
 * request (and what the store records) holds values, not a path that may change later.
 */
import { readFileSync } from 'node:fs';
import { FleetmendError } from '../errors.js';
import { VAR_NAME } from '../playbook/vars.js';
import { keyPositionOf, parseYaml, positionOf } from '../util/yaml.js';

function readVarsFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new FleetmendError('E_USAGE', `-e @${file}: cannot read ${file}: ${e.code ?? e.message}`, { position: { file } });
  }
}

/** One `@FILE` as the `-e` JSON form; errors name file:line. A path is relative to the working directory. */
export function varsFileAsJson(file: string): string {
  // PyYAML's reading (yes/no, octal), as Ansible reads a vars file
  const src = parseYaml(file, readVarsFile(file), { pyyaml: true });
  const value = src.value;
  if (value === null || value === undefined) return '{}';
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new FleetmendError('E_USAGE', `-e @${file}: the file must hold a mapping of variable names to values`, { position: positionOf(src, []) });
  }
  for (const key of Object.keys(value)) {
    if (!VAR_NAME.test(key)) throw new FleetmendError('E_USAGE', `-e @${file}: invalid variable name ${JSON.stringify(key)}`, { position: keyPositionOf(src, [key]) });
  }
  return JSON.stringify(value);
}

/** `-e` arguments with every `@FILE` read (the others as given). */
export function expandVarsFiles(extraVars: readonly string[]): string[] {
  return extraVars.map((arg) => (arg.trim().startsWith('@') ? varsFileAsJson(arg.trim().slice(1)) : arg));
}
