/**
 * Ansible's `virtualization_type` / `virtualization_role` (module_utils/facts/virtual/linux.py),
 * read with builtins: PID 1's cgroup lines, the container marker files, DMI ids, the first CPU
 * model line and the loaded modules' names, decided in Ansible's order (the first match sets
 * type and role; every match adds to the tech lists). Not read: /proc/1/environ (NUL-separated,
 * which `read` cannot split), `dmidecode` and `lscpu` (programs), the RHEV /proc/*\/comm scan.
 */
import type { Fact } from '../fact.js';
import { readKey, testKey } from '../shell.js';
import { clip, failed, linesOf, ok, type Parsed } from '../text.js';

export interface Virtualization {
  type: string;
  role: string;
  tech_guest: string[];
  tech_host: string[];
}

const DMI = '/sys/devices/virtual/dmi/id';

const VIRTUAL = [
  'fm_rc=0',
  'if [ -r /proc/1/cgroup ]; then',
  `  while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in */docker/*|*/docker-*|*/lxc/*|*/machine.slice/machine-lxc*|*/system.slice/containerd.service*) printf 'cgroup=%s\\n' "$fm_l";; esac; done < /proc/1/cgroup`,
  'fi 2>/dev/null',
  testKey('vz', '-e', '/proc/vz'),
  testKey('lve', '-e', '/proc/lve'),
  testKey('bc', '-e', '/proc/bc'),
  readKey('systemd_container', '/run/systemd/container'),
  testKey('dockerenv', '-e', '/.dockerenv'),
  testKey('dockerenv', '-e', '/.dockerinit'),
  testKey('xen', '-e', '/proc/xen'),
  'if [ -r /proc/xen/capabilities ]; then',
  `  while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in *control_d*) echo 'xen_control_d=1';; esac; done < /proc/xen/capabilities`,
  'fi 2>/dev/null',
  readKey('product_name', `${DMI}/product_name`),
  readKey('sys_vendor', `${DMI}/sys_vendor`),
  readKey('product_family', `${DMI}/product_family`),
  readKey('bios_vendor', `${DMI}/bios_vendor`),
  // the first model/vendor lines say it; a 64-CPU host repeats them 64 times: stop at `model name`
  'if [ -r /proc/cpuinfo ]; then',
  `  while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in vendor_id*|machine*) printf 'cpu=%s\\n' "$fm_l";; "model name"*) printf 'cpu=%s\\n' "$fm_l"; break;; esac; done < /proc/cpuinfo`,
  'fi 2>/dev/null',
  'if [ -r /proc/modules ]; then',
  `  while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in "kvm "*|"vboxdrv "*|"virtio "*) printf 'module=%s\\n' "$fm_l";; esac; done < /proc/modules`,
  'fi 2>/dev/null',
  testKey('dev_kvm', '-e', '/dev/kvm'),
].join('\n');

type Seen = Map<string, string[]>;

function seenOf(text: string): Seen {
  const seen: Seen = new Map();
  for (const line of linesOf(text)) {
    const m = /^([a-z_]+)=(.*)$/.exec(line);
    if (!m) continue;
    const list = seen.get(m[1]!) ?? [];
    if (list.length < 50) list.push(clip((m[2] ?? '').trim(), 200));
    seen.set(m[1]!, list);
  }
  return seen;
}

/** Applies Ansible's checks in its order; the first that matches decides type and role. */
class Decider {
  v: Virtualization = { type: '', role: '', tech_guest: [], tech_host: [] };
  found = false;
  guest(tech: string, type = tech, role: string | undefined = 'guest'): void {
    if (!this.v.tech_guest.includes(tech)) this.v.tech_guest.push(tech);
    this.decide(type, role);
  }
  host(tech: string, type = tech): void {
    if (!this.v.tech_host.includes(tech)) this.v.tech_host.push(tech);
    this.decide(type, 'host');
  }
  private decide(type: string, role: string | undefined): void {
    if (this.found) return;
    this.v.type = type;
    if (role !== undefined) this.v.role = role;
    this.found = true;
  }
}

const KVM_PRODUCTS = ['KVM', 'KVM Server', 'Bochs', 'AHV'];
const KVM_SYS_VENDORS = ['QEMU', 'Amazon EC2', 'DigitalOcean', 'Google', 'Scaleway', 'Nutanix'];

function containers(d: Decider, s: Seen): void {
  for (const line of s.get('cgroup') ?? []) {
    if (/\/docker(\/|-[0-9a-f]+\.scope)/.test(line)) d.guest('docker');
    if (/\/lxc\/|\/machine\.slice\/machine-lxc/.test(line)) d.guest('lxc');
    if (/\/system\.slice\/containerd\.service/.test(line)) d.guest('containerd');
  }
  if (s.has('vz') && !s.has('lve')) {
    if (s.has('bc')) d.host('openvz');
    else d.guest('openvz');
  }
  const container = s.get('systemd_container')?.[0];
  if (container) d.guest(container);
  if (s.has('dockerenv')) d.guest('docker');
  const kinds = ['docker', 'lxc', 'podman', 'openvz', 'containerd'];
  if (d.v.tech_guest.some((t) => kinds.includes(t)) || container) {
    if (!d.v.tech_guest.includes('container')) d.v.tech_guest.push('container');
  }
  if (s.has('xen')) {
    if (s.has('xen_control_d')) d.host('xen');
    else d.guest('xen');
  }
}

function dmi(d: Decider, s: Seen): void {
  const [product, vendor, family, bios] = ['product_name', 'sys_vendor', 'product_family', 'bios_vendor'].map((k) => s.get(k)?.[0]);
  // Ansible sets the role `guest` before these checks and deletes it when none matched
  if (product && KVM_PRODUCTS.includes(product)) d.guest('kvm');
  if (vendor === 'oVirt') d.guest('oVirt');
  if (vendor === 'Red Hat' && family === 'RHV') d.guest('RHV');
  else if (vendor === 'Red Hat' && product === 'RHEV Hypervisor') d.guest('RHEV');
  if (product?.startsWith('VMware')) d.guest('VMware');
  if (product === 'OpenStack Compute' || product === 'OpenStack Nova') d.guest('openstack');
  if (bios === 'Xen') d.guest('xen');
  if (bios === 'innotek GmbH') d.guest('virtualbox');
  if (bios === 'Amazon EC2' || bios === 'DigitalOcean' || bios === 'Hetzner') d.guest('kvm');
  if (vendor && KVM_SYS_VENDORS.includes(vendor)) d.guest('kvm');
  if (vendor === 'KubeVirt') d.guest('KubeVirt');
  if (vendor === 'Microsoft Corporation') d.guest('VirtualPC');
  if (vendor === 'Parallels Software International Inc.') d.guest('parallels');
  if (vendor === 'OpenStack Foundation') d.guest('openstack');
}

function cpuAndModules(d: Decider, s: Seen): void {
  for (const line of s.get('cpu') ?? []) {
    if (/^model name.*QEMU Virtual CPU/.test(line) || /^machine.*CHRP IBM pSeries .emulated by qemu./.test(line)) d.guest('kvm');
    else if (/^vendor_id.*User Mode Linux/.test(line) || /^model name.*UML/.test(line)) d.guest('uml');
    else if (/^vendor_id.*PowerVM Lx86/.test(line)) d.guest('powervm_lx86');
    else if (/^vendor_id.*IBM\/S390/.test(line)) d.guest('ibm_systemz', 'ibm_systemz', 'LPAR');
  }
  const modules = (s.get('module') ?? []).map((l) => l.split(' ')[0]);
  if (modules.includes('kvm')) d.host('kvm');
  if (modules.includes('vboxdrv')) d.host('virtualbox');
  if (modules.includes('virtio')) d.guest('kvm');
  if (s.has('dev_kvm')) d.host('kvm');
}

export function parseVirtualization(text: string, rc: number | null): Parsed<Virtualization> {
  const d = new Decider();
  const seen = seenOf(text);
  containers(d, seen);
  dmi(d, seen);
  cpuAndModules(d, seen);
  if (!d.found) d.v = { ...d.v, type: 'NA', role: 'NA' };
  if (rc !== 0) return failed(d.v, `virtualization: section did not finish (rc ${rc ?? 'none'})`);
  return ok(d.v);
}

export const VirtualizationFact: Fact<Virtualization> = {
  name: 'virtualization',
  gather: true,
  script: VIRTUAL,
  empty: { type: 'NA', role: 'NA', tech_guest: [], tech_host: [] },
  parse: parseVirtualization,
  exposes: {
    group: 'host',
    names: ['virtualization_type', 'virtualization_role'],
    of: (v) => ({ virtualization_type: v.type, virtualization_role: v.role }),
  },
};
