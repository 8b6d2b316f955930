/**
 * Ansible's platform facts (module_utils/facts/system/platform.py) without uname or python:
 * the kernel's own /proc/sys/kernel files give what uname(2) does (`arch` is the machine,
 * kernel >= 6.1; older kernels: taken from the release string by the Ansible mapping), and the
 * /etc/hosts lines naming the host give what socket.getfqdn() finds there (the first name with
 * a dot on the host's line; DNS is not asked, see README).
 */
import type { Fact } from '../fact.js';
import { readKey } from '../shell.js';
import { clip, failed, linesOf, ok, type Parsed } from '../text.js';

export interface PlatformInfo {
  system?: string;
  machine?: string;
  kernel_version?: string;
  nodename?: string;
  /** `/etc/hosts` entry lines (the first MAX_HOSTS_LINES), verbatim up to 200 characters. */
  hosts_lines: string[];
}

const PLATFORM = [
  'fm_rc=0',
  readKey('ostype', '/proc/sys/kernel/ostype'),
  readKey('arch', '/proc/sys/kernel/arch'),
  readKey('version', '/proc/sys/kernel/version'),
  'fm_h=; read -r fm_h < /proc/sys/kernel/hostname 2>/dev/null || fm_rc=2',
  `printf 'nodename=%s\\n' "$fm_h"`,
  // every entry line: /etc/hosts is short, and the controller finds the host's line by its names
  'if [ -r /etc/hosts ]; then',
  `  while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in \\#*|'') ;; *) printf 'hosts=%s\\n' "$fm_l";; esac; done < /etc/hosts`,
  'fi',
].join('\n');

const MAX_HOSTS_LINES = 200;

export function parsePlatform(text: string, rc: number | null): Parsed<PlatformInfo> {
  const p: PlatformInfo = { hosts_lines: [] };
  for (const line of linesOf(text)) {
    const m = /^(ostype|arch|version|nodename|hosts)=(.*)$/.exec(line);
    if (!m) continue;
    const v = clip((m[2] ?? '').trim(), 200);
    if (m[1] === 'hosts') {
      if (p.hosts_lines.length < MAX_HOSTS_LINES) p.hosts_lines.push(v);
    } else if (v === '') continue;
    else if (m[1] === 'ostype') p.system = v;
    else if (m[1] === 'arch' && /^[A-Za-z0-9_]{1,32}$/.test(v)) p.machine = v;
    else if (m[1] === 'version') p.kernel_version = v;
    else if (m[1] === 'nodename' && /^[A-Za-z0-9._-]{1,253}$/.test(v)) p.nodename = v;
  }
  if (p.nodename === undefined) return failed(p, rc === 2 ? 'cannot read /proc/sys/kernel/hostname' : `platform: no host name (${clip(text.trim(), 80) || 'empty output'})`);
  return ok(p);
}

/** socket.getfqdn() from /etc/hosts: on the first line naming the host, the first name with a dot. */
export function fqdnOf(nodename: string, hostsLines: readonly string[]): string {
  const short = nodename.split('.')[0] ?? nodename;
  for (const line of hostsLines) {
    const names = line.split('#')[0]!.trim().split(/\s+/).slice(1);
    if (!names.includes(nodename) && !names.includes(short)) continue;
    return names.find((n) => n.includes('.')) ?? nodename;
  }
  return nodename;
}

export const PlatformFact: Fact<PlatformInfo> = {
  name: 'platform',
  gather: true,
  script: PLATFORM,
  empty: { hosts_lines: [] },
  parse: parsePlatform,
  exposes: {
    group: 'host',
    names: ['nodename', 'hostname', 'fqdn', 'machine'],
    of: (p) =>
      p.nodename === undefined
        ? { machine: p.machine }
        : { nodename: p.nodename, hostname: p.nodename.split('.')[0], fqdn: fqdnOf(p.nodename, p.hosts_lines), machine: p.machine },
  },
};
