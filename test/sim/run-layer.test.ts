import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/program.js';
import type { HostResult, RunEvent } from '../../src/results/index.js';
import { noInterrupt } from '../../src/executor/interrupt.js';
import type { RunOutcome, RunSubscriber } from '../../src/run/index.js';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { runCli, textSink } from '../helpers/cli.js';
import { readStore } from '../helpers/store.js';

/**
 * The run layer seen from its subscribers and its store: what a subscriber is given is final
 * (the store and the reports say the same), and a stored playbook run reads back with each task
 * once.
 */
let fleet: Fleet;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-run-layer-'));
  fleet = await startFleet({ scenario: 'incident', dir: join(dir, 'fleet'), hosts: 12, loginDelayScale: 0 });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Records every event with a deep copy taken when it was emitted, and the outcome. */
function recorder() {
  const events: { event: RunEvent; copy: string }[] = [];
  let outcome: RunOutcome | undefined;
  const sub: RunSubscriber = {
    onEvent: (event) => events.push({ event, copy: JSON.stringify(event) }),
    onFinished: (o) => {
      outcome = o;
    },
  };
  return { sub, events, outcome: () => outcome };
}

describe('the run layer', () => {
  it('a sweep: host results never change after host-done; fleet outliers come as their own event and the store merges them', async () => {
    const rec = recorder();
    const out = textSink();
    const stateDir = join(dir, 'state-sweep');
    const code = await main(
      ['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '--json', '-q', '--state-dir', stateDir],
      { stdout: out.stream, stderr: textSink().stream, interrupt: noInterrupt, env: process.env, subscribers: [rec.sub] },
    );
    expect([0, 2, 4, 6]).toContain(code);
    const types = rec.events.map((e) => e.event.type);
    expect(types[0]).toBe('run-start');
    expect(types.at(-1)).toBe('run-end');
    const fleetIdx = types.indexOf('fleet-findings');
    expect(fleetIdx, 'the incident fleet has outliers').toBeGreaterThan(0);
    expect(types.lastIndexOf('host-done')).toBeLessThan(fleetIdx);
    // every emitted host result is unchanged at the end of the run
    for (const { event, copy } of rec.events) expect(JSON.stringify(event)).toBe(copy);
    const fleetEvent = rec.events[fleetIdx]!.event as Extract<RunEvent, { type: 'fleet-findings' }>;
    const outliers = Object.keys(fleetEvent.findings);
    expect(outliers.length).toBeGreaterThan(0);
    for (const f of Object.values(fleetEvent.findings).flat()) expect(f.code).toBe('fleet-outlier');
    // the final documents: --json, the outcome and the store agree, outliers merged
    const doc = JSON.parse(out.text()) as { hosts: HostResult[] };
    const stored = readStore(stateDir, (store) => store.getRun(rec.outcome()!.run.id));
    for (const host of outliers) {
      const codes = (h: HostResult | undefined) => h?.diagnosis?.findings.map((f) => f.code);
      expect(codes(doc.hosts.find((h) => h.host === host))).toContain('fleet-outlier');
      expect(codes(stored.hosts.find((h) => h.host === host))).toEqual(codes(doc.hosts.find((h) => h.host === host)));
      expect(codes(rec.outcome()!.results.find((h) => h.host === host))).toEqual(codes(doc.hosts.find((h) => h.host === host)));
    }
    expect(stored.hosts).toHaveLength(fleet.hosts.length);
  });

  it('a one-task playbook run read back from the store with report --format json shows the task once per host', async () => {
    const pb = join(dir, 'one-task.yml');
    writeFileSync(pb, `- name: one task\n  hosts: all\n  tasks:\n    - name: say hi\n      command: echo hi\n`);
    const stateDir = join(dir, 'state-run');
    const live = join(dir, 'live');
    const run = await runCli(['run', pb, '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--state-dir', stateDir, '-q', '-o', live, '--format', 'json']);
    // the incident fleet has a host that does not answer (exit 4)
    expect([0, 4], run.stderr).toContain(run.code);
    const back = join(dir, 'back');
    const report = await runCli(['report', 'latest', '--state-dir', stateDir, '-o', back, '--format', 'json']);
    expect(report.code, report.stderr).toBe(0);
    for (const root of [live, back]) {
      const [runDir] = readdirSync(root);
      const doc = JSON.parse(readFileSync(join(root, runDir!, 'report.json'), 'utf8')) as { hosts: { host: string; tasks?: { task: string }[] }[] };
      expect(doc.hosts).toHaveLength(fleet.hosts.length);
      const withTasks = doc.hosts.filter((h) => h.tasks?.length);
      expect(withTasks.length).toBeGreaterThanOrEqual(fleet.hosts.length - 2);
      for (const h of withTasks) expect(h.tasks!.map((t) => t.task), `${root} ${h.host}`).toEqual(['say hi']);
    }
  });

  it('a subscriber that throws is reported by name and the run goes on: the others see every event, the store records every host', async () => {
    const rec = recorder();
    const err = textSink();
    const stateDir = join(dir, 'state-throwing');
    let calls = 0;
    const throwing: RunSubscriber = {
      name: 'broken-plugin',
      onEvent: () => {
        calls++;
        throw new Error('plugin bug');
      },
      onFinished: () => {
        throw new Error('plugin bug at the end');
      },
    };
    const code = await main(['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '--json', '-q', '--state-dir', stateDir], {
      stdout: textSink().stream,
      stderr: err.stream,
      interrupt: noInterrupt,
      env: process.env,
      subscribers: [throwing, rec.sub],
    });
    expect([0, 2, 4, 6], err.text()).toContain(code);
    expect(err.text()).toContain('subscriber broken-plugin failed on a run-start event (the run goes on): plugin bug');
    expect(err.text()).toContain('subscriber broken-plugin failed on the finished run (the run goes on): plugin bug at the end');
    expect(err.text()).toMatch(/subscriber broken-plugin failed on \d+ more event\(s\) in this run/);
    // called for every event, and each one still reached the subscriber after it
    expect(calls).toBe(rec.events.length);
    expect(rec.events.filter((e) => e.event.type === 'host-done')).toHaveLength(fleet.hosts.length);
    expect(rec.outcome()?.exitCode).toBe(code);
    const stored = readStore(stateDir, (store) => store.getRun(rec.outcome()!.run.id));
    expect(stored.hosts.filter((h) => h.status !== 'pending')).toHaveLength(fleet.hosts.length);
  });

  it('a two-play playbook: one final host-done per host (plays are progress events), the store records that result once', async () => {
    const pb = join(dir, 'two-plays.yml');
    writeFileSync(pb, ['one', 'two'].map((n) => `- name: play ${n}\n  hosts: all\n  tasks:\n    - name: task ${n}\n      command: echo ${n}\n`).join(''));
    const rec = recorder();
    const err = textSink();
    const stateDir = join(dir, 'state-two-plays');
    const code = await main(['run', pb, '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--state-dir', stateDir, '-q'], {
      stdout: textSink().stream,
      stderr: err.stream,
      interrupt: noInterrupt,
      env: process.env,
      subscribers: [rec.sub],
    });
    expect([0, 4], err.text()).toContain(code);
    // a second write of a host would be refused by the store, with a warning
    expect(err.text()).not.toMatch(/refused/);
    const done = rec.events.map((e) => e.event).filter((e): e is Extract<RunEvent, { type: 'host-done' }> => e.type === 'host-done');
    expect(done.map((e) => e.result.host).sort()).toEqual(fleet.hosts.map((h) => h.name).sort());
    const perPlay = rec.events.map((e) => e.event).filter((e) => e.type === 'play-host-done');
    expect(perPlay.length).toBeGreaterThan(fleet.hosts.length);
    const types = rec.events.map((e) => e.event.type);
    expect(types.indexOf('host-done')).toBeGreaterThan(types.lastIndexOf('play-host-done'));
    for (const { event, copy } of rec.events) expect(JSON.stringify(event)).toBe(copy);
    const stored = readStore(stateDir, (store) => store.getRun(rec.outcome()!.run.id));
    const ok = done.filter((e) => e.result.status === 'changed');
    expect(ok.length).toBeGreaterThanOrEqual(fleet.hosts.length - 2);
    for (const { result } of ok) {
      expect(result.tasks?.map((t) => t.task)).toEqual(['task one', 'task two']);
      const back = stored.hosts.find((h) => h.host === result.host);
      expect(back?.tasks?.map((t) => t.task), result.host).toEqual(['task one', 'task two']);
      expect(back?.status).toBe(result.status);
    }
  });
});
