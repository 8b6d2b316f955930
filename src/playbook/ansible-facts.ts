/**
 * The part of Ansible's `ansible_facts` that fleetmend's one fact round trip already reads
 * (/etc/os-release and `uname -r`, src/facts/script.ts), named as Ansible's setup module names it
 * (module_utils/facts/system/distribution.py). A fact Ansible would have and this does not
 * (e.g. `distribution_version`: Ansible reads /etc/debian_version for Debian's "12.5", not
 * os-release) stays out, so a task using it fails with E_UNDEFINED instead of reading a guess.
 */
import type { FactSample } from '../facts/types.js';

/** os-release `ID` → Ansible's `distribution` (what its distribution files give on that system). */
const DISTRIBUTION_OF_ID: Readonly<Record<string, string>> = {
  rhel: 'RedHat',
  centos: 'CentOS',
  rocky: 'Rocky',
  almalinux: 'AlmaLinux',
  ol: 'OracleLinux',
  fedora: 'Fedora',
  amzn: 'Amazon',
  debian: 'Debian',
  ubuntu: 'Ubuntu',
  sles: 'SLES',
  'opensuse-leap': 'openSUSE Leap',
  'opensuse-tumbleweed': 'openSUSE Tumbleweed',
  alpine: 'Alpine',
  arch: 'Archlinux',
};

/** Ansible's OS_FAMILY_MAP, for the distributions above. */
const FAMILY_OF_DISTRIBUTION: Readonly<Record<string, string>> = {
  RedHat: 'RedHat',
  CentOS: 'RedHat',
  Rocky: 'RedHat',
  AlmaLinux: 'RedHat',
  OracleLinux: 'RedHat',
  Fedora: 'RedHat',
  Amazon: 'RedHat',
  Debian: 'Debian',
  Ubuntu: 'Debian',
  SLES: 'Suse',
  'openSUSE Leap': 'Suse',
  'openSUSE Tumbleweed': 'Suse',
  Alpine: 'Alpine',
  Archlinux: 'Archlinux',
};

/** `ansible_facts` from one sample (keys without the `ansible_` prefix, as in Ansible). */
export function ansibleFactsOf(sample: FactSample | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const sys = sample?.system;
  const distribution = sys?.distribution?.id !== undefined ? DISTRIBUTION_OF_ID[sys.distribution.id] : undefined;
  if (distribution !== undefined) {
    out.distribution = distribution;
    out.os_family = FAMILY_OF_DISTRIBUTION[distribution] ?? distribution;
    const major = sys?.distribution?.version_id?.split('.')[0];
    if (major) out.distribution_major_version = major;
  }
  if (sys?.kernel_release !== undefined) out.kernel = sys.kernel_release;
  return out;
}

/**
 * The facts also as top-level `ansible_*` variables (Ansible's INJECT_FACTS_AS_VARS), only once
 * facts were gathered (before that Ansible has none of them).
 */
export function injectedFactVars(facts: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(facts).map(([k, v]) => [`ansible_${k}`, v]));
}
