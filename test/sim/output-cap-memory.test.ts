/**
 * Issue 17.7: the output cap bounds memory. Hosts that spew 256 MB into the fact script are
 * stopped at the cap (8 MiB by default) instead of being drained through the runner: the
 * sweep reports E_OUTPUT_CAP for them as before, the bytes received stay within one SSH window
 * of the cap (proof that the rest was never read), and the peak RSS of the `fleetmend sweep`
 * child process, read from the kernel's own accounting at its exit, stays within 128 MB of the
 * same sweep on the same fleet without the spew (the baseline, measured in the same test on the
 * same machine, so the machine's load does not move the bound). Without the cap the two spewers'
 * output alone (2 x 256 MB) would be held: the bound is far from both sides.
 * Measured here: baseline 73 MB, capped sweep +57-74 MB over 3 runs (V8 keeps the freed chunks until a major GC).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { CLI_BIN, runCli } from '../helpers/cli.js';
import { stringify } from 'yaml';
import { scenarioOf } from '../fixtures/playbooks/sim-harness.js';

const SPEW = 256 * 1024 * 1024;
const CAP = 8 * 1024 * 1024;
/** ssh2's channel window is 2 MiB: at most that much can be in flight when the client stops. */
const SLACK = 4 * 1024 * 1024;
const SPEWERS = ['spew-1', 'spew-2'];
const CALM = ['calm-1', 'calm-2', 'calm-3', 'calm-4'];

interface JsonHost {
  host: string;
  status: string;
  error: { code: string; message: string } | null;
}

describe('output cap bounds the runner memory (2 of 6 hosts send 256 MB, default 8 MiB cap)', () => {
  let fleet: Fleet;
  let dir: string;
  let doc: { hosts: JsonHost[] };
  let peakKb: number;
  let code: number | null;
  let stderr = '';

  let baselineKb: number;

  /** One `fleetmend sweep --json` child; its own peak RSS (getrusage ru_maxrss, kB) written at exit. */
  async function sweepChild(tag: string): Promise<{ code: number | null; stdout: string; peakKb: number }> {
    const out = join(dir, `maxrss-${tag}`);
    const preload = join(dir, `maxrss-${tag}.mjs`);
    writeFileSync(preload, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(out)}, String(process.resourceUsage().maxRSS)));\n`);
    const child = spawn(
      process.execPath,
      ['--import', pathToFileURL(preload).href, CLI_BIN, 'sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath,
        '--samples', '1', '--no-policy', '--no-store', '--json', '-q', '--command-timeout', '120'],
      { env: { ...process.env, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const rc = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code: rc, stdout, peakKb: Number(readFileSync(out, 'utf8')) };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-cap-'));
    const scenario = scenarioOf('cap-memory', (mk) => [...SPEWERS.map((n) => ({ spec: mk.debian(n) })), ...CALM.map((n, i) => ({ spec: i % 2 ? mk.rhel(n) : mk.debian(n) }))]);
    const faults = Object.fromEntries(SPEWERS.map((n) => [n, [{ kind: 'huge-output' as const, bytes: SPEW, match: 'auditctl' }]]));
    // the baseline: the same six hosts, nobody spewing
    fleet = await startFleet({ scenario, dir: join(dir, 'fleet-calm'), loginDelayScale: 0 });
    const base = await sweepChild('baseline');
    expect(base.code, stderr).toBe(0);
    baselineKb = base.peakKb;
    await fleet.stop();
    fleet = await startFleet({ scenario, dir: join(dir, 'fleet'), loginDelayScale: 0, faults });
    const run = await sweepChild('capped');
    code = run.code;
    doc = JSON.parse(run.stdout) as { hosts: JsonHost[] };
    peakKb = run.peakKb;
  }, 180_000);
  afterAll(async () => {
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every spewing host is failed E_OUTPUT_CAP with the cap named; the others are ok', () => {
    expect(code, stderr).toBe(2);
    for (const name of SPEWERS) {
      const h = doc.hosts.find((x) => x.host === name)!;
      expect(h.status, JSON.stringify(h)).toBe('failed');
      expect(h.error?.code).toBe('E_OUTPUT_CAP');
      expect(h.error?.message).toContain(`output capped at ${CAP} bytes`);
    }
    for (const name of CALM) expect(doc.hosts.find((x) => x.host === name)!.status, name).toBe('ok');
  });

  it('the runner stopped reading at the cap: bytes received stay within one SSH window of it', () => {
    for (const name of SPEWERS) {
      const msg = doc.hosts.find((x) => x.host === name)!.error!.message;
      const received = Number(/\((\d+) bytes received\)/.exec(msg)?.[1]);
      expect(received, msg).toBeGreaterThan(CAP);
      expect(received, msg).toBeLessThan(CAP + SLACK);
    }
  });

  it('peak RSS of the sweep stays within 128 MB of the same sweep without the spew (uncapped: over 512 MB)', () => {
    expect(baselineKb).toBeGreaterThan(10_000); // a real reading, not a zero
    expect((peakKb - baselineKb) / 1024).toBeLessThan(128);
    console.log(`[output-cap-memory] peak RSS ${(peakKb / 1024).toFixed(1)} MB (baseline ${(baselineKb / 1024).toFixed(1)} MB) for ${SPEWERS.length} hosts x ${SPEW / 1048576} MB`);
  });

  it('a playbook command stopped at the cap is a failed E_OUTPUT_CAP task with the output kept up to the cap', async () => {
    const host = fleet.host('calm-1');
    host.machine.fs.put('/var/tmp/big.log', 'x'.repeat(99) + '\n'.repeat(1) + 'y'.repeat(300_000));
    const pb = join(dir, 'big.yml');
    writeFileSync(pb, stringify([{ name: 'big', hosts: 'calm-1', tasks: [{ name: 'dump', shell: 'cat /var/tmp/big.log' }] }]));
    const r = await runCli(['run', pb, '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--no-store', '--json', '-q', '--max-output', '65536'], { HOME: dir });
    const t = (JSON.parse(r.stdout) as { hosts: { tasks: { status: string; stdout?: string; error?: { code: string; message: string } }[] }[] }).hosts[0]!.tasks[0]!;
    expect(t.status).toBe('failed');
    expect(t.error).toMatchObject({ code: 'E_OUTPUT_CAP', message: expect.stringContaining('65536 bytes') });
    expect(t.stdout?.length).toBe(65536);
  }, 30_000);
});
