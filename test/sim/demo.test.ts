/**
 * `fleetmend demo` as a newcomer runs it: the built binary, from a directory that is not the
 * repository, on the simulated incident fleet. Each of the five steps must leave its evidence in
 * the output and in the run store: the findings, the check-mode diff, the panic guard's refusal
 * of failure 2 on the host losing records, the apply changing that host, and the drift showing the
 * finding resolved. `npm run build` first (the test spawns dist/bin/main.js).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN } from '../helpers/cli.js';

interface Ran {
  code: number | null;
  out: string;
  stdout: string;
  stderr: string;
  ms: number;
}

let dir: string;

function cli(args: string[]): Promise<Ran> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [CLI_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let out = '';
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), (out += d.toString())));
  child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), (out += d.toString())));
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, out, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** The text of step n (from its header to the next one). */
function step(out: string, n: number): string {
  const start = out.indexOf(`(${n}/5) `);
  const next = out.indexOf(`(${n + 1}/5) `, start);
  expect(start, `step ${n} header`).toBeGreaterThan(-1);
  return out.slice(start, next === -1 ? undefined : next);
}

let demo: Ran;
let state: string;
let reports: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-demo-'));
  state = join(dir, 'state');
  reports = join(dir, 'reports');
  demo = await cli(['demo', '-o', reports, '--state-dir', state]);
}, 100_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('fleetmend demo (the built binary, incident scenario)', () => {
  it('runs the whole story in under a minute and exits 0', () => {
    expect(demo.code, demo.out).toBe(0);
    expect(demo.ms).toBeLessThan(60_000);
    expect(demo.stdout).toContain('The story ran as expected');
  });

  it('(1) sweeps and says what is wrong and why', () => {
    const s = step(demo.out, 1);
    // the sweep's own output (issue 24.1): the demo prints none of its own
    expect(s).toMatch(/^app-03 +records-lost +\d+\/8192 +\d+ +backlog-growing; .*non-compliant: .*lost-not-increasing/m);
    expect(s).toContain('\nWhat needs attention:\n');
    expect(s).toMatch(/^ {2}app-03: \[critical\] records-lost: \d+ audit records? lost/m);
    expect(s).toMatch(/^ {2}app-03: \[critical\] auditd-not-running: auditd \(pid \d+\) is stopped \(state T\)/m);
    expect(s).toMatch(/^ {6}→ restart auditd \(`systemctl restart auditd`\)/m);
  });

  it('(2) predicts the restart in check mode, with the diff, on the incident host only', () => {
    const s = step(demo.out, 2);
    expect(s).toMatch(/fleetmend run \S*playbooks\/restart-auditd\.yml .*--limit app-03 --check --diff/);
    expect(s).toMatch(/^TASK \[Restart auditd\] \*+\nchanged: \[app-03\]\n {2}--- before: service auditd\n {2}\+\+\+ after: service auditd\n/m);
    expect(s).not.toContain('Would change');
    expect(s).toMatch(/app-03 : ok=\d+ changed=1 unreachable=0 failed=0/);
    expect(s).not.toMatch(/web-01 :|db-01 :/);
  });

  it('(3) shows the panic guard refusing failure 2 on the host that is losing records', () => {
    const s = step(demo.out, 3);
    expect(s).toContain('failure 2 on app-03, the host that is losing records');
    expect(s).toMatch(/^TASK \[Set the audit failure mode to 2 \(panic\)\] \*+\nfailed: \[app-03\]: E_GUARD: panic guard: refusing failure 2 \(panic\), it would panic this host: (?:.*; )?records are being lost \(lost \d+ -> \d+ between two samples\)/m);
    expect(s).not.toContain('Refused, as it should be');
    expect(s).toMatch(/app-03 : ok=0 changed=0 unreachable=0 failed=1/);
  });

  it('(4) applies the restart and changes the incident host', () => {
    const s = step(demo.out, 4);
    expect(s).toMatch(/^TASK \[Restart auditd\] \*+\nchanged: \[app-03\]\n {2}--- before: service auditd\n {2}\+\+\+ after: service auditd\n {2}-active, MainPID \d+\n {2}\+active, MainPID \d+\n/m);
    expect(s).toMatch(/^TASK \[Verify the backlog is back near zero and auditd runs\] \*+\nok: \[app-03\]$/m);
    // the playbook's watch (--watch 5 in the demo): the restarted host still drains 5 s later
    expect(s).toMatch(/^TASK \[watch 5s\] \*+\nok: \[app-03\]$/m);
    expect(s).toMatch(/app-03 : ok=5 changed=1 unreachable=0 failed=0 skipped=0/);
  });

  it('(5) sweeps again and the drift shows the finding resolved', () => {
    const s = step(demo.out, 5);
    expect(s).toMatch(/fleetmend sweep .*--since-last/);
    expect(s).toMatch(/drift: 1 host changed since run \S+/);
    expect(s).toMatch(/^\s+app-03\s+(?:state records-lost → healthy\n\s+)?resolved finding records-lost$/m);
    // the summary table no longer lists app-03 as needing attention
    expect(s.slice(s.indexOf('HOST '))).not.toMatch(/^app-03 /m);
  });

  it('ends with the HTML report that exists and the history commands, which work', async () => {
    const html = /^Report \(open in a browser\): (\S+report\.html)$/m.exec(demo.stdout)?.[1];
    expect(html).toBeDefined();
    // paths are shown relative to where the operator stands (the demo ran in `dir`)
    const abs = resolve(dir, html!);
    expect(abs.startsWith(reports + sep), abs).toBe(true);
    expect(existsSync(abs)).toBe(true);
    expect(demo.stdout).toMatch(/^History: node dist\/bin\/main\.js runs --state-dir state$/m);
    expect(demo.stdout).toMatch(/^\s+node dist\/bin\/main\.js history app-03 --state-dir state$/m);

    const runs = await cli(['runs', '--state-dir', state]);
    expect(runs.code).toBe(0);
    // two sweeps and three playbook runs: check, guard, apply
    expect(runs.stdout.match(/ sweep /g)).toHaveLength(2);
    // check mode once, then the guard's run and the restart, both for real
    expect(runs.stdout.match(/ check /g)).toHaveLength(1);
    expect(runs.stdout.match(/ apply /g)).toHaveLength(2);
    const history = await cli(['history', 'app-03', '--state-dir', state]);
    expect(history.code).toBe(0);
    const rows = history.stdout.trim().split('\n').slice(1);
    // the queue of a stuck auditd reads anywhere up to limit+1 on 6.1 (kauditd empties it each pass)
    expect(rows[0]).toMatch(/records-lost\s+\d+\s+8192\s/);
    expect(rows.at(-1)).toMatch(/\shealthy\s/);
  });
});

describe('fleetmend demo when the story does not hold', () => {
  it('exits nonzero and says which step did not show what it should (a fleet with no incident)', async () => {
    const r = await cli(['demo', '--scenario', 'healthy', '--hosts', '3', '-o', join(dir, 'r2'), '--state-dir', join(dir, 's2')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/demo: the story did not run as expected: the first sweep found no host whose auditd does not drain/);
    expect(r.stdout).not.toContain('The story ran as expected');
    expect(r.stdout).not.toContain('(2/5)');
  }, 60_000);
});

describe('fleetmend demo --cluster (a local redis-server and 2 workers take every sweep and playbook host)', () => {
  it('runs the same story with the hosts spread over the workers, the apply included', async () => {
    const r = await cli(['demo', '--cluster', '--workers', '2', '-o', join(dir, 'r3'), '--state-dir', join(dir, 's3')]);
    expect(r.code, r.out).toBe(0);
    expect(r.stdout).toContain('The story ran as expected');
    const perWorker = /Hosts per worker:\n((?:\s+\S+: \d+\n)+)/.exec(r.stdout)?.[1];
    expect(perWorker, r.stdout).toBeDefined();
    const counts = [...perWorker!.matchAll(/:\s(\d+)\n/g)].map((m) => Number(m[1]));
    expect(counts).toHaveLength(2);
    // every host of the first sweep was taken by one of the two workers
    const fleetSize = Number(/audit status of all (\d+) hosts/.exec(r.stdout)?.[1]);
    expect(fleetSize).toBeGreaterThan(2);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(fleetSize);
    // the playbook's apply ran on a worker, not in the demo's own process
    expect(r.stdout).toMatch(/^Applied by: app-03 on worker-[12]$/m);
  }, 120_000);
});
