import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/program.js';
import type { Interrupt } from '../../src/executor/interrupt.js';
import { driftSinceLast, sinceLastReport } from '../../src/drift/index.js';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { openStore } from '../../src/store/index.js';

/** `sweep --since-last` as the lead wires it: real sweeps over SSH, then drift from the store. */
let fleet: Fleet;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetmend-drift-sim-'));
  fleet = await startFleet({ dir: join(dir, 'fleet'), scenario: 'healthy', hosts: 3, loginDelayScale: 0 });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function never(): Interrupt {
  return { stopStarting: new AbortController().signal, abortInFlight: new AbortController().signal, interrupted: false, dispose() {} };
}

async function sweep(stateDir: string): Promise<string> {
  const quiet = new PassThrough().resume();
  const code = await main(['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '--json', '-q', '--state-dir', stateDir], {
    stdout: quiet, stderr: quiet, interrupt: never,
  });
  expect(code).toBeLessThan(8); // 0/2/4/6: the sweep ran
  const store = openStore(stateDir);
  try {
    return store.listRuns({ limit: 1 })[0]!.id;
  } finally {
    store.close();
  }
}

describe('drift between two real sweeps of the simulated fleet', () => {
  it('sees a backlog limit change, an unreachable host and a stopped auditd, and nothing else', async () => {
    const stateDir = join(dir, 'state');
    const [a, b, c] = fleet.hosts;
    await sweep(stateDir);
    a!.model.setSetting('backlogLimit', 16384);
    c!.model.stopAuditd();
    await b!.server.stop();
    try {
      const second = await sweep(stateDir);
      const store = openStore(stateDir);
      try {
        const drift = driftSinceLast(store, second);
        expect(drift.changed).toBe(true);
        expect(drift.hosts.map((h) => h.host).sort()).toEqual([a!.name, b!.name, c!.name].sort());
        const of = (name: string) => drift.hosts.find((h) => h.host === name)!.changes;
        expect(of(a!.name)).toContainEqual({ kind: 'limit-changed', from: 8192, to: 16384 });
        expect(of(b!.name)).toEqual([expect.objectContaining({ kind: 'became-unreachable', error_code: expect.stringMatching(/^E_CONNECT/) })]);
        expect(of(c!.name)).toContainEqual({ kind: 'state-changed', from: 'healthy', to: 'auditd-not-running' });
        expect(of(c!.name).map((x) => x.kind).sort()).toEqual(['compliance-changed', 'new-finding', 'state-changed']);
        const text = sinceLastReport(store, { id: second });
        expect(text).toMatch(/^drift: 3 hosts changed since run /);
        expect(text).toContain('backlog limit changed 8192 → 16384 (+8192)');
        expect(text).toContain('became unreachable (E_CONNECT');
      } finally {
        store.close();
      }
    } finally {
      a!.model.setSetting('backlogLimit', 8192);
      c!.model.startAuditd();
    }
  });
});
