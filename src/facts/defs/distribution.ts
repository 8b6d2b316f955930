/**
 * What Ansible's distribution facts read on Linux (module_utils/facts/system/distribution.py
 * through the `distro` library): /etc/os-release in full, and Debian's /etc/debian_version,
 * which holds the point release (`12.5`) os-release does not. Mapped to Ansible's names in
 * src/facts/ansible-facts.ts.
 */
import type { Fact } from '../fact.js';
import { readFile, readKey } from '../shell.js';
import { clip, describe, failed, linesOf, ok, type Parsed } from '../text.js';

export interface OsReleaseFull {
  /** os-release keys (ID, NAME, VERSION, VERSION_ID, VERSION_CODENAME, ID_LIKE, …), unquoted. */
  fields: Record<string, string>;
  /** /etc/debian_version's first line (`12.5`, `bookworm/sid`), when present. */
  debian_version?: string;
}

const DISTRIBUTION = ['fm_rc=0', readKey('DEBIAN_VERSION_FILE', '/etc/debian_version'), readFile('/etc/os-release')].join('\n');

function unquote(v: string): string {
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(v) ?? /^'([^']*)'$/.exec(v);
  return m ? (m[1] ?? '').replace(/\\(.)/g, '$1') : v;
}

export function parseDistribution(text: string): Parsed<OsReleaseFull> {
  const out: OsReleaseFull = { fields: {} };
  for (const line of linesOf(text)) {
    const m = /^([A-Z][A-Z0-9_]{0,63})=(.*)$/.exec(line.trim());
    if (!m) continue;
    const value = clip(unquote(m[2] ?? ''), 200);
    if (m[1] === 'DEBIAN_VERSION_FILE') {
      if (value) out.debian_version = value;
    } else if (Object.keys(out.fields).length < 64) out.fields[m[1]!] = value;
  }
  if (out.fields.ID === undefined && out.fields.NAME === undefined) return failed(out, `os-release: ${describe(text)}`);
  return ok(out);
}

export const DistributionFact: Fact<OsReleaseFull> = {
  name: 'distribution',
  gather: true,
  script: DISTRIBUTION,
  empty: { fields: {} },
  parse: parseDistribution,
  exposes: {
    group: 'host',
    names: ['os_release'],
    of: (d) => ({ os_release: Object.keys(d.fields).length ? { ...d.fields } : undefined }),
  },
};
