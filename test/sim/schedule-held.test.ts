/**
 * A scheduled playbook whose run was held (issue 27 §4) is not run again on the next ticks: the
 * scheduler waits for an operator. `fleetmend approve RUN` makes the next tick resume RUN
 * (`--resume`: done hosts re-checked, held ones run). On the simulated fleet over real SSH, with
 * the scheduler in-process; every wait is bounded.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduledRunner } from '../../src/cli/schedule.js';
import { systemClock } from '../../src/executor/clock.js';
import type { Interrupt } from '../../src/executor/interrupt.js';
import { runScheduler, type ScheduleConfig } from '../../src/schedule/index.js';
import { approveRun, holdOf, scheduledPlaybook } from '../../src/schedule/holds.js';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { openStore } from '../../src/store/index.js';
import { runCli, textSink } from '../helpers/cli.js';
import { storedRuns } from '../helpers/store.js';

let fleet: Fleet;
let dir: string;
const MARK = '/etc/fleetmend-broken';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetmend-held-'));
  fleet = await startFleet({ dir: join(dir, 'fleet'), scenario: 'healthy', hosts: 3, loginDelayScale: 0 });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function never(): Interrupt {
  return { stopStarting: new AbortController().signal, abortInFlight: new AbortController().signal, interrupted: false, dispose() {} };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

describe('a held scheduled playbook waits for fleetmend approve', () => {
  it('held: later ticks are skipped; approve: the next tick resumes the held run and finishes it', async () => {
    const pb = join(dir, 'fix.yml');
    writeFileSync(pb, `- name: fix\n  hosts: all\n  serial: 1\n  tasks:\n    - name: apply the fix\n      shell: test ! -e ${MARK}\n`);
    const stateDir = join(dir, 'state');
    const first = fleet.hosts[0]!.name;
    fleet.host(first).machine.fs.put(MARK, 'broken\n');
    const command = ['run', pb, '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--max-failures', '0', '-q'];
    expect(scheduledPlaybook(command)).toBe(pb);
    const err = textSink();
    const out = textSink();
    const cfg: ScheduleConfig = { cron: '* * * * * *', command, stateDir, notify: 'changes', maxRuns: 2 };
    const io = { stdout: out.stream, stderr: err.stream, env: process.env, clock: systemClock };
    const execute = await scheduledRunner(cfg.command, stateDir, { ...io, exitCode: 0 });
    const done = runScheduler(cfg, { ...io, interrupt: never, execute });

    // the first tick's run is held: the budget of 0 failures is exceeded by the first host
    expect(await until(() => storedRuns(stateDir).length === 1 && storedRuns(stateDir)[0]!.finished, 30_000), err.text()).toBe(true);
    const held = storedRuns(stateDir)[0]!;
    expect(held.summary?.held).toBe(2);
    // the next ticks are skipped, saying why and what to do
    expect(await until(() => /skipped: run \S+ of this playbook is held; approve it \(fleetmend approve /.test(err.text()), 10_000), err.text()).toBe(true);
    expect(storedRuns(stateDir)).toHaveLength(1);

    fleet.host(first).machine.fs.remove(MARK, true);
    const approved = await runCli(['approve', held.run.id, '--state-dir', stateDir]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(new RegExp(`^approved ${held.run.id} \\(2 host\\(s\\) held\\)`));
    const outcome = await done;
    expect(outcome.runs).toBe(2);
    expect(outcome.skipped).toBeGreaterThanOrEqual(1);
    expect(err.text()).toContain(`resuming the approved held run ${held.run.id}`);
    const resumed = storedRuns(stateDir)[1]!;
    expect(resumed.run.resumed_from).toBe(held.run.id);
    expect(resumed.hosts.map((h) => h.status)).toEqual(['changed', 'changed', 'changed']);
    const store = openStore(stateDir);
    try {
      expect(holdOf(store, stateDir, fleet.inventoryPath, pb)).toEqual({ kind: 'none' });
      // a run that is not held cannot be approved; nor the same run twice
      expect(() => approveRun(store, stateDir, resumed.run.id, new Date())).toThrow(/is not held/);
      expect(() => approveRun(store, stateDir, held.run.id, new Date())).toThrow(/already approved/);
    } finally {
      store.close();
    }
  }, 90_000);
});
