/**
 * Interruption (issue 7 §2), with the built CLI as a child process against a simulated fleet in
 * this process: SIGINT mid-run stops starting hosts, lets the hosts in flight finish, records
 * what happened and exits 130; `--resume RUN_ID` and `--limit @retryfile` then finish the rest so
 * that every host is done exactly once (counted on the simulated hosts' filesystems). A second
 * signal aborts the commands in flight and the process exits at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFleet, type Fault, type Fleet } from '../../src/sim/index.js';
import { openStore, type StoredRun } from '../../src/store/index.js';
import { CLI_BIN as CLI } from '../helpers/cli.js';

const MARK = '/tmp/fleetmend-applied';
const children: ChildProcess[] = [];
const cleanup: (() => Promise<void>)[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  for (const f of cleanup.splice(0)) await f();
});

interface Child {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Waits (bounded) until stderr matches. */
  waitFor(re: RegExp, timeoutMs: number): Promise<boolean>;
}

function startCli(args: string[]): Child {
  if (!existsSync(CLI)) throw new Error('build first: npm run build');
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(err) && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 25));
      return re.test(err);
    },
  };
}

async function settle(c: Child, timeoutMs: number): Promise<number | null | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), timeoutMs)));
  try {
    return await Promise.race([c.exited, timeout]);
  } finally {
    clearTimeout(t);
  }
}

async function fleetWith(n: number, faults: Fault[]): Promise<{ fleet: Fleet; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-intr-'));
  const names = Array.from({ length: n }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
  const fleet = await startFleet({ scenario: 'healthy', hosts: n, dir: join(dir, 'fleet'), loginDelayScale: 0, faults: Object.fromEntries(names.map((x) => [x, faults])) });
  cleanup.push(async () => {
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { fleet, dir };
}

/** Times the task ran on a host: lines appended to MARK on its filesystem. */
function applied(fleet: Fleet, host: string): number {
  const fs = fleet.host(host).machine.fs;
  if (!fs.stat(MARK)) return 0;
  return fs.read(MARK, true).split('\n').filter((l) => l === 'applied').length;
}

function playbook(dir: string, task: string): string {
  const file = join(dir, 'apply.yml');
  writeFileSync(file, ['- name: apply once', '  hosts: all', '  tasks:', '    - name: mark', `      shell: ${task}`, ''].join('\n'));
  return file;
}

function readRun(stateDir: string, id: string): StoredRun {
  const store = openStore(stateDir);
  try {
    return store.getRun(id);
  } finally {
    store.close();
  }
}

const runArgs = (fleet: Fleet, pb: string, stateDir: string, extra: string[] = []) => [
  'run', pb, '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--state-dir', stateDir,
  '--forks', '2', '--connect-timeout', '3', '--command-timeout', '10', ...extra,
];

/** Runs the playbook, SIGINTs it once the first host is done; returns the interrupted run. */
async function interruptedRun(fleet: Fleet, pb: string, stateDir: string) {
  const c = startCli(runArgs(fleet, pb, stateDir));
  expect(await c.waitFor(/^changed\s+node-/m, 20_000), c.stderr()).toBe(true);
  c.proc.kill('SIGINT');
  const code = await settle(c, 20_000);
  expect(code, c.stderr()).toBe(130);
  expect(c.stderr()).toMatch(/SIGINT: no new hosts will be started/);
  const id = /fleetmend run (\S+):/.exec(c.stderr())?.[1];
  expect(id).toBeDefined();
  const retry = /retry file: (\S+)/.exec(c.stderr())?.[1];
  return { id: id!, retry, stderr: c.stderr() };
}

describe('SIGINT during a playbook run, then resume', () => {
  it('first SIGINT: hosts in flight finish, the rest are recorded interrupted, exit 130; --resume does each remaining host exactly once', async () => {
    // 1.5 s per command, forks 2, 8 hosts: the run is mid-way when the first host is done
    const { fleet, dir } = await fleetWith(8, [{ kind: 'slow', perCommandMs: 1500 }]);
    const stateDir = join(dir, 'state');
    const pb = playbook(dir, `echo applied >> ${MARK}`);
    const first = await interruptedRun(fleet, pb, stateDir);

    const run = readRun(stateDir, first.id);
    expect(run.status).toBe('interrupted');
    expect(run.finished).toBe(true);
    expect(run.pending).toEqual([]);
    expect(run.hosts).toHaveLength(8);
    const done = run.hosts.filter((h) => h.status === 'changed').map((h) => h.host);
    const rest = run.hosts.filter((h) => h.status !== 'changed');
    // the hosts in flight when the signal came were let finish: more done than the one we waited for
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(rest.length).toBeGreaterThanOrEqual(1);
    for (const h of rest) {
      expect(h.status, h.host).toBe('interrupted');
      expect(h.error?.code, h.host).toBe('E_INTERRUPTED');
    }
    for (const h of fleet.hosts) expect(applied(fleet, h.name), h.name).toBe(done.includes(h.name) ? 1 : 0);
    // the retry file names exactly the hosts not done
    expect(first.retry).toBeDefined();
    expect(readFileSync(first.retry!, 'utf8').trim().split('\n').sort()).toEqual(rest.map((h) => h.host).sort());

    const c = startCli(runArgs(fleet, pb, stateDir, ['--resume', first.id, '--json', '-q']));
    expect(await settle(c, 30_000), c.stderr()).toBe(0);
    expect(c.stderr()).toContain(`resume ${first.id}: ${done.length} host(s) done before; re-checked in check mode: ${done.length} still hold, skipped`);
    const doc = JSON.parse(c.stdout()) as { run: { id: string; resumed_from?: string }; hosts: { host: string; status: string }[] };
    expect(doc.hosts.map((h) => h.host).sort()).toEqual(rest.map((h) => h.host).sort());
    for (const h of fleet.hosts) expect(applied(fleet, h.name), h.name).toBe(1);
    const resumed = readRun(stateDir, doc.run.id);
    expect(resumed.run.resumed_from).toBe(first.id);
    expect(resumed.status).toBe('finished');
    expect(resumed.hosts.every((h) => h.status === 'changed')).toBe(true);

    // resuming the resumed run re-checks every done host once (check mode: one connection each,
    // the shell task skipped) and finds nothing left to do
    const before = fleet.hosts.reduce((n, h) => n + h.server.stats.connections, 0);
    const again = startCli(runArgs(fleet, pb, stateDir, ['--resume', doc.run.id, '-q']));
    await settle(again, 30_000);
    expect(again.stderr()).toContain(`${fleet.hosts.length} still hold, skipped`);
    expect(fleet.hosts.reduce((n, h) => n + h.server.stats.connections, 0)).toBe(before + fleet.hosts.length);
    for (const h of fleet.hosts) expect(applied(fleet, h.name), h.name).toBe(1);
  }, 120_000);

  it('SIGTERM, then the retry file with --limit @file does each remaining host exactly once', async () => {
    const { fleet, dir } = await fleetWith(6, [{ kind: 'slow', perCommandMs: 1500 }]);
    const stateDir = join(dir, 'state');
    const pb = playbook(dir, `echo applied >> ${MARK}`);
    const c = startCli(runArgs(fleet, pb, stateDir));
    expect(await c.waitFor(/^changed\s+node-/m, 20_000), c.stderr()).toBe(true);
    c.proc.kill('SIGTERM');
    expect(await settle(c, 20_000), c.stderr()).toBe(130);
    const retry = /retry file: (\S+)/.exec(c.stderr())?.[1];
    expect(retry, c.stderr()).toBeDefined();
    const retried = readFileSync(retry!, 'utf8').trim().split('\n');
    expect(retried.length).toBeGreaterThanOrEqual(1);

    const r = startCli(runArgs(fleet, pb, stateDir, ['--limit', `@${retry}`, '--json', '-q']));
    expect(await settle(r, 30_000), r.stderr()).toBe(0);
    const doc = JSON.parse(r.stdout()) as { hosts: { host: string; status: string }[] };
    expect(doc.hosts.map((h) => h.host).sort()).toEqual([...retried].sort());
    for (const h of fleet.hosts) expect(applied(fleet, h.name), h.name).toBe(1);
  }, 120_000);
});

describe('a second signal aborts the commands in flight', () => {
  it('exits 130 promptly, the hosts in flight recorded interrupted, the rest not started', async () => {
    // every command hangs; the command timeout (30 s) is far away: only the abort can end them
    const { fleet, dir } = await fleetWith(4, [{ kind: 'hang', match: 'applied' }]);
    const stateDir = join(dir, 'state');
    const pb = playbook(dir, `echo applied >> ${MARK}`);
    const c = startCli(runArgs(fleet, pb, stateDir).map((a) => (a === '10' ? '30' : a)));
    expect(await c.waitFor(/fleetmend run \S+: 4 host\(s\)/, 20_000), c.stderr()).toBe(true);
    // both forks are inside their hanging command once the server has run two commands
    const deadline = Date.now() + 10_000;
    while (fleet.hosts.reduce((n, h) => n + h.server.stats.commands, 0) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    c.proc.kill('SIGINT');
    expect(await c.waitFor(/no new hosts will be started/, 5_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.proc.exitCode).toBeNull(); // the first signal waits for the hosts in flight
    const t0 = Date.now();
    c.proc.kill('SIGINT');
    expect(await settle(c, 10_000), c.stderr()).toBe(130);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(c.stderr()).toMatch(/SIGINT: aborting hosts in flight/);
    const id = /fleetmend run (\S+):/.exec(c.stderr())![1]!;
    const run = readRun(stateDir, id);
    expect(run.status).toBe('interrupted');
    expect(run.pending).toEqual([]);
    expect(run.hosts).toHaveLength(4);
    for (const h of run.hosts) {
      expect(h.status, `${h.host}: ${JSON.stringify(h.error)}`).toBe('interrupted');
      expect(h.error?.code, h.host).toBe('E_INTERRUPTED');
    }
    for (const h of fleet.hosts) expect(applied(fleet, h.name), h.name).toBe(0);
  }, 60_000);
});
