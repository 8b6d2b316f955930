/**
 * The root-only system pieces of the real-sshd test fleet: a throwaway account, its sudoers
 * file, a network namespace, and finding/ending the processes a fleet started — always by PID.
 * Every piece is recorded in a registry file so a later run can clean up after a fleet whose
 * process was killed (SIGKILL leaves no chance to run `stop()`).
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountedUnder } from './mountns.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs argv (no shell), collecting output; never rejects on a non-zero exit. */
export function run(argv: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('run: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

export async function mustRun(argv: readonly string[], input?: string): Promise<string> {
  const r = await run(argv, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** shadow's tools lock /etc/passwd; parallel test files contend for it, so retry. */
async function runLocked(argv: readonly string[], input?: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await run(argv, input === undefined ? {} : { input });
    if (r.code === 0) return;
    const busy = /lock|try again|currently used/i.test(r.stderr);
    if (!busy || attempt >= 40) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    await sleep(100 + Math.random() * 200);
  }
}

export async function createUser(name: string, home: string, password: string | null, shell = '/bin/bash'): Promise<number> {
  await runLocked(['useradd', '--system', '--no-create-home', '--home-dir', home, '--shell', shell, '--user-group', name]);
  // Key-only accounts get `*`, not `!`: sshd treats a `!` password field as a locked account.
  if (password === null) await runLocked(['usermod', '-p', '*', name]);
  else await runLocked(['chpasswd'], `${name}:${password}\n`);
  return Number((await mustRun(['id', '-u', name])).trim());
}

export async function setUserPassword(name: string, password: string): Promise<void> {
  await runLocked(['chpasswd'], `${name}:${password}\n`);
}

export function deleteUserSync(name: string): void {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      execFileSync('userdel', [name], { stdio: 'pipe' });
      return;
    } catch (e) {
      const msg = String((e as { stderr?: Buffer }).stderr ?? e);
      if (/does not exist/.test(msg)) return;
      execFileSync('sleep', ['0.2']);
    }
  }
}

export type SudoMode = 'nopasswd' | 'password' | 'none';

export function sudoersPath(user: string): string {
  // sudo skips files in /etc/sudoers.d whose name contains a dot, so no extension.
  return `/etc/sudoers.d/fleetmend-test-${user}`;
}

/** Installs the test user's sudoers file after `visudo -c` accepted it. */
export async function writeSudoers(user: string, binDir: string, mode: SudoMode): Promise<void> {
  const lines = [
    '# fleetmend sshd test fleet; removed by the harness',
    // The fakes must stay first on PATH and still know which host they are under sudo.
    `Defaults:${user} secure_path="${binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"`,
    `Defaults:${user} env_keep += "SSH_CONNECTION"`,
    `Defaults:${user} lecture = never`,
    // Every become with a password must present it (no cached credentials between tests).
    `Defaults:${user} timestamp_timeout = 0`,
  ];
  if (mode === 'nopasswd') lines.push(`${user} ALL=(ALL:ALL) NOPASSWD: ALL`);
  if (mode === 'password') lines.push(`${user} ALL=(ALL:ALL) ALL`);
  const final = sudoersPath(user);
  const tmp = `${final}.tmp`;
  writeFileSync(tmp, lines.join('\n') + '\n', { mode: 0o440 });
  const check = await run(['visudo', '-c', '-q', '-f', tmp]);
  if (check.code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`visudo rejected the test sudoers file: ${check.stderr || check.stdout}`);
  }
  renameSync(tmp, final);
}

export async function createNetns(name: string): Promise<void> {
  await mustRun(['ip', 'netns', 'add', name]);
  await mustRun(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
}

export function deleteNetnsSync(name: string): void {
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'pipe' });
  } catch {
    /* already gone */
  }
}

interface ProcInfo {
  pid: number;
  ppid: number;
  uid: number;
}

function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1];
      const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      if (ppid && uid) out.push({ pid: Number(entry), ppid: Number(ppid), uid: Number(uid) });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/**
 * The processes a fleet is responsible for: its sshd masters, everything they forked, and
 * anything running as the fleet's own throwaway user (session processes reparented to init
 * once their sshd died).
 */
export function fleetProcesses(rootPids: readonly number[], uid: number | null): number[] {
  const procs = listProcesses();
  const mine = new Set(rootPids.filter((p) => procs.some((x) => x.pid === p)));
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!mine.has(p.pid) && (mine.has(p.ppid) || (uid !== null && p.uid === uid))) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  return [...mine];
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

export async function killFleetProcesses(rootPids: readonly number[], uid: number | null): Promise<void> {
  let pids = fleetProcesses(rootPids, uid);
  signal(pids, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    pids = pids.filter(isAlive);
    if (pids.length === 0) break;
    await sleep(50);
  }
  // Late forks (a connection accepted during shutdown) are caught by the second sweep.
  signal([...new Set([...pids, ...fleetProcesses(rootPids, uid)])].filter(isAlive), 'SIGKILL');
  const until = Date.now() + 3000;
  while (Date.now() < until && fleetProcesses(rootPids, uid).some(isAlive)) await sleep(50);
}

export function killFleetProcessesSync(rootPids: readonly number[], uid: number | null): void {
  signal(fleetProcesses(rootPids, uid), 'SIGKILL');
}

// ---- registry of live fleets, for cleaning up after killed test processes ----

export const REGISTRY_DIR = '/run/fleetmend-sshd-fleet';

export interface RegistryEntry {
  ownerPid: number;
  user: string;
  uid: number | null;
  netns: string | null;
  dir: string;
  keepDir: boolean;
  sshdPids: number[];
}

export function registryWrite(e: RegistryEntry): void {
  mkdirSync(REGISTRY_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(`${REGISTRY_DIR}/${e.user}.json`, JSON.stringify(e));
}

export function registryRemove(user: string): void {
  rmSync(`${REGISTRY_DIR}/${user}.json`, { force: true });
}

/** Everything a fleet left behind, synchronously (also usable from an exit handler). */
export function teardownSync(e: RegistryEntry): void {
  killFleetProcessesSync(e.sshdPids, e.uid);
  rmSync(sudoersPath(e.user), { force: true });
  rmSync(`${sudoersPath(e.user)}.tmp`, { force: true });
  deleteUserSync(e.user);
  if (e.netns) deleteNetnsSync(e.netns);
  if (!e.keepDir) {
    // The hosts' mounts live only in their sshds' private namespaces; were one ever visible
    // here, deleting the fleet dir would delete through it (the namespace binds /etc).
    const mounted = mountedUnder(e.dir, readFileSync('/proc/self/mountinfo', 'utf8'));
    if (mounted) process.stderr.write(`sshd-fleet: something is mounted under ${e.dir}; left in place\n`);
    else rmSync(e.dir, { recursive: true, force: true });
  }
  registryRemove(e.user);
}

/** Removes the leftovers of fleets whose owning process no longer exists. */
export function reapStaleFleets(): void {
  if (!existsSync(REGISTRY_DIR)) return;
  for (const f of readdirSync(REGISTRY_DIR)) {
    if (!f.endsWith('.json')) continue;
    try {
      const e = JSON.parse(readFileSync(`${REGISTRY_DIR}/${f}`, 'utf8')) as RegistryEntry;
      if (!isAlive(e.ownerPid)) teardownSync({ ...e, sshdPids: e.sshdPids.filter((p) => isSshd(p, e.dir)) });
    } catch {
      /* another process is reaping it */
    }
  }
}

/** A recorded PID may have been reused: only kill it if it is still our sshd. */
function isSshd(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}
