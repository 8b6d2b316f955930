/**
 * The files the gathered facts read (src/facts/defs: platform, distribution, mounts,
 * virtualization, service_mgr) and the package database `package_facts` reads, as a KVM guest
 * of the machine's distribution has them: hostname and kernel identity under
 * /proc/sys/kernel, /etc/hosts, /proc/mounts (the machine's disk included), QEMU's DMI ids, a
 * virtual CPU, systemd's marker directory, and Debian's /etc/debian_version and dpkg status
 * (with auditd installed) or RHEL's rpm list (commands/packages.ts).
 */
import type { SimMachine } from './machine.js';

/** Packages of the simulated hosts: [name, version, arch, section]; auditd is what hardening roles look for. */
export const DEBIAN_PACKAGES: readonly [string, string, string, string][] = [
  ['auditd', '1:3.0.9-1', 'amd64', 'admin'],
  ['libaudit1', '1:3.0.9-1', 'amd64', 'libs'],
  ['libaudit-common', '1:3.0.9-1', 'all', 'libs'],
  ['base-files', '12.4+deb12u8', 'amd64', 'admin'],
  ['openssh-server', '1:9.2p1-2+deb12u3', 'amd64', 'net'],
  ['systemd', '252.31-1~deb12u1', 'amd64', 'admin'],
];

export const RHEL_PACKAGES: readonly { name: string; epoch: number | null; version: string; release: string; arch: string }[] = [
  { name: 'audit', epoch: null, version: '3.1.2', release: '1.el9', arch: 'x86_64' },
  { name: 'audit-libs', epoch: null, version: '3.1.2', release: '1.el9', arch: 'x86_64' },
  { name: 'openssh-server', epoch: null, version: '8.7p1', release: '38.el9', arch: 'x86_64' },
  { name: 'systemd', epoch: null, version: '252', release: '32.el9_4', arch: 'x86_64' },
  { name: 'redhat-release', epoch: null, version: '9.4', release: '0.5.el9', arch: 'x86_64' },
];

function dpkgStatus(): string {
  const installed = DEBIAN_PACKAGES.map(([name, version, arch, section]) =>
    [`Package: ${name}`, 'Status: install ok installed', 'Priority: optional', `Section: ${section}`, 'Maintainer: Debian <debian@example.org>', `Architecture: ${arch}`, `Version: ${version}`, `Description: ${name}`, ' simulated package'].join('\n'),
  );
  // removed with its configuration kept: not installed, so not a package fact
  const removed = ['Package: audispd-plugins', 'Status: deinstall ok config-files', 'Architecture: amd64', 'Version: 1:3.0.9-1'].join('\n');
  return [...installed, removed].join('\n\n') + '\n';
}

function mountsText(m: SimMachine): string {
  const d = m.spec.disk;
  const rhel = m.spec.flavour === 'rhel';
  const rows = [
    'sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0',
    'proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0',
    'udev /dev devtmpfs rw,nosuid,relatime,size=1986636k,nr_inodes=496659,mode=755 0 0',
    'tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=401300k,mode=755 0 0',
    rhel ? '/dev/mapper/rhel-root / xfs rw,relatime,attr2,inode64,logbufs=8,logbsize=32k,noquota 0 0' : '/dev/vda1 / ext4 rw,relatime,errors=remount-ro 0 0',
    ...(d.mount !== '/' ? [`${d.device} ${d.mount} xfs rw,relatime,attr2,inode64,noquota 0 0`] : []),
    'tmpfs /tmp tmpfs rw,nosuid,nodev,size=2006500k,nr_inodes=1048576 0 0',
    // a mount point with a space, as the kernel escapes it (\040)
    'tmpfs /srv/backup\\040copy tmpfs rw,relatime 0 0',
  ];
  return rows.join('\n') + '\n';
}

const CPUINFO = (n: number): string =>
  Array.from({ length: n }, (_, i) =>
    [`processor\t: ${i}`, 'vendor_id\t: GenuineIntel', 'cpu family\t: 6', 'model\t\t: 106', 'model name\t: Intel Xeon Processor (Icelake)', 'flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep lm hypervisor', ''].join('\n'),
  ).join('\n');

export function installHostFactFiles(m: SimMachine): void {
  const fs = m.fs;
  const s = m.spec;
  const rhel = s.flavour === 'rhel';
  fs.provide('/proc/sys/kernel/hostname', () => `${s.name}\n`);
  fs.put('/proc/sys/kernel/ostype', 'Linux\n');
  fs.put('/proc/sys/kernel/version', rhel ? '#1 SMP PREEMPT_DYNAMIC Wed Apr 3 12:00:00 EDT 2024\n' : '#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-10)\n');
  if (/(x86_64|amd64)$/.test(s.kernelRelease)) fs.put('/proc/sys/kernel/arch', 'x86_64\n');
  fs.put('/etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${s.name}.fleet.example\t${s.name}\n\n# The following lines are desirable for IPv6 capable hosts\n::1     localhost ip6-localhost ip6-loopback\n`);
  fs.provide('/proc/mounts', () => mountsText(m));
  fs.put('/sys/devices/virtual/dmi/id/sys_vendor', 'QEMU\n');
  fs.put('/sys/devices/virtual/dmi/id/product_name', 'Standard PC (Q35 + ICH9, 2009)\n');
  fs.put('/sys/devices/virtual/dmi/id/bios_vendor', 'SeaBIOS\n');
  fs.put('/proc/cpuinfo', CPUINFO(2));
  fs.put('/proc/1/cgroup', '0::/init.scope\n');
  fs.mkdirp('/run/systemd/system');
  fs.mkdirp('/etc/init.d');
  if (!rhel) {
    fs.put('/etc/debian_version', '12.8\n');
    fs.put('/var/lib/dpkg/status', dpkgStatus());
  }
}
