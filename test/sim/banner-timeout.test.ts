/**
 * A saturated audit queue delays the SSH banner (kernel-6.1-queue table row 11, T24: "Connection
 * timed out during banner exchange"): the simulated sshd's pre-banner re-exec waits on the queue
 * like any program start, FIFO behind the tasks already asleep, so the delay follows from the
 * model (waiters × pass time), not a constant. A sweep with a connect timeout shorter than that
 * reports the host unreachable with E_BANNER_TIMEOUT naming it; the healthy host beside it is
 * swept normally.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBIAN_RULES, debianSpec, startFleet, type Fleet } from '../../src/sim/index.js';
import type { Scenario } from '../../src/sim/scenarios.js';
import { runCli } from '../helpers/cli.js';

const EXEC_RULE = '-a always,exit -F arch=b64 -S execve -k fmload';

const scenario: Scenario = {
  name: 'banner',
  description: 'a host whose audit queue is saturated, and a healthy one',
  defaultHealthy: 0,
  special: (rng, o) => [
    {
      // auditd SIGSTOPped, -b 64, an execve rule and eight exec loops (the VM run of T04/T10)
      spec: { ...debianSpec('bt-stalled', rng, o), auditd: 'stuck', eventRate: 0, execsPerSec: 400, loadTasks: 8, rulesD: { 'audit.rules': `${DEBIAN_RULES.replace('-b 8192', '-b 64')}\n${EXEC_RULE}\n` }, historyMs: 30_000 },
      faults: [],
      note: 'saturated queue: the banner comes late',
    },
    { spec: debianSpec('bt-healthy', rng, o), faults: [], note: 'healthy' },
  ],
};

let fleet: Fleet;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-banner-'));
  fleet = await startFleet({ scenario, dir: join(dir, 'fleet'), loginDelayScale: 1 });
}, 60_000);
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('banner timeout on a host whose audit queue is stalled', () => {
  it('the banner delay comes from the model: waiters × pass time on the stalled host, 0 on the healthy one', () => {
    const k = fleet.host('bt-stalled').machine.kernel;
    expect(k.blockedTasks()).toBeGreaterThan(4);
    expect(k.bannerDelayMs()).toBeGreaterThan(3000);
    expect(fleet.host('bt-healthy').machine.kernel.bannerDelayMs()).toBe(0);
  });

  it('a sweep with --connect-timeout 2: the stalled host is unreachable with E_BANNER_TIMEOUT naming it, the healthy one ok', async () => {
    const r = await runCli([
      'sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--connect-timeout', '2',
      '--samples', '1', '--json', '--state-dir', join(dir, 'state'), '-o', join(dir, 'reports'), '-q',
    ]);
    const doc = JSON.parse(r.stdout) as { hosts: { host: string; status: string; error: { code: string; message: string } | null }[] };
    const stalled = doc.hosts.find((h) => h.host === 'bt-stalled');
    expect(stalled).toMatchObject({ status: 'unreachable', error: { code: 'E_BANNER_TIMEOUT' } });
    expect(stalled?.error?.message).toBe(`127.0.0.1:${fleet.host('bt-stalled').port} accepted the TCP connection but sent no SSH banner within ${stalled?.error?.message.match(/within (\d+) ms/)?.[1]} ms`);
    expect(Number(stalled?.error?.message.match(/within (\d+) ms/)?.[1])).toBeGreaterThan(1900);
    expect(doc.hosts.find((h) => h.host === 'bt-healthy')?.status).toBe('ok');
    expect(r.code).not.toBe(0);
  }, 60_000);

  it('the terminal output names the host with the error code', async () => {
    const r = await runCli(['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--connect-timeout', '2', '--samples', '1', '--state-dir', join(dir, 'state'), '-o', join(dir, 'reports')]);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/bt-stalled\b.*(unreachable|E_BANNER_TIMEOUT)/);
    expect(out).toMatch(/sent no SSH banner within \d+ ms/);
  }, 60_000);
});
