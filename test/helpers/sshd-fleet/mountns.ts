/**
 * Each test host's sshd runs in its own private mount namespace in which the host's fake root
 * IS the filesystem: /etc/audit, the auditd unit directories, /var/log and /proc are bind mounts
 * of `<host>/root/...`. Logins then read the host's files at their real paths with no program in
 * between: no rewriting login shell, no path-translating wrappers around cat/grep, so a command
 * costs the host what it would cost on a real one, whichever tool sent it (the benchmark's
 * baselines and fleetmend alike), and the machine's own audit setup is never seen (issue 17.8).
 *
 * The mounts are made once per host when its sshd starts (`unshare -m --propagation private`),
 * never per login, and live only in that namespace: they vanish with the sshd and its sessions,
 * and nothing is mounted in the machine's own namespace (teardown checks before deleting).
 *
 * /etc itself stays the machine's (accounts, sudoers, PAM, ld.so): the namespace's /etc is a
 * directory of symlinks into a bind of the real /etc (`<ns>/realetc`), built once per fleet,
 * with real directories only where a host's own tree is mounted (`audit`, `systemd/system`).
 * The fake /proc links the machine's system entries (meminfo, self, sys, …) into a procfs
 * mounted at `<ns>/realproc`, beside the host's own process directories.
 */
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The paths of the namespace's mirror of /etc, relative to /etc, replaced by the host's own directory. */
const ETC_OWNED = ['audit', 'systemd/system'] as const;

/** Where systemd units live on the machine (deduplicated: on merged-/usr /lib is /usr/lib). */
export function unitDirs(): string[] {
  const out = new Map<string, string>();
  for (const d of ['/usr/lib/systemd/system', '/lib/systemd/system']) {
    if (!existsSync(d)) continue;
    const real = realpathSync(d);
    if (!out.has(real)) out.set(real, d);
  }
  return [...out.values()];
}

export interface NsLayout {
  /** `<fleet>/ns`: the shared mirror and the mount points. */
  dir: string;
  /** Mirror of /etc (symlinks into realEtc), mounted over /etc in each namespace. */
  etc: string;
  /** Mount point of the machine's /etc inside each namespace. */
  realEtc: string;
  /** Mount point of a procfs inside each namespace (the fake /proc links into it). */
  realProc: string;
}

export function nsLayout(fleetDir: string): NsLayout {
  const dir = join(fleetDir, 'ns');
  return { dir, etc: join(dir, 'etc'), realEtc: join(dir, 'realetc'), realProc: join(dir, 'realproc') };
}

/**
 * A symlink for /etc/NAME pointing at the same thing seen through realEtc. A relative link of
 * the machine's own (`/etc/mtab -> ../proc/self/mounts`) is made absolute first: seen from
 * realEtc it would point somewhere else.
 */
function linkTarget(layout: NsLayout, rel: string): string {
  const real = join('/etc', rel);
  const st = lstatSync(real);
  if (st.isSymbolicLink()) {
    const t = readlinkSync(real);
    return t.startsWith('/') ? t : resolve(join('/etc', rel, '..'), t);
  }
  return join(layout.realEtc, rel);
}

/** Mirrors directory `rel` of /etc into layout.etc, down to the owned paths. */
async function mirror(layout: NsLayout, rel: string): Promise<void> {
  const here = join(layout.etc, rel);
  await mkdir(here, { recursive: true, mode: 0o755 });
  const owned = ETC_OWNED.filter((o) => o === rel || o.startsWith(rel === '' ? '' : `${rel}/`));
  const entries = existsSync(join('/etc', rel)) ? readdirSync(join('/etc', rel)) : [];
  const names = new Set([...entries, ...owned.map((o) => (rel === '' ? o : o.slice(rel.length + 1)).split('/')[0] as string)]);
  for (const name of names) {
    const child = rel === '' ? name : `${rel}/${name}`;
    if (ETC_OWNED.includes(child as (typeof ETC_OWNED)[number])) await mkdir(join(layout.etc, child), { mode: 0o755 });
    else if (ETC_OWNED.some((o) => o.startsWith(`${child}/`))) await mirror(layout, child);
    else await symlink(linkTarget(layout, child), join(layout.etc, child));
  }
}

/** Builds the shared mirror and mount points (once per fleet, before any sshd starts). */
export async function buildNsLayout(fleetDir: string): Promise<NsLayout> {
  const layout = nsLayout(fleetDir);
  await mkdir(layout.dir, { mode: 0o755 });
  await Promise.all([mkdir(layout.realEtc, { mode: 0o755 }), mkdir(layout.realProc, { mode: 0o755 })]);
  await mirror(layout, '');
  return layout;
}

/** The host's fake root must have these before its sshd starts (they are bind sources). */
export const ROOT_DIRS = ['etc/audit', 'etc/systemd/system', 'lib/systemd/system', 'var/log', 'proc'] as const;

/**
 * `sh -c` text run by `unshare -m --propagation private` for one host: the mounts, then
 * `exec "$@"` (sshd, so the recorded PID stays the sshd's). /proc is replaced last: mount(8)
 * reads the mount table through it.
 */
export function hostMountScript(layout: NsLayout, rootDir: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const lines = [
    'set -e',
    `mount -t proc proc ${q(layout.realProc)}`,
    `mount --bind /etc ${q(layout.realEtc)}`,
    `mount --bind ${q(layout.etc)} /etc`,
    ...ETC_OWNED.map((o) => `mount --bind ${q(join(rootDir, 'etc', o))} ${q(join('/etc', o))}`),
    ...unitDirs().map((d) => `mount --bind ${q(join(rootDir, 'lib/systemd/system'))} ${q(d)}`),
    `mount --bind ${q(join(rootDir, 'var/log'))} /var/log`,
    `mount --bind ${q(join(rootDir, 'proc'))} /proc`,
    'exec "$@"',
  ];
  return lines.join('\n');
}

/** Whether anything is mounted at or under `dir` in this (the machine's) namespace. */
export function mountedUnder(dir: string, mountinfo: string): boolean {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mountinfo.split('\n').some((l) => {
    const point = l.split(' ')[4];
    return point !== undefined && (point === dir || point.startsWith(prefix));
  });
}
