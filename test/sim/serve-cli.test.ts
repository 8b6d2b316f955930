/**
 * `fleetmend serve` as users run it (the built binary): it serves a store and stops on SIGTERM;
 * it refuses a non-loopback bind without a token and TLS; with `--schedule CRON -- sweep ...`
 * it runs the scheduled sweeps of a simulated fleet (real SSH) in the same process, and the
 * pages and /metrics show them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/executor/clock.js';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { CLI_BIN, runCli } from '../helpers/cli.js';
import { writeFixtureStore, SWEEPS, sweepId } from '../unit/serve-fixture.js';

let dir: string;
let fleet: Fleet;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-serve-cli-'));
  fleet = await startFleet({ scenario: 'states', dir: join(dir, 'fleet'), loginDelayScale: 0 });
});
afterAll(async () => {
  for (const c of children) await stopChild(c);
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** SIGTERM, then SIGKILL after 10 s: by PID, and waited for. */
async function stopChild(c: ChildProcess): Promise<number | null> {
  if (c.exitCode !== null || c.signalCode !== null || !c.pid) return c.exitCode;
  const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
  process.kill(c.pid, 'SIGTERM');
  const timer = setTimeout(() => c.pid && c.exitCode === null && process.kill(c.pid, 'SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** Starts the built CLI and waits (30 s at most) for its "serve: URL" line. */
async function startServe(args: string[]): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(process.execPath, [CLI_BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  children.push(child);
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  child.stdout!.resume();
  const re = /serve: (http:\/\/127\.0\.0\.1:\d+\/)/;
  const deadline = Date.now() + 30_000;
  while (!re.test(log) && Date.now() < deadline && child.exitCode === null) await systemClock.sleep(50);
  const m = re.exec(log);
  if (!m) throw new Error(`serve did not start: ${log.slice(-2000)}`);
  return { child, url: m[1]!, log: () => log };
}

describe('fleetmend serve (built binary)', () => {
  it('serves the store read-only and exits 0 on SIGTERM', async () => {
    const state = join(dir, 'store');
    writeFixtureStore(state);
    const s = await startServe(['--state-dir', state, '--listen', '127.0.0.1:0']);
    const fleetDoc = (await (await fetch(new URL('api/fleet', s.url))).json()) as { latest: { id: string } };
    expect(fleetDoc.latest.id).toBe(sweepId(SWEEPS - 1));
    expect((await fetch(new URL('fleet', s.url), { method: 'POST' })).status).toBe(405);
    expect(await stopChild(s.child)).toBe(0);
  });

  it('--prune-cron prunes the store on schedule while serving, and the pages see the result', async () => {
    const state = join(dir, 'pruned');
    writeFixtureStore(state);
    const s = await startServe(['--state-dir', state, '--listen', '127.0.0.1:0', '--prune-cron', '* * * * * *', '--keep-runs', '1']);
    const deadline = Date.now() + 20_000;
    while (!/serve: pruned \d+ runs/.test(s.log()) && Date.now() < deadline) await systemClock.sleep(100);
    // the fixture's 4 sweeps and 1 playbook run: the newest of each mode stays
    expect(s.log()).toMatch(/serve: pruned 3 runs; store \d+ -> \d+ bytes/);
    const doc = (await (await fetch(new URL('api/runs', s.url))).json()) as { runs: { total: number } };
    expect(doc.runs.total).toBe(2);
    expect(await stopChild(s.child)).toBe(0);
  });

  it('refuses a non-loopback address without a token, and without TLS or --behind-proxy (exit 1)', async () => {
    const a = await runCli(['serve', '--state-dir', join(dir, 'x'), '--listen', '0.0.0.0:0']);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('--auth-token-file');
    const b = await runCli(['serve', '--state-dir', join(dir, 'x'), '--listen', 'example.org:80']);
    expect([b.code, b.stderr]).toEqual([1, expect.stringContaining("--listen 'example.org:80'")]);
    const c = await runCli(['serve', '--state-dir', join(dir, 'x'), '--schedule', '* * * * * *']);
    expect([c.code, c.stderr]).toEqual([1, expect.stringContaining("1 --schedule for 0 commands after '--'")]);
  });

  it('--schedule runs the sweep in the same process; its pages and /metrics show it', async () => {
    const state = join(dir, 'scheduled');
    const s = await startServe([
      '--state-dir', state, '--listen', '127.0.0.1:0', '--schedule', '* * * * * *', '--',
      'sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '-q',
    ]);
    type F = { latest?: { id: string; summary: { hosts: number } } };
    let doc: F = {};
    const deadline = Date.now() + 60_000;
    while (!doc.latest && Date.now() < deadline) {
      await systemClock.sleep(250);
      doc = (await (await fetch(new URL('api/fleet', s.url))).json()) as F;
    }
    expect(doc.latest?.summary.hosts, s.log().slice(-2000)).toBe(fleet.hosts.length);
    const metrics = await (await fetch(new URL('metrics', s.url))).text();
    expect(metrics).toMatch(/^fleetmend_/m);
    await stopChild(s.child);
  }, 90_000);
});
