/**
 * /proc/mounts as Ansible's `mounts` (module_utils/facts/hardware/linux.py get_mount_facts):
 * device, mount, fstype, options per line, octal escapes (`\040` for a space) decoded as the
 * kernel writes them. Ansible adds sizes from statvfs(3), which needs a program here (df):
 * they are left out, so a task reading `size_available` fails as undefined instead of reading 0.
 */
import type { Fact } from '../fact.js';
import { readFile } from '../shell.js';
import { describe, eachLine, failed, ok, type Parsed } from '../text.js';

export interface Mount {
  device: string;
  mount: string;
  fstype: string;
  options: string;
  dump: number;
  passno: number;
}

/** A host with more mounts than this (container hosts) keeps the first ones. */
export const MAX_MOUNTS = 2000;

/** The kernel's mangle() in /proc/mounts: space, tab, newline and backslash as `\ooo`. */
function unmangle(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMounts(text: string, rc: number | null): Parsed<Mount[]> {
  const mounts: Mount[] = [];
  let bad = 0;
  for (const line of eachLine(text, MAX_MOUNTS * 2)) {
    if (line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f.length > 6 || !(f[1] ?? '').startsWith('/')) {
      bad++;
      continue;
    }
    if (mounts.length < MAX_MOUNTS) {
      mounts.push({ device: unmangle(f[0]!), mount: unmangle(f[1]!), fstype: f[2]!, options: f[3]!, dump: Number(f[4] ?? 0) || 0, passno: Number(f[5] ?? 0) || 0 });
    }
  }
  if (rc !== 0 || (mounts.length === 0 && text.trim() !== '')) return failed(mounts, `mounts: ${describe(text)}`);
  if (bad > 0) return failed(mounts, `mounts: ${bad} line(s) not understood`);
  return ok(mounts);
}

export const MountsFact: Fact<Mount[]> = {
  name: 'mounts',
  gather: true,
  script: readFile('/proc/mounts'),
  empty: [],
  parse: parseMounts,
  exposes: { group: 'host', names: ['mounts'], of: (m) => ({ mounts: m.map((x) => ({ ...x })) }) },
};
