/**
 * PyYAML's implicit resolvers, which Ansible's loader (AnsibleLoader, a PyYAML SafeLoader) applies
 * to inventories and group_vars/host_vars files: YAML 1.1, but not all of it. Over the yaml
 * library's YAML 1.1 schema this changes what PyYAML reads differently:
 *   - booleans are yes/no/true/false/on/off in three casings; `y`/`n` stay strings;
 *   - a decimal int has no leading zero (`0755` is octal 493, `09` is a string);
 *   - a float needs a dot, and its exponent a sign (`1e3` and `1.5e3` are strings, `1.5e+3` a float);
 *   - dates stay the text they were written as (Ansible shows a date var as that text).
 * Checked against ansible-inventory --list (ansible-core 2.14).
 */
import type { CollectionTag, ScalarTag, Tags } from 'yaml';

const TAG = 'tag:yaml.org,2002:';
const TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
const DECIMAL = /^[-+]?(?:0|[1-9][0-9_]*)$/;
const SEXAGESIMAL = /^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+$/;
const FLOAT = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?)$/;

type Tag = ScalarTag | CollectionTag;

function pyyamlTag(t: Tag): Tag | undefined {
  if (t.tag === `${TAG}timestamp`) return undefined;
  if (!('test' in t) || !t.test) return t;
  if (t.tag === `${TAG}bool`) return { ...t, test: t.test.test('true') ? TRUE : FALSE };
  if (t.tag === `${TAG}int` && t.format === undefined) return { ...t, test: DECIMAL };
  if (t.tag === `${TAG}int` && t.format === 'TIME') return { ...t, test: SEXAGESIMAL };
  // the library's exponent form (`1e3`) is not a PyYAML float; its dotted form takes PyYAML's pattern
  if (t.tag === `${TAG}float` && t.format === 'EXP') return undefined;
  if (t.tag === `${TAG}float` && t.format === undefined && !t.test.test('.inf')) return { ...t, test: FLOAT };
  return t;
}

/** `customTags` for parseDocument with `version: '1.1'`: the schema's tags as PyYAML resolves them. */
export function pyyamlTags(tags: Tags): Tags {
  const out: Tags = [];
  for (const t of tags) {
    const tag = typeof t === 'string' ? t : pyyamlTag(t);
    if (tag !== undefined) out.push(tag);
  }
  return out;
}
