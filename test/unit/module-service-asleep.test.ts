/**
 * The service module's verification after a restart waits (bounded by asleep_timeout) for the
 * tasks asleep on the audit queue to be woken, and reports how many remain (issue 14 item 4).
 * The host is the simulator's kernel model behind a minimal Transport on a fake clock: time
 * moves only while the module sleeps, so the sleepers are woken by the kauditd passes of that
 * time (kernel-6.1-queue §0, T10), and a verification that did not wait would see them all.
 */
import { describe, expect, it } from 'vitest';
import { serviceModule } from '../../src/modules/service.js';
import type { ModuleContext, ModuleOutcome } from '../../src/modules/types.js';
import { FakeClock, Shell, SimMachine, StringInput, debianSpec, defaultRegistry } from '../../src/sim/index.js';
import { Rng } from '../../src/sim/rng.js';
import { DEBIAN_RULES } from '../../src/sim/machine.js';
import type { ConnectionSpec, ExecResult, Transport } from '../../src/transport/types.js';
import { sessionOver } from '../fixtures/playbooks/fake-host.js';

const registry = defaultRegistry();

function simTransport(m: SimMachine): Transport {
  const spec = { name: 'h1', address: '127.0.0.1', port: 22, user: 'root', auth: {}, become: { enabled: false } } as unknown as ConnectionSpec;
  return {
    spec,
    async connect() {},
    async close() {},
    async exec(command: string): Promise<ExecResult> {
      let out = '';
      let err = '';
      const code = await new Shell(m, registry).run(command, {
        stdin: new StringInput(''),
        stdout: { write: (c: string | Buffer) => void (out += c.toString()) },
        stderr: { write: (c: string | Buffer) => void (err += c.toString()) },
        uid: 0,
        user: 'root',
      });
      return { command, stdout: out, stderr: err, code, durationMs: 1, truncated: false, bytes: out.length };
    },
  };
}

/** A stuck auditd at -b 128 under 300 records/s: after a few passes tasks sleep in audit_log_start (T04). */
function stalled(): { m: SimMachine; clock: FakeClock } {
  const clock = new FakeClock();
  const spec = { ...debianSpec('h1', new Rng(3), { downtimeMs: 1000 }), auditd: 'stuck' as const, eventRate: 300, loadTasks: 8, rulesD: { 'audit.rules': DEBIAN_RULES.replace('-b 8192', '-b 128') } };
  const m = new SimMachine(spec, clock, 's');
  clock.advance(5000);
  return { m, clock };
}

async function restart(m: SimMachine, clock: FakeClock, asleepTimeout: number): Promise<ModuleOutcome> {
  const moduleClock = { now: () => clock.now(), sleep: async (ms: number) => clock.advance(ms) };
  const ctx: ModuleContext = {
    host: 'h1',
    session: sessionOver(simTransport(m), moduleClock),
    check: false,
    diff: false,
    clock: moduleClock,
    play: { hostsInPlay: 1, batchSize: 1, memoryShare: 0.1, allowParallelReboot: false },
    scope: {},
    guardSampleMs: 10,
    reconnect: async () => simTransport(m),
  };
  const args = serviceModule.schema.parse({ state: 'restarted', asleep_timeout: asleepTimeout });
  const checked = await serviceModule.check(ctx, args);
  if (checked.status !== 'changed' || !checked.plan) throw new Error(`check: ${checked.status} ${checked.msg}`);
  return serviceModule.apply(ctx, args, checked.plan, checked);
}

describe('service restart: tasks asleep on the audit queue', () => {
  it('waits for the sleepers to be woken (one per pass) and reports 0 with the time it took', async () => {
    const { m, clock } = stalled();
    const before = m.kernel.blockedTasks();
    expect(before).toBeGreaterThan(0);
    const r = await restart(m, clock, 10);
    expect(r.status).toBe('changed');
    expect(r.data?.tasks_asleep).toBe(0);
    expect(r.data?.tasks_asleep_waited_ms).toBeGreaterThan(0);
    expect(r.warnings?.some((w) => /still asleep/.test(w)) ?? false).toBe(false);
  });

  it('without the wait (asleep_timeout 0) the same restart reports the sleepers it found', async () => {
    const { m, clock } = stalled();
    const r = await restart(m, clock, 0);
    expect(r.status).toBe('changed');
    expect(r.data?.tasks_asleep).toBeGreaterThan(0);
    expect(r.warnings?.join('\n')).toMatch(/\d+ task\(s\) still asleep on the audit queue 0 s after the restart/);
  });
});
