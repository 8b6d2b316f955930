/**
 * What `package_facts` and `service_facts` run on a simulated host: `rpm -qa --qf FORMAT` (RHEL
 * hosts; Debian ones have dpkg's status file, sim/host-facts.ts) and systemd's two listings.
 */
import type { CommandContext, CommandRegistry } from '../shell.js';
import { RHEL_PACKAGES } from '../host-facts.js';

/** rpm's --qf: `%{TAG}` and the `\t`/`\n` escapes; EPOCH of a package without one prints `(none)`. */
function queryFormat(qf: string, p: (typeof RHEL_PACKAGES)[number]): string {
  const tags: Record<string, string> = { NAME: p.name, EPOCH: p.epoch === null ? '(none)' : String(p.epoch), EPOCHNUM: String(p.epoch ?? 0), VERSION: p.version, RELEASE: p.release, ARCH: p.arch };
  return qf.replace(/%\{([A-Z]+)\}/g, (_m, t: string) => tags[t] ?? '(none)').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

async function rpm(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  const qf = args[args.indexOf('--qf') + 1];
  if (!args.includes('-qa') || !args.includes('--qf') || qf === undefined) {
    await ctx.stderr.write('rpm: only `rpm -qa --qf FORMAT` is simulated\n');
    return 1;
  }
  await ctx.stdout.write(RHEL_PACKAGES.map((p) => queryFormat(qf, p)).join(''));
  return 0;
}

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

export function registerPackages(r: CommandRegistry): void {
  r.register('rpm', rpm);
}
