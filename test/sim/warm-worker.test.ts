import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { distributedTestbed, stopChild, workersReady } from '../helpers/redis.js';

/**
 * A worker keeps its warm pool across jobs (issue 25.5): the built `fleetmend worker`, a real
 * redis-server and the simulated fleet; logins counted by the simulated hosts.
 */
const bed = distributedTestbed('fm-warm-worker-', 6);

const logins = () => bed.fleet.hosts.reduce((n, h) => n + h.server.stats.logins, 0);

describe('fleetmend worker with warm connections', () => {
  it('the second and third distributed sweeps log in nowhere; --cold logs in every time', async () => {
    const sweep = (stateDir: string) => runCli(['sweep', ...bed.common(), ...bed.coord(), '--samples', '1', '-q', '--json', '--state-dir', join(bed.dir, stateDir)]);
    const warm = bed.worker('warm-1', [...bed.common(), '--concurrency', '4', '-v']);
    await workersReady(warm);
    const before = logins();
    const first = await sweep('s-warm');
    expect(first.code, first.stderr).toBe(0);
    expect(logins() - before).toBe(6);
    for (const n of [2, 3]) {
      const b = logins();
      const r = await sweep('s-warm');
      expect(r.code, r.stderr).toBe(0);
      expect(logins() - b, `sweep ${n}`).toBe(0);
    }
    expect(warm.stderr()).toMatch(/warm 6 host\(s\), 6 login\(s\), 12 reuse\(s\)/);
    await stopChild(warm.child);

    const cold = bed.worker('cold-1', [...bed.common(), '--concurrency', '4', '--cold']);
    await workersReady(cold);
    const b = logins();
    for (let i = 0; i < 2; i++) expect((await sweep('s-cold')).code).toBe(0);
    expect(logins() - b).toBe(12);
    await stopChild(cold.child);
  }, 120_000);
});
