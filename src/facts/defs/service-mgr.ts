/**
 * Ansible's `service_mgr` (module_utils/facts/system/service_mgr.py) on Linux: PID 1's comm
 * names it (`systemd`; `runit-init` is runit, `openrc-init` openrc), unless it is `init` or a
 * shell; then the marker paths: /run/systemd/system (systemd), /sbin/openrc, /etc/init.d
 * (sysvinit), /etc/dinit.d. Ansible's `initctl` lookup (upstart) needs PATH search of a
 * program: `command -v`, a builtin.
 */
import type { Fact } from '../fact.js';
import { readKey, testKey } from '../shell.js';
import { failed, linesOf, ok, type Parsed } from '../text.js';

const SERVICE_MGR = [
  'fm_rc=0',
  readKey('comm', '/proc/1/comm'),
  testKey('systemd', '-d', '/run/systemd/system'),
  'if command -v initctl >/dev/null 2>&1 && [ -d /etc/init ]; then echo upstart=1; fi',
  testKey('openrc', '-e', '/sbin/openrc'),
  testKey('sysvinit', '-d', '/etc/init.d'),
  testKey('dinit', '-d', '/etc/dinit.d'),
].join('\n');

const PROC_1_MAP: Readonly<Record<string, string>> = { procd: 'openwrt_init', 'runit-init': 'runit', svscan: 'svc', openrc: 'openrc', 'openrc-init': 'openrc' };

export function parseServiceMgr(text: string, rc: number | null): Parsed<string> {
  const seen = new Map<string, string>();
  for (const line of linesOf(text)) {
    const m = /^([a-z_]+)=(.*)$/.exec(line);
    if (m) seen.set(m[1]!, (m[2] ?? '').trim());
  }
  const comm = seen.get('comm');
  if (comm && /^[A-Za-z0-9._+-]{1,32}$/.test(comm) && comm !== 'init' && !comm.endsWith('sh')) return ok(PROC_1_MAP[comm] ?? comm);
  for (const name of ['systemd', 'upstart', 'openrc', 'sysvinit', 'dinit']) if (seen.has(name)) return ok(name);
  // Ansible's fallback when nothing tells
  return rc === 0 ? ok('service') : failed('service', `service_mgr: section did not finish (rc ${rc ?? 'none'})`);
}

export const ServiceMgrFact: Fact<string> = {
  name: 'service_mgr',
  gather: true,
  script: SERVICE_MGR,
  empty: 'service',
  parse: parseServiceMgr,
  exposes: { group: 'host', names: ['service_mgr'], of: (m) => ({ service_mgr: m }) },
};
