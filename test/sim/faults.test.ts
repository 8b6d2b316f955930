/**
 * Fault injection (issue 7 §1): one sweep of the `faults` scenario, run as the built CLI in a
 * child process so its wall time and peak RSS are its own. Each fault must be reported for its
 * host with a stable error class and a readable message; the healthy hosts finish ok; the run
 * record has a row for every host; the process ends in bounded time and bounded memory (the
 * 32 MiB host is capped and the cap is reported). Then a playbook run where a host panics
 * mid-playbook (`auditctl -f 2` on a host that is losing records).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResult } from '../../src/results/index.js';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { openStore, type StoredRun } from '../../src/store/index.js';
import { CLI_BIN as CLI, runCli as runCliInProcess } from '../helpers/cli.js';

/** Prints the child's peak RSS (kB, getrusage ru_maxrss) on exit: exact, unlike polling /proc. */
const MAXRSS_HOOK = 'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss_kb="+process.resourceUsage().maxRSS+"\\n"))';

interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  maxRssKb: number;
}

function runCli(args: string[], timeoutMs: number): Promise<ChildRun> {
  if (!existsSync(CLI)) throw new Error('build first: npm run build');
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', MAXRSS_HOOK, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(killer);
      const rss = /maxrss_kb=(\d+)/.exec(stderr);
      resolve({ code, stdout, stderr, wallMs: Date.now() - t0, maxRssKb: rss ? Number(rss[1]) : NaN });
    });
  });
}

interface JsonHost {
  host: string;
  status: string;
  error: { code: string; message: string } | null;
  audit: Record<string, number> | null;
  facts?: { samples: { parse_errors: { section: string; message: string }[] }[] };
}

describe('sweep of a fleet with one fault per host (child process)', () => {
  let fleet: Fleet;
  let dir: string;
  let res: ChildRun;
  let hosts: Map<string, JsonHost>;
  let stored: StoredRun;
  const CAP = 4 * 1024 * 1024;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-faults-'));
    fleet = await startFleet({ scenario: 'faults', dir: join(dir, 'fleet'), loginDelayScale: 0 });
    // the panic-reboot host is the playbook test's subject below; its 5 s timer would race this sweep
    res = await runCli(
      [
        'sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '-l', 'all:!f-panic-reboot',
        '--samples', '1', '--json', '-q', '--state-dir', join(dir, 'state'),
        '--connect-timeout', '3', '--command-timeout', '3', '--max-output', String(CAP), '--forks', '20',
      ],
      60_000,
    );
    const doc = JSON.parse(res.stdout) as { run: { id: string }; hosts: JsonHost[] };
    hosts = new Map(doc.hosts.map((h) => [h.host, h]));
    const store = openStore(join(dir, 'state'));
    try {
      stored = store.getRun(doc.run.id);
    } finally {
      store.close();
    }
    console.log(`faults sweep: ${fleet.hosts.length - 1} hosts, wall ${res.wallMs} ms, peak RSS ${(res.maxRssKb / 1024).toFixed(0)} MiB`);
  }, 90_000);
  afterAll(async () => {
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const expectFault = (name: string, status: string, code: string, message: RegExp) => {
    const h = hosts.get(name);
    expect(h, name).toBeDefined();
    expect(h!.status, `${name}: ${JSON.stringify(h!.error)}`).toBe(status);
    expect(h!.error?.code, name).toBe(code);
    expect(h!.error?.message, name).toMatch(message);
    // a clear message: one readable line, not the facts script
    expect(h!.error!.message.length, `${name}: ${h!.error!.message}`).toBeLessThan(600);
    expect(h!.error!.message, name).not.toContain('@@fleetmend');
  };

  it('connection refused → unreachable E_CONNECT', () => expectFault('f-down', 'unreachable', 'E_CONNECT', /refused/));
  it('no SSH banner → unreachable E_BANNER_TIMEOUT', () => expectFault('f-no-banner', 'unreachable', 'E_BANNER_TIMEOUT', /no SSH banner within \d+ ms/));
  it('authentication failure → unreachable E_AUTH', () => expectFault('f-auth-fail', 'unreachable', 'E_AUTH', /authentication as \S+ on .* failed/));
  it('host key changed → unreachable E_HOSTKEY_CHANGED naming both fingerprints', () => {
    const h = fleet.host('f-hostkey-changed');
    expectFault('f-hostkey-changed', 'unreachable', 'E_HOSTKEY_CHANGED', /HOST KEY CHANGED/);
    const msg = hosts.get('f-hostkey-changed')!.error!.message;
    expect(msg).toContain(h.hostKeyFingerprint);
    const offered = [...msg.matchAll(/SHA256:[A-Za-z0-9+/]+/g)].map((m) => m[0]);
    expect(new Set(offered).size).toBe(2);
  });
  it('connection dropped mid-command → unreachable E_DISCONNECTED', () =>
    expectFault('f-drop', 'unreachable', 'E_DISCONNECTED', /lost during command: the facts script/));
  it('a command that never ends → failed E_CMD_TIMEOUT after the command timeout', () =>
    expectFault('f-hang', 'failed', 'E_CMD_TIMEOUT', /timed out after 3000 ms on f-hang: the facts script/));
  it('auditctl printing garbage → failed E_PARSE', () => expectFault('f-garbage', 'failed', 'E_PARSE', /auditctl -s output not understood/));
  it('32 MiB of output → failed E_OUTPUT_CAP, the cap and the bytes received reported; the rest never read', () => {
    expectFault('f-huge', 'failed', 'E_OUTPUT_CAP', new RegExp(`output capped at ${CAP} bytes \\(\\d+ bytes received\\)`));
    // the command is stopped at the cap: at most one SSH window (2 MiB) more arrives, not 32 MiB
    const received = Number(/\((\d+) bytes received\)/.exec(hosts.get('f-huge')!.error!.message)![1]);
    expect(received).toBeGreaterThan(CAP);
    expect(received).toBeLessThan(CAP + 4 * 1024 * 1024);
    const errs = hosts.get('f-huge')!.facts!.samples[0]!.parse_errors;
    expect(errs.some((e) => e.message.includes(`capped at ${CAP} bytes`))).toBe(true);
  });
  it('a slow host (1.5 s per command) and binary/invalid UTF-8 output still finish ok with parsed status', () => {
    for (const name of ['f-slow', 'f-binary']) {
      const h = hosts.get(name)!;
      expect(h.status, `${name}: ${JSON.stringify(h.error)}`).toBe('ok');
      expect(h.audit?.backlog_limit, name).toBe(fleet.host(name).model.status().backlogLimit);
    }
  });
  it('the healthy hosts finish ok', () => {
    for (const h of fleet.hosts.filter((x) => x.faults.length === 0)) expect(hosts.get(h.name)?.status, h.name).toBe('ok');
  });

  it('the run record is complete: every host has a row with the same status and error code', () => {
    expect(stored.finished).toBe(true);
    expect(stored.status).toBe('finished');
    expect(stored.pending).toEqual([]);
    expect(stored.hosts.map((h) => h.host).sort()).toEqual([...hosts.keys()].sort());
    expect(stored.hosts).toHaveLength(fleet.hosts.length - 1);
    for (const h of stored.hosts) {
      expect(h.status, h.host).toBe(hosts.get(h.host)!.status);
      expect(h.error?.code ?? null, h.host).toBe(hosts.get(h.host)!.error?.code ?? null);
    }
  });

  it('ends in bounded time and bounded memory, with the unreachable+failed exit code', () => {
    expect(res.code, res.stderr).toBe(6);
    // connect and command timeouts are 3 s; everything runs in parallel
    expect(res.wallMs).toBeLessThan(30_000);
    expect(res.maxRssKb).toBeGreaterThan(0);
    expect(res.maxRssKb / 1024).toBeLessThan(300);
  });
});

const cli = (argv: string[]) => runCliInProcess(argv);

describe('a host panics in the middle of a playbook', () => {
  let fleet: Fleet;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-panic-'));
    fleet = await startFleet({ scenario: 'states', dir: join(dir, 'fleet'), loginDelayScale: 0, downtimeMs: 60_000 });
  });
  afterAll(async () => {
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the panicking host is unreachable (E_DISCONNECTED), the others run every task; the record is complete', async () => {
    const pb = join(dir, 'panic.yml');
    // auditctl -f 2 on a host that is losing records: the kernel panics at once (reference §3)
    writeFileSync(pb, [
      '- name: panic mid-playbook',
      '  hosts: all',
      '  become: true',
      '  tasks:',
      '    - name: before',
      '      command: echo before',
      '    - name: panic mode',
      '      shell: auditctl -f 2',
      '    - name: after',
      '      command: echo after',
      '',
    ].join('\n'));
    const victim = fleet.host('st-records-lost');
    const bootBefore = victim.model.bootId;
    const t0 = Date.now();
    const r = await cli([
      'run', pb, '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '-l', 'st-records-lost:st-healthy:st-rhel',
      '--json', '-q', '--state-dir', join(dir, 'state'), '--connect-timeout', '3', '--command-timeout', '5',
    ]);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.stdout, `code ${r.code}: ${r.stderr}`).toMatch(/^\{/);
    expect(victim.model.power).not.toBe('up');
    expect(victim.model.bootId).toBe(bootBefore); // not back yet: it panicked, it did not reboot cleanly
    const doc = JSON.parse(r.stdout) as { run: { id: string }; hosts: (JsonHost & { tasks?: { task: string; status: string }[] })[] };
    const byName = new Map(doc.hosts.map((h) => [h.host, h]));
    const v = byName.get('st-records-lost')!;
    expect(v.status).toBe('unreachable');
    expect(v.error?.code).toBe('E_DISCONNECTED');
    expect(v.error?.message).toMatch(/lost during command: auditctl -f 2/);
    expect(v.tasks?.find((t) => t.task === 'before')?.status).toBe('changed');
    expect(v.tasks?.find((t) => t.task === 'panic mode')?.status).toBe('unreachable');
    expect(v.tasks?.find((t) => t.task === 'after')?.status).toBe('skipped'); // never ran
    for (const name of ['st-healthy', 'st-rhel']) {
      const h = byName.get(name)!;
      expect(h.status, `${name}: ${JSON.stringify(h.error)}`).toBe('changed');
      expect(h.tasks?.map((t) => t.task)).toEqual(['before', 'panic mode', 'after']);
    }
    expect(r.code).toBe(4);
    const store = openStore(join(dir, 'state'));
    try {
      const run = store.getRun(doc.run.id);
      expect(run.pending).toEqual([]);
      const rows = new Map(run.hosts.map((h: HostResult) => [h.host, h]));
      expect(rows.get('st-records-lost')?.status).toBe('unreachable');
      expect(rows.get('st-healthy')?.status).toBe('changed');
      expect(rows.get('st-rhel')?.status).toBe('changed');
    } finally {
      store.close();
    }
  }, 60_000);
});
