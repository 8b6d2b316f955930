/**
 * Ansible's YAML inventory (ansible/plugins/inventory/yaml.py): top-level keys are groups, each
 * group may have `vars`, `children` and `hosts` and nothing else. Unlike Ansible (which only warns),
 * an unknown key is an error: a typo such as `host:` would otherwise silently drop hosts.
 */
import { z } from 'zod';
import { FleetmendError, type SourcePosition } from '../errors.js';
import { keyPositionOf, parseYaml, schemaError, type YamlSource } from '../util/yaml.js';
import { expandHostEntry, HostEntryError } from './ranges.js';
import { RawInventoryBuilder, type RawInventory } from './raw.js';

interface GroupSpec {
  hosts?: Record<string, Record<string, unknown> | null> | null | undefined;
  children?: Record<string, GroupSpec | null> | null | undefined;
  vars?: Record<string, unknown> | null | undefined;
}

/** Ansible accepts `hosts: web1` / `children: web` for a single member. */
const oneName = (v: unknown): unknown => (typeof v === 'string' ? { [v]: null } : v);

const VarsSchema = z.record(z.string(), z.unknown(), { error: 'variables must be a mapping of name: value' });
const GroupSchema: z.ZodType<GroupSpec> = z.lazy(() =>
  z.strictObject(
    {
      hosts: z
        .preprocess(oneName, z.record(z.string(), VarsSchema.nullable(), {
          error: "'hosts' must be a mapping of host names (write 'web1:', not '- web1')",
        }))
        .nullable()
        .optional(),
      children: z
        .preprocess(oneName, z.record(z.string(), GroupSchema.nullable(), { error: "'children' must be a mapping of group names" }))
        .nullable()
        .optional(),
      vars: VarsSchema.nullable().optional(),
    },
    { error: 'a group must be a mapping with hosts, children or vars' },
  ),
);
const FileSchema = z
  .record(z.string(), GroupSchema.nullable(), { error: 'a YAML inventory must be a mapping of group names' })
  .nullable();

export function parseYamlInventory(file: string, text: string): RawInventory {
  // scalars as Ansible's PyYAML loader reads them: `restart_enabled: no` is false (util/yaml11.ts)
  const src = parseYaml(file, text, { pyyaml: true });
  const parsed = FileSchema.safeParse(src.value);
  if (!parsed.success) throw inventorySchemaError(src, parsed.error);
  const b = new RawInventoryBuilder(file);
  for (const [name, spec] of Object.entries(parsed.data ?? {})) {
    readGroup(src, b, name, spec, [name]);
  }
  return b.finish();
}

function inventorySchemaError(src: YamlSource, err: z.ZodError): FleetmendError {
  const e = schemaError(src, err, 'E_SCHEMA');
  if (err.issues[0]?.code !== 'unrecognized_keys') return e;
  return new FleetmendError('E_SCHEMA', `${e.message} (a group may only have hosts, children, vars)`, {
    ...(e.position ? { position: e.position } : {}),
  });
}

/** Ansible reads a group's sections in this order: vars, children, hosts. */
function readGroup(src: YamlSource, b: RawInventoryBuilder, name: string, spec: GroupSpec | null, path: string[]): void {
  b.group(name);
  for (const [k, v] of Object.entries(spec?.vars ?? {})) {
    b.setGroupVar(name, k, v, keyPositionOf(src, [...path, 'vars', k]));
  }
  for (const [child, childSpec] of Object.entries(spec?.children ?? {})) {
    const childPath = [...path, 'children', child];
    b.addChild(name, child, keyPositionOf(src, childPath));
    readGroup(src, b, child, childSpec, childPath);
  }
  for (const [entry, vars] of Object.entries(spec?.hosts ?? {})) {
    // the position is looked up only for an error: the lookup scans the group's keys, and doing
    // it for every host made loading a large group quadratic
    const at = () => keyPositionOf(src, [...path, 'hosts', entry]);
    const { names, port } = expandEntryAt(entry, at);
    // An explicit ansible_port beats the `host:port` shorthand, as in Ansible.
    const hostVars = port === undefined ? { ...vars } : { ansible_port: port, ...vars };
    b.addHosts(name, names, hostVars, at);
  }
}

function expandEntryAt(entry: string, at: () => SourcePosition): ReturnType<typeof expandHostEntry> {
  try {
    return expandHostEntry(entry);
  } catch (err) {
    if (err instanceof HostEntryError) throw new FleetmendError('E_INVENTORY', err.message, { position: at() });
    throw err;
  }
}
