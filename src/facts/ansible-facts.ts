/**
 * Ansible's `ansible_facts` from fleetmend's probe, named and mapped as Ansible's setup module
 * does (module_utils/facts/system/{distribution,platform,cmdline,service_mgr}.py,
 * virtual/linux.py, hardware/linux.py mounts), without Python on the host: every value comes from
 * the builtin sections of the one probe round trip (src/facts/defs). Two tiers:
 * - `ansibleFactsOf`: what every sample has (/etc/os-release, the kernel release), visible after
 *   any sample, as before;
 * - `gatheredAnsibleFacts`: what a gathering probe (gather_facts, setup) adds, per collector of
 *   `gather_subset`.
 * A fact Ansible would have and the probe cannot read (mount sizes: statvfs needs df) stays out,
 * so a task using it fails with E_UNDEFINED instead of reading a guess.
 */
import { FleetmendError } from '../errors.js';
import type { FactSample } from './types.js';
import { gatheredFact } from './registry.js';
import { DistributionFact, type OsReleaseFull } from './defs/distribution.js';
import { fqdnOf, PlatformFact } from './defs/platform.js';
import { KernelCmdlineFact } from './defs/kernel-cmdline.js';
import { MountsFact } from './defs/mounts.js';
import { VirtualizationFact } from './defs/virtualization.js';
import { ServiceMgrFact } from './defs/service-mgr.js';

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
  raspbian: 'Raspbian',
  linuxmint: 'Linux Mint',
  kali: 'Kali',
  devuan: 'Devuan',
  'sles_sap': 'SLES_SAP',
  sled: 'SLED',
  euleros: 'EulerOS',
  openEuler: 'openEuler',
  'virtuozzo': 'Virtuozzo',
  scientific: 'Scientific',
  cloudlinux: 'CloudLinux',
  gentoo: 'Gentoo',
  manjaro: 'Manjaro',
};

/** Ansible's OS_FAMILY_MAP (distribution.py), for the distributions above. */
const FAMILY_OF_DISTRIBUTION: Readonly<Record<string, string>> = {
  Raspbian: 'Debian',
  'Linux Mint': 'Debian',
  Kali: 'Debian',
  Devuan: 'Debian',
  SLES_SAP: 'Suse',
  SLED: 'Suse',
  EulerOS: 'RedHat',
  openEuler: 'RedHat',
  Virtuozzo: 'RedHat',
  Scientific: 'RedHat',
  CloudLinux: 'RedHat',
  Gentoo: 'Gentoo',
  Manjaro: 'Archlinux',
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

/** Ansible's fact collectors fleetmend reads, and the subsets that name them (module_utils/facts). */
export const COLLECTORS = ['distribution', 'platform', 'cmdline', 'service_mgr', 'mounts', 'virtual'] as const;
export type Collector = (typeof COLLECTORS)[number];
/** Ansible's `min` subset (the ones of it fleetmend reads); `all` is every collector. */
const MIN: readonly Collector[] = ['distribution', 'platform', 'cmdline', 'service_mgr'];
/** Subset names → collectors (`hardware` holds mounts, `virtual` the virtualization facts). */
const SUBSETS: Readonly<Record<string, readonly Collector[]>> = {
  all: COLLECTORS,
  min: MIN,
  hardware: ['mounts'],
  virtual: ['virtual'],
  distribution: ['distribution'],
  platform: ['platform'],
  cmdline: ['cmdline'],
  service_mgr: ['service_mgr'],
  mounts: ['mounts'],
};
/** Subsets Ansible has whose facts fleetmend does not read: accepted, they add nothing. */
const UNREAD = ['network', 'ohai', 'facter', 'apparmor', 'caps', 'date_time', 'dns', 'env', 'fips', 'local', 'lsb', 'pkg_mgr', 'python', 'selinux', 'ssh_pub_keys', 'user', 'devices', 'dmi', 'interfaces', 'system'];

/**
 * The collectors a `gather_subset` list asks for, as Ansible's get_collector_names
 * (module_utils/facts/collector.py): `min` first, always; `all`, names, and `!name` exclusions
 * (`!all` keeps min, `!min` drops it; a name added explicitly is never excluded; an unknown
 * exclusion is ignored). An unknown subset to add is refused, with Ansible's message.
 */
export function collectorsOf(subset: readonly string[]): Set<Collector> {
  const add = new Set<Collector>(MIN);
  const exclude = new Set<Collector>();
  const explicit = new Set<Collector>();
  for (const raw of subset.length ? subset : ['all']) {
    const item = raw.trim();
    if (item === 'min' || item === 'all') {
      SUBSETS[item]!.forEach((c) => add.add(c));
    } else if (item.startsWith('!')) {
      const name = item.slice(1);
      const of = name === 'all' ? COLLECTORS.filter((c) => !MIN.includes(c)) : (SUBSETS[name] ?? []);
      of.forEach((c) => exclude.add(c));
    } else if (item in SUBSETS || UNREAD.includes(item)) {
      (SUBSETS[item] ?? []).forEach((c) => (add.add(c), explicit.add(c)));
    } else {
      throw new FleetmendError('E_SCHEMA', `Bad subset '${item}' given to Ansible. gather_subset options allowed: all, ${[...Object.keys(SUBSETS), ...UNREAD].filter((n) => n !== 'all').sort().join(', ')}`);
    }
  }
  for (const c of exclude) if (!explicit.has(c)) add.delete(c);
  return add;
}

/** Ansible's distribution_version / _release from os-release (+ Debian's point release). */
function versionFacts(d: OsReleaseFull, distribution: string | undefined): Record<string, string> {
  const f = d.fields;
  const out: Record<string, string> = {};
  const debian = d.debian_version !== undefined && /^\d+(\.\d+)*$/.test(d.debian_version) ? d.debian_version : undefined;
  const version = (distribution === 'Debian' ? debian : undefined) ?? f.VERSION_ID;
  if (version) {
    out.distribution_version = version;
    out.distribution_major_version = version.split('.')[0] ?? version;
  }
  // Debian/Ubuntu: the codename; the RHEL family: the name in /etc/redhat-release's parentheses, os-release's VERSION
  const release = f.VERSION_CODENAME || f.UBUNTU_CODENAME || /\(([^)]+)\)/.exec(f.VERSION ?? '')?.[1];
  if (release) out.distribution_release = release;
  return out;
}

/** platform.machine() and Ansible's architecture; a kernel before 6.1 has no /proc/sys/kernel/arch: its release names it. */
function architectureOf(machine: string | undefined, kernelRelease: string | undefined): Record<string, string> {
  const fromRelease = /[.-](x86_64|amd64|aarch64|arm64|ppc64le|s390x|i686)$/.exec(kernelRelease ?? '')?.[1];
  const m = machine ?? (fromRelease === 'amd64' ? 'x86_64' : fromRelease === 'arm64' ? 'aarch64' : fromRelease);
  if (!m) return {};
  return { machine: m, architecture: /^i[3-6]86$/.test(m) ? 'i386' : m };
}

type Facts = Record<string, unknown>;

const GATHER: Readonly<Record<Collector, (s: FactSample, out: Facts) => void>> = {
  distribution(s, out) {
    const d = gatheredFact(s, DistributionFact);
    if (!d) return;
    const distribution = d.fields.ID !== undefined ? DISTRIBUTION_OF_ID[d.fields.ID] : undefined;
    if (distribution !== undefined) {
      out.distribution = distribution;
      out.os_family = FAMILY_OF_DISTRIBUTION[distribution] ?? distribution;
    }
    Object.assign(out, versionFacts(d, distribution));
  },
  platform(s, out) {
    const p = gatheredFact(s, PlatformFact);
    if (!p) return;
    if (p.system) out.system = p.system;
    if (s.system.kernel_release) out.kernel = s.system.kernel_release;
    if (p.kernel_version) out.kernel_version = p.kernel_version;
    Object.assign(out, architectureOf(p.machine, s.system.kernel_release));
    if (p.nodename !== undefined) {
      const fqdn = fqdnOf(p.nodename, p.hosts_lines);
      Object.assign(out, { nodename: p.nodename, hostname: p.nodename.split('.')[0], fqdn, domain: fqdn.split('.').slice(1).join('.') });
    }
  },
  cmdline(s, out) {
    const c = gatheredFact(s, KernelCmdlineFact);
    // Ansible sets neither when /proc/cmdline is empty or unreadable
    if (c && Object.keys(c.cmdline).length) Object.assign(out, { cmdline: c.cmdline, proc_cmdline: c.proc_cmdline });
  },
  service_mgr(s, out) {
    const m = gatheredFact(s, ServiceMgrFact);
    if (m) out.service_mgr = m;
  },
  mounts(s, out) {
    const m = gatheredFact(s, MountsFact);
    if (m) out.mounts = m.map((x) => ({ mount: x.mount, device: x.device, fstype: x.fstype, options: x.options, dump: x.dump, passno: x.passno }));
  },
  virtual(s, out) {
    const v = gatheredFact(s, VirtualizationFact);
    if (!v) return;
    Object.assign(out, { virtualization_type: v.type, virtualization_role: v.role, virtualization_tech_guest: v.tech_guest, virtualization_tech_host: v.tech_host });
  },
};

/**
 * `ansible_facts` of a gathered sample for the collectors asked (keys without the `ansible_`
 * prefix), on top of what every sample gives. Empty for a sample that was not gathered.
 */
export function gatheredAnsibleFacts(sample: FactSample | undefined, collectors: ReadonlySet<Collector>): Record<string, unknown> {
  if (!sample?.gathered) return {};
  const out: Facts = { ...ansibleFactsOf(sample) };
  for (const c of COLLECTORS) if (collectors.has(c)) GATHER[c](sample, out);
  return out;
}
