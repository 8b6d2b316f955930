/**
 * Load (issue 7 §5): a sweep of 1,000 simulated hosts with forks 200 records every host; with
 * 5% of them faulty (mixed faults) the other 95% still complete and the record shows every
 * fault. The fleet runs in this process, the sweep in a child process (the built CLI) so that
 * its wall time and peak RSS are its own; both are printed for the README.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFleet, type Fault, type Fleet } from '../../src/sim/index.js';
import { openStore, type StoredRun } from '../../src/store/index.js';
import { CLI_BIN as CLI } from '../helpers/cli.js';

const MAXRSS_HOOK = 'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss_kb="+process.resourceUsage().maxRSS+"\\n"))';
const HOSTS = 1000;
const name = (i: number) => `node-${String(i).padStart(4, '0')}`;

let fleet: Fleet | undefined;
let dir: string | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

interface Swept {
  code: number | null;
  stderr: string;
  wallMs: number;
  maxRssKb: number;
  run: StoredRun;
}

async function sweep(f: Fleet, stateDir: string, extra: string[]): Promise<Swept> {
  if (!existsSync(CLI)) throw new Error('build first: npm run build');
  const args = ['--import', MAXRSS_HOOK, CLI, 'sweep', '-i', f.inventoryPath, '--known-hosts', f.knownHostsPath, '--forks', '200',
    '--samples', '1', '-q', '--state-dir', stateDir, '--no-policy', ...extra];
  const t0 = Date.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('close', (c) => {
      clearTimeout(killer);
      resolve(c);
    });
  });
  const wallMs = Date.now() - t0;
  const rss = /maxrss_kb=(\d+)/.exec(stderr);
  const store = openStore(stateDir);
  try {
    return { code, stderr, wallMs, maxRssKb: rss ? Number(rss[1]) : NaN, run: store.getRun('latest') };
  } finally {
    store.close();
  }
}

const report = (what: string, s: Swept) =>
  console.log(`load: ${what}: ${HOSTS} hosts, forks 200, 1 sample: wall ${(s.wallMs / 1000).toFixed(1)} s, runner peak RSS ${(s.maxRssKb / 1024).toFixed(0)} MiB`);

/** Every 20th host gets one fault, cycling through the kinds: 50 hosts, 5 of each. */
const MIX: { fault: Fault; status: string; code: string | null }[] = [
  { fault: { kind: 'down' }, status: 'unreachable', code: 'E_CONNECT' },
  { fault: { kind: 'no-banner' }, status: 'unreachable', code: 'E_BANNER_TIMEOUT' },
  { fault: { kind: 'auth-fail' }, status: 'unreachable', code: 'E_AUTH' },
  { fault: { kind: 'hostkey-changed' }, status: 'unreachable', code: 'E_HOSTKEY_CHANGED' },
  { fault: { kind: 'drop-mid-command' }, status: 'unreachable', code: 'E_DISCONNECTED' },
  { fault: { kind: 'hang' }, status: 'failed', code: 'E_CMD_TIMEOUT' },
  { fault: { kind: 'slow', perCommandMs: 1500 }, status: 'ok', code: null },
  { fault: { kind: 'huge-output', bytes: 4 * 1024 * 1024 }, status: 'failed', code: 'E_OUTPUT_CAP' },
  { fault: { kind: 'binary-output' }, status: 'ok', code: null },
  { fault: { kind: 'auditctl-garbage' }, status: 'failed', code: 'E_PARSE' },
];

describe(`sweep of ${HOSTS} simulated hosts, forks 200 (child process)`, () => {
  it('healthy fleet: every host recorded ok', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-load-'));
    fleet = await startFleet({ scenario: 'healthy', hosts: HOSTS, dir: join(dir, 'fleet'), loginDelayScale: 0 });
    // generous: on a loaded 2-core CI machine 200 handshakes at once can take tens of seconds
    const s = await sweep(fleet, join(dir, 'state'), ['--connect-timeout', '90', '--command-timeout', '60']);
    report('healthy', s);
    expect(s.code, s.stderr.slice(-2000)).toBe(0);
    expect(s.run.status).toBe('finished');
    expect(s.run.pending).toEqual([]);
    expect(s.run.hosts).toHaveLength(HOSTS);
    expect(new Set(s.run.hosts.map((h) => h.host)).size).toBe(HOSTS);
    const bad = s.run.hosts.filter((h) => h.status !== 'ok');
    expect(bad.map((h) => `${h.host} ${h.status} ${h.error?.code}`)).toEqual([]);
    expect(s.maxRssKb / 1024).toBeLessThan(1024);
  }, 240_000);

  it('5% faulty (mixed faults): the other 95% complete ok, the record shows every fault', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-load-'));
    const faulty = new Map<string, (typeof MIX)[number]>();
    for (let i = 1; i <= HOSTS; i++) if (i % 20 === 0) faulty.set(name(i), MIX[(i / 20) % MIX.length]!);
    expect(faulty.size).toBe(HOSTS * 0.05);
    fleet = await startFleet({
      scenario: 'healthy', hosts: HOSTS, dir: join(dir, 'fleet'), loginDelayScale: 0,
      faults: Object.fromEntries([...faulty].map(([n, m]) => [n, [m.fault]])),
    });
    // The no-banner hosts hold a fork until the dial timeout (ssh config ConnectTimeout: TCP +
    // banner), the hanging ones until the command timeout; logins of the 950 healthy hosts get
    // the long --connect-timeout, so a loaded 2-core CI machine does not turn them unreachable.
    const sshConfig = join(dir, 'ssh_config');
    writeFileSync(sshConfig, 'Host *\n  ConnectTimeout 10\n');
    const s = await sweep(fleet, join(dir, 'state'), ['--ssh-config', sshConfig, '--connect-timeout', '90', '--command-timeout', '15', '--max-output', String(1024 * 1024)]);
    report('5% faulty', s);
    expect(s.code, s.stderr.slice(-2000)).toBe(6);
    expect(s.run.status).toBe('finished');
    expect(s.run.pending).toEqual([]);
    expect(s.run.hosts).toHaveLength(HOSTS);
    const rows = new Map(s.run.hosts.map((h) => [h.host, h]));
    const wrong: string[] = [];
    for (let i = 1; i <= HOSTS; i++) {
      const h = rows.get(name(i));
      const want = faulty.get(name(i)) ?? { status: 'ok', code: null, fault: { kind: 'none' } };
      if (h?.status !== want.status || (h?.error?.code ?? null) !== want.code) {
        wrong.push(`${name(i)} (${want.fault.kind}): ${h?.status} ${h?.error?.code ?? ''} ${h?.error?.message ?? ''}`.slice(0, 200));
      }
    }
    expect(wrong).toEqual([]);
    expect(s.maxRssKb / 1024).toBeLessThan(1024);
  }, 240_000);
});
