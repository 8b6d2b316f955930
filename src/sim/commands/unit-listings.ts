/**
 * What `service_facts` runs on a simulated host: systemd's two listings (`systemctl list-units
 * --type service --all --plain`, `list-unit-files --type service`), auditd's state included.
 */
import type { CommandContext } from '../shell.js';

/** Services besides auditd a simulated host runs: [unit, unit-file state, sub state]. */
const UNITS: readonly [string, string, string][] = [
  ['cron.service', 'enabled', 'running'],
  ['ssh.service', 'enabled', 'running'],
  ['systemd-journald.service', 'static', 'running'],
  ['rsync.service', 'disabled', 'dead'],
];

/** `systemctl list-units --type service --all --plain` and `list-unit-files --type service`. */
export async function systemctlList(ctx: CommandContext, verb: 'list-units' | 'list-unit-files', auditd: { active: string; sub: string }): Promise<number> {
  const rows: string[] = [];
  const all: [string, string, string, string][] = [['auditd.service', 'enabled', auditd.active, auditd.sub], ...UNITS.map(([u, f, sub]): [string, string, string, string] => [u, f, sub === 'running' ? 'active' : 'inactive', sub])];
  if (verb === 'list-units') {
    rows.push('UNIT LOAD ACTIVE SUB DESCRIPTION');
    for (const [u, , active, sub] of all) rows.push(`${u} loaded ${active} ${sub} ${u.replace('.service', '')} service`);
    rows.push('', `${all.length} loaded units listed.`);
  } else {
    rows.push('UNIT FILE STATE VENDOR PRESET');
    for (const [u, f] of all) rows.push(`${u} ${f} enabled`);
    rows.push('getty@.service enabled enabled', '', `${all.length + 1} unit files listed.`);
  }
  await ctx.stdout.write(rows.join('\n') + '\n');
  return 0;
}
