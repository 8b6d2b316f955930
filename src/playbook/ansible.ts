/**
 * What it takes for an Ansible user's playbook to load unchanged (issue 15 §2), and the one
 * clear error for what fleetmend does not do. Ansible reads playbooks with PyYAML (YAML 1.1:
 * plain `yes`/`no`/`on`/`off` are booleans) and converts keyword values with its `boolean()`
 * (also the strings 'y', 't', '1', ...); fleetmend's YAML is 1.2, so both are reproduced here.
 */
import { isNode, visit } from 'yaml';
import { z } from 'zod';
import { FleetmendError } from '../errors.js';
import { splitShellWords } from '../util/shellwords.js';
import { keyPositionOf, positionOf, type YamlSource } from '../util/yaml.js';

/** PyYAML's bool resolver (YAML 1.1 without y/n, which PyYAML leaves as strings). */
const YAML11_BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;

/**
 * Plain (unquoted) YAML 1.1 booleans become booleans where Ansible would read them as data
 * (play `vars`, `set_fact`), as PyYAML does. Elsewhere keyword values go through `ansibleBool`
 * and string fields stay strings (a task named `off` keeps its name, as Ansible stringifies it).
 */
export function withYaml11Booleans(src: YamlSource): YamlSource {
  let changed = false;
  const convert = (node: unknown) => {
    if (!isNode(node)) return;
    visit(node, {
      Scalar(key, n) {
        if (key === 'key' || n.type !== 'PLAIN' || typeof n.value !== 'string' || !YAML11_BOOL.test(n.value)) return;
        n.value = /^(?:yes|true|on)$/i.test(n.value);
        changed = true;
      },
    });
  };
  const plays = Array.isArray(src.value) ? src.value : [];
  plays.forEach((play: unknown, i) => {
    if (!play || typeof play !== 'object') return;
    convert(src.doc.getIn([i, 'vars'], true));
    for (const list of ['tasks', 'handlers']) {
      const tasks = (play as Record<string, unknown>)[list];
      if (!Array.isArray(tasks)) continue;
      tasks.forEach((_t, j) => SET_FACT_KEYS.forEach((k) => convert(src.doc.getIn([i, list, j, k], true))));
    }
  });
  if (!changed) return src;
  return { ...src, value: src.doc.toJS({ maxAliasCount: 100 }) };
}

const SET_FACT_KEYS = ['set_fact', 'ansible.builtin.set_fact', 'ansible.legacy.set_fact'];

const TRUE_STRINGS = new Set(['y', 'yes', 'on', '1', 'true', 't']);
const FALSE_STRINGS = new Set(['n', 'no', 'off', '0', 'false', 'f']);

/** Ansible's `boolean()` for keyword values: true/false, 1/0, 'yes'/'no', 'on'/'off', 'y'/'n', 't'/'f'. */
export const ansibleBool = z.preprocess((v) => {
  if (v === 1) return true;
  if (v === 0) return false;
  if (typeof v !== 'string') return v;
  const t = v.trim().toLowerCase();
  return TRUE_STRINGS.has(t) ? true : FALSE_STRINGS.has(t) ? false : v;
}, z.boolean({ message: 'expected a boolean (true/false, yes/no, on/off)' }));

const PLAY_UNSUPPORTED: Record<string, string> = {
  import_playbook: 'import_playbook (playbooks are one file)',
  include: 'include',
  pre_tasks: 'pre_tasks',
  post_tasks: 'post_tasks',
  vars_prompt: 'vars_prompt',
  collections: 'collections',
  module_defaults: 'module_defaults',
  environment: 'environment',
  strategy: 'strategy',
  order: 'order',
  throttle: 'throttle',
  run_once: 'run_once',
  remote_user: 'remote_user (set ansible_user in the inventory)',
  become_user: 'become_user (set ansible_become_user in the inventory)',
  connection: 'connection',
  gather_subset: 'gather_subset',
  force_handlers: 'force_handlers',
  no_log: 'no_log',
};

const TASK_UNSUPPORTED: Record<string, string> = {
  include_vars: 'include_vars',
  'ansible.builtin.include_vars': 'include_vars',
  delegate_to: 'delegate_to',
  delegate_facts: 'delegate_facts',
  local_action: 'local_action',
  action: 'action (name the module as the key)',
  run_once: 'run_once',
  async: 'async',
  poll: 'poll',
  environment: 'environment',
  args: 'args (write the arguments under the module)',
  no_log: 'no_log',
  become_user: 'become_user (set ansible_become_user in the inventory)',
  throttle: 'throttle',
  timeout: 'timeout (the module or --command-timeout sets it)',
  connection: 'connection',
  remote_user: 'remote_user (set ansible_user in the inventory)',
};

type Path = (string | number)[];

/** The lookup loops that are plain lists (with_items, with_list) or a mapping (with_dict): loops. */
export const WITH_LOOPS = new Set(['with_items', 'with_list', 'with_dict']);

/** Ansible's only become method here is sudo (src/transport): another one is refused at its key. */
export function refuseBecomeMethod(src: YamlSource, node: unknown, path: Path): void {
  if (!node || typeof node !== 'object' || !('become_method' in node)) return;
  const m = (node as Record<string, unknown>).become_method;
  if (m === 'sudo' || m === 'ansible.builtin.sudo') return;
  throw new FleetmendError('E_PLAYBOOK', `become_method: ${JSON.stringify(m)} is not supported (fleetmend becomes with sudo only)`, {
    position: keyPositionOf(src, [...path, 'become_method']),
  });
}

/**
 * The value at `path` with its plain YAML 1.1 booleans converted (block and task `vars`, read as
 * data by PyYAML), without touching the rest of the document's reading.
 */
export function yaml11ValueAt(src: YamlSource, path: Path): unknown {
  const node = src.doc.getIn(path, true);
  if (!isNode(node)) return node;
  visit(node, {
    Scalar(key, n) {
      if (key === 'key' || n.type !== 'PLAIN' || typeof n.value !== 'string' || !YAML11_BOOL.test(n.value)) return;
      n.value = /^(?:yes|true|on)$/i.test(n.value);
    },
  });
  return node.toJS(src.doc, { maxAliasCount: 100 });
}

function unsupported(src: YamlSource, path: Path, key: string, what: string): FleetmendError {
  return new FleetmendError('E_PLAYBOOK', `${what} is not supported by fleetmend (construct '${key}')`, { position: keyPositionOf(src, [...path, key]) });
}

/** The first Ansible play keyword fleetmend does not implement, as an error at its key. */
export function refuseUnsupportedPlayKeys(src: YamlSource, play: unknown, path: Path): void {
  if (!play || typeof play !== 'object' || Array.isArray(play)) return;
  for (const key of Object.keys(play)) {
    const what = PLAY_UNSUPPORTED[key];
    if (what) throw unsupported(src, path, key, what);
  }
}

/** The same for task keywords (and the include/import pseudo-modules, with_* lookups). */
export function refuseUnsupportedTaskKeys(src: YamlSource, task: Record<string, unknown>, path: Path): void {
  for (const key of Object.keys(task)) {
    const what = TASK_UNSUPPORTED[key] ?? (key.startsWith('with_') && !WITH_LOOPS.has(key) ? `${key} (a lookup loop; use loop:)` : undefined);
    if (what) throw unsupported(src, path, key, what);
  }
}

/** Ansible's `key=value` argument string (`service: name=auditd state=restarted`). */
export function keyValueArgs(src: YamlSource, text: string, module: string, path: Path): Record<string, unknown> {
  const where = { position: positionOf(src, path) };
  const words = splitShellWords(text, (q) => new FleetmendError('E_SCHEMA', `${module}: unterminated ${q} quote in ${JSON.stringify(text)}`, where));
  const out: Record<string, unknown> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new FleetmendError('E_SCHEMA', `${module}: expected key=value arguments, got ${JSON.stringify(w)}`, where);
    out[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return out;
}

