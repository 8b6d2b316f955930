/**
 * The host's own package manager: dpkg-query/apt-get/apt-cache on Debian, rpm/dnf/yum on RHEL
 * (what `package`/`apt`/`dnf`/`yum` run). State per machine: installed versions and the
 * repository's candidate versions; only root installs or removes (apt-get: "Could not open
 * lock file ... (13: Permission denied)", dnf: "This command has to be run with superuser
 * privileges").
 */
import type { SimMachine } from '../machine.js';
import type { CommandContext, CommandRegistry } from '../shell.js';

export interface PackageState {
  installed: Map<string, string>;
  /** The repository's newest version of each package it has. */
  available: Map<string, string>;
}

const DEBIAN_INSTALLED: Record<string, string> = {
  auditd: '1:3.0.9-1',
  libaudit1: '1:3.0.9-1',
  'openssh-server': '1:9.2p1-2+deb12u3',
  cron: '3.0pl1-162',
  'systemd-timesyncd': '252.30-1~deb12u2',
};
const DEBIAN_REPO: Record<string, string> = {
  ...DEBIAN_INSTALLED,
  'openssh-server': '1:9.2p1-2+deb12u5',
  'audispd-plugins': '1:3.0.9-1',
  aide: '0.18.3-1+deb12u3',
  chrony: '4.3-2+deb12u1',
  rsyslog: '8.2302.0-1+deb12u1',
};
const RHEL_INSTALLED: Record<string, string> = {
  audit: '3.1.2-2.el9',
  'audit-libs': '3.1.2-2.el9',
  'openssh-server': '8.7p1-38.el9',
  cronie: '1.5.7-11.el9',
  chrony: '4.5-1.el9',
  rsyslog: '8.2310.0-4.el9',
};
const RHEL_REPO: Record<string, string> = {
  ...RHEL_INSTALLED,
  audit: '3.1.5-1.el9',
  'audit-libs': '3.1.5-1.el9',
  'audispd-plugins': '3.1.5-1.el9',
  aide: '0.16-101.el9',
};

const states = new WeakMap<SimMachine, PackageState>();

/** The machine's package database (from its spec, else the flavour's defaults), created on first use. */
export function packageState(m: SimMachine): PackageState {
  let s = states.get(m);
  if (!s) {
    const rhel = m.spec.flavour === 'rhel';
    const installed = m.spec.packages?.installed ?? (rhel ? RHEL_INSTALLED : DEBIAN_INSTALLED);
    const repo = m.spec.packages?.available ?? (rhel ? RHEL_REPO : DEBIAN_REPO);
    s = { installed: new Map(Object.entries(installed)), available: new Map(Object.entries({ ...installed, ...repo })) };
    states.set(m, s);
  }
  return s;
}

/** The `\n` and `\t` escapes dpkg-query's and rpm's formats take. */
const unescapeFormat = (f: string) => f.replace(/\\n/g, '\n').replace(/\\t/g, '\t');

const names = (argv: string[]) => argv.slice(1).filter((a) => !a.startsWith('-'));

/** `dpkg-query -W -f='${Package} ${Status} ${Version}\n' NAME…` (the fields dpkg-query knows). */
async function dpkgQuery(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  const fi = args.findIndex((a) => a === '-f' || a.startsWith('--showformat=') || a.startsWith('-f'));
  let format = '${Package}\t${Version}\n';
  if (fi >= 0) format = args[fi] === '-f' ? (args[fi + 1] ?? '') : (args[fi] as string).replace(/^(--showformat=|-f)/, '');
  const pkgs = args.filter((a, i) => !a.startsWith('-') && !(fi >= 0 && args[fi] === '-f' && i === fi + 1));
  const st = packageState(ctx.machine);
  let rc = 0;
  for (const p of pkgs) {
    const v = st.installed.get(p);
    if (v === undefined) {
      await ctx.stderr.write(`dpkg-query: no packages found matching ${p}\n`);
      rc = 1;
      continue;
    }
    const fields: Record<string, string> = { Package: p, Status: 'install ok installed', Version: v };
    await ctx.stdout.write(unescapeFormat(format.replace(/\$\{([A-Za-z]+)\}/g, (m, k: string) => fields[k] ?? '')));
  }
  return rc;
}

/** `apt-cache policy NAME…`: Installed and Candidate lines. */
async function aptCache(ctx: CommandContext): Promise<number> {
  const [verb, ...pkgs] = names(ctx.argv);
  if (verb !== 'policy') {
    await ctx.stderr.write(`E: Invalid operation ${verb ?? ''}\n`);
    return 100;
  }
  const st = packageState(ctx.machine);
  for (const p of pkgs) {
    const cand = st.available.get(p);
    if (cand === undefined) continue; // apt-cache prints nothing for an unknown package
    await ctx.stdout.write(`${p}:\n  Installed: ${st.installed.get(p) ?? '(none)'}\n  Candidate: ${cand}\n`);
  }
  return 0;
}

/** apt-get install|remove|purge [-y] NAME…; `--only-upgrade` installs nothing new. */
async function aptGet(ctx: CommandContext): Promise<number> {
  const [verb, ...pkgs] = names(ctx.argv);
  if (ctx.uid !== 0) {
    await ctx.stderr.write('E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), are you root?\n');
    return 100;
  }
  const st = packageState(ctx.machine);
  if (verb === 'update') return 0;
  if (verb === 'install') {
    const missing = pkgs.find((p) => !st.available.has(p));
    if (missing) {
      await ctx.stderr.write(`E: Unable to locate package ${missing}\n`);
      return 100;
    }
    const onlyUpgrade = ctx.argv.includes('--only-upgrade');
    for (const p of pkgs) if (!onlyUpgrade || st.installed.has(p)) st.installed.set(p, st.available.get(p) as string);
    await ctx.stdout.write(`Reading package lists...\nSetting up ${pkgs.join(', ')} ...\n`);
    return 0;
  }
  if (verb === 'remove' || verb === 'purge') {
    for (const p of pkgs) st.installed.delete(p);
    await ctx.stdout.write(`Reading package lists...\nRemoving ${pkgs.join(', ')} ...\n`);
    return 0;
  }
  await ctx.stderr.write(`E: Invalid operation ${verb ?? ''}\n`);
  return 100;
}

/** `rpm -qa --qf FORMAT` (package_facts): every installed package; EPOCH is `(none)`, ARCH x86_64. */
async function rpmQueryAll(ctx: CommandContext, format: string): Promise<number> {
  const out: string[] = [];
  for (const [name, v] of packageState(ctx.machine).installed) {
    const [version, release] = v.split(/-(?=[^-]*$)/);
    const fields: Record<string, string> = { NAME: name, EPOCH: '(none)', EPOCHNUM: '0', VERSION: version ?? v, RELEASE: release ?? '', ARCH: 'x86_64' };
    out.push(unescapeFormat(format.replace(/%\{([A-Z]+)\}/g, (_m, k: string) => fields[k] ?? '(none)')));
  }
  await ctx.stdout.write(out.join(''));
  return 0;
}

/** `rpm -q [--qf FMT] NAME…`: "package X is not installed" on stdout, rc = number missing. */
async function rpm(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  if (args[0] === '-qa' && args.includes('--qf')) return rpmQueryAll(ctx, args[args.indexOf('--qf') + 1] ?? '');
  if (args[0] !== '-q') {
    await ctx.stderr.write('rpm: only -q is modelled\n');
    return 1;
  }
  const qi = args.indexOf('--qf');
  const format = qi >= 0 ? (args[qi + 1] ?? '') : '%{NAME}-%{VERSION}-%{RELEASE}.x86_64\n';
  const pkgs = args.slice(1).filter((a, i) => !a.startsWith('-') && !(qi >= 0 && i + 1 === qi + 1));
  const st = packageState(ctx.machine);
  let missing = 0;
  for (const p of pkgs) {
    const v = st.installed.get(p);
    if (v === undefined) {
      await ctx.stdout.write(`package ${p} is not installed\n`);
      missing++;
      continue;
    }
    const [version, release] = v.split(/-(?=[^-]*$)/);
    const fields: Record<string, string> = { NAME: p, VERSION: version ?? v, RELEASE: release ?? '' };
    await ctx.stdout.write(unescapeFormat(format.replace(/%\{([A-Z]+)\}/g, (m, k: string) => fields[k] ?? '')));
  }
  return missing;
}

/** dnf/yum install|remove|upgrade|check-update [-y] [-q] NAME…; check-update exits 100 when updates exist. */
async function dnf(ctx: CommandContext): Promise<number> {
  const [verb, ...pkgs] = names(ctx.argv);
  const st = packageState(ctx.machine);
  if (verb === 'check-update') {
    const ups = pkgs.filter((p) => st.installed.has(p) && st.available.get(p) !== st.installed.get(p));
    for (const p of ups) await ctx.stdout.write(`${p}.x86_64`.padEnd(40) + `${st.available.get(p)}`.padEnd(24) + 'baseos\n');
    return ups.length ? 100 : 0;
  }
  if (ctx.uid !== 0) {
    await ctx.stderr.write('Error: This command has to be run with superuser privileges (under the root user on most systems).\n');
    return 1;
  }
  if (verb === 'install' || verb === 'upgrade' || verb === 'update') {
    const missing = pkgs.find((p) => !st.available.has(p));
    if (missing) {
      await ctx.stderr.write(`Error: Unable to find a match: ${missing}\n`);
      return 1;
    }
    for (const p of pkgs) if (verb === 'install' || st.installed.has(p)) st.installed.set(p, st.available.get(p) as string);
    await ctx.stdout.write('Complete!\n');
    return 0;
  }
  if (verb === 'remove' || verb === 'erase') {
    for (const p of pkgs) st.installed.delete(p);
    await ctx.stdout.write('Complete!\n');
    return 0;
  }
  await ctx.stderr.write(`No such command: ${verb ?? ''}. Please use /usr/bin/dnf --help\n`);
  return 1;
}

export function registerPackages(r: CommandRegistry): void {
  r.register('dpkg-query', dpkgQuery).register('apt-get', aptGet).register('apt-cache', aptCache);
  r.register('rpm', rpm).register('dnf', dnf).register('yum', dnf);
}
