/**
 * Metrics end to end on the simulated fleet (states scenario, real SSH):
 * - `sweep --metrics-file` writes a textfile whose values are the sweep's own, and that
 *   `promtool check metrics` accepts;
 * - the example alert rules pass `promtool check rules` and `promtool test rules`;
 * - the /metrics server negotiates the format and refuses what it does not serve;
 * - a real Prometheus (Debian's package, started here on loopback with its own config and data
 *   dir) scrapes `fleetmend schedule --metrics-listen` (the built binary, cron every second) and
 *   its HTTP API returns a host's backlog as the scheduled sweep recorded it.
 * The promtool/Prometheus parts skip with a message when the tools are absent (.ci/run installs them).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/executor/clock.js';
import { LatestSweep, startMetricsServer, type MetricsServer } from '../../src/metrics/index.js';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { openStore, type StoredRun } from '../../src/store/index.js';
import { CLI_BIN, runCli } from '../helpers/cli.js';
import { scenarioOf } from '../fixtures/playbooks/sim-harness.js';

const PROMETHEUS = '/usr/bin/prometheus';
const havePromtool = !spawnSync('promtool', ['--version']).error;
const havePrometheus = existsSync(PROMETHEUS);
if (!havePromtool) console.warn('metrics: promtool checks skipped: promtool not found (apt-get install -y prometheus)');
if (!havePrometheus) console.warn(`metrics: Prometheus scrape test skipped: ${PROMETHEUS} not found (apt-get install -y prometheus)`);

const EXAMPLES = resolve('examples/prometheus');
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let fleet: Fleet;
let dir: string;
const children: ChildProcess[] = [];
const servers: MetricsServer[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-metrics-sim-'));
  fleet = await startFleet({ scenario: 'states', dir: join(dir, 'fleet'), loginDelayScale: 0 });
});
afterAll(async () => {
  for (const c of children) await stopChild(c);
  for (const s of servers) await s.close();
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** SIGTERM, then SIGKILL after 10 s: by PID, and waited for. */
async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || !c.pid) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  process.kill(c.pid, 'SIGTERM');
  const timer = setTimeout(() => c.pid && c.exitCode === null && process.kill(c.pid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** GET `url` with the Host header a browser would send for `host` (fetch does not let a page set it). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Parses `name{labels} value` lines of text 0.0.4 into `name{labels}` -> value. */
function parseText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

interface JsonHost {
  host: string;
  status: string;
  audit: { backlog: number; backlog_limit: number; lost: number; enabled: number; failure: number; backlog_wait_time_actual?: number } | null;
  diagnosis?: { state: string };
  compliance?: { compliant: boolean };
}

describe('sweep --metrics-file on the simulated fleet', () => {
  let text: string;
  let doc: { run: { started_at: string; finished_at: string }; hosts: JsonHost[] };
  const file = () => join(dir, 'textfile', 'fleetmend.prom');

  beforeAll(async () => {
    const out = join(dir, 'textfile');
    rmSync(out, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', out]);
    const r = await runCli(['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '--json', '-q', '--no-store', '--metrics-file', file()]);
    expect(r.stderr).toContain(`metrics: ${file()}`);
    doc = JSON.parse(r.stdout);
    text = readFileSync(file(), 'utf8');
  });

  it("holds each host's values from the same sweep (the --json document)", () => {
    const m = parseText(text);
    const read = doc.hosts.filter((h) => h.audit);
    expect(read.length).toBeGreaterThan(10);
    for (const h of read) {
      const l = `{host="${h.host}"}`;
      expect(m.get(`fleetmend_audit_backlog${l}`), h.host).toBe(h.audit!.backlog);
      expect(m.get(`fleetmend_audit_backlog_limit${l}`), h.host).toBe(h.audit!.backlog_limit);
      expect(m.get(`fleetmend_audit_lost_total${l}`), h.host).toBe(h.audit!.lost);
      expect(m.get(`fleetmend_audit_enabled${l}`), h.host).toBe(h.audit!.enabled);
      expect(m.get(`fleetmend_audit_failure_mode${l}`), h.host).toBe(h.audit!.failure);
      if (h.audit!.backlog_wait_time_actual !== undefined) {
        // Debian hosts of the simulator: HZ 250; the RHEL ones: 1000
        const hz = h.host === 'st-rhel' || h.host === 'st-auditctl-v1' ? 1000 : 250;
        expect(m.get(`fleetmend_audit_backlog_wait_seconds_total${l}`), h.host).toBeCloseTo(h.audit!.backlog_wait_time_actual / hz, 9);
      }
      expect(m.get(`fleetmend_host_state{host="${h.host}",state="${h.diagnosis!.state}"}`), h.host).toBe(1);
      expect(m.get(`fleetmend_host_compliant${l}`), h.host).toBe(h.compliance!.compliant ? 1 : 0);
      expect(m.get(`fleetmend_host_up${l}`), h.host).toBe(1);
    }
    // a stuck auditd's backlog reads anywhere up to limit+1 on 6.1 (kauditd empties the main queue every pass): the losses show
    expect(m.get('fleetmend_audit_lost_total{host="st-records-lost"}')).toBeGreaterThan(0);
    expect(m.get('fleetmend_audit_backlog_wait_seconds_total{host="st-tasks-stalled"}')).toBeGreaterThan(0);
    expect(m.has('fleetmend_audit_backlog{host="st-no-auditctl"}')).toBe(false);
    expect(m.get('fleetmend_host_up{host="st-no-auditctl"}')).toBe(1);
    expect(m.get('fleetmend_sweep_hosts')).toBe(fleet.hosts.length);
    expect(m.get('fleetmend_sweep_last_success_timestamp_seconds')).toBe(Date.parse(doc.run.finished_at) / 1000);
    expect(m.get('fleetmend_sweep_duration_seconds')).toBe((Date.parse(doc.run.finished_at) - Date.parse(doc.run.started_at)) / 1000);
    const states = [...m].filter(([k]) => k.startsWith('fleetmend_hosts{'));
    expect(states.reduce((a, [, v]) => a + v, 0)).toBe(doc.hosts.filter((h) => h.diagnosis).length);
  });

  it.skipIf(!havePromtool)('passes promtool check metrics (the linter: names, units, HELP, _total)', () => {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
    // the linter can fail: a gauge named like a counter is reported
    const bad = spawnSync('promtool', ['check', 'metrics'], { input: '# HELP x_total h\n# TYPE x_total gauge\nx_total 1\n', encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
  });

  it('refuses a directory that does not exist before contacting any host (exit 1)', async () => {
    const r = await runCli(['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '-q', '--no-store', '--metrics-file', join(dir, 'nope', 'x.prom')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--metrics-file .*nope.* is not writable \(ENOENT\)/);
    expect(r.stdout).toBe('');
  });
});

describe("backlog_wait_seconds with the host's own HZ (its /boot/config-RELEASE), not its distribution's", () => {
  let small: Fleet;
  let doc: { hosts: (JsonHost & { facts: { samples: { system: { kernel_hz?: number } }[] } })[] };
  let m: Map<string, number>;
  const scenario = scenarioOf('hz', (mk) => [
    // Debian's kernels run at 250; this one was built with HZ=300
    { spec: { ...mk.debian('deb-hz300'), hz: 300, waitActual: 90_000 } },
    { spec: { ...mk.debian('deb-stock'), waitActual: 90_000 } },
    // no /boot/config (removed below): the distribution's stock value
    { spec: { ...mk.rhel('rhel-noconfig'), waitActual: 90_000 } },
  ]);

  beforeAll(async () => {
    small = await startFleet({ scenario, dir: join(dir, 'hz-fleet'), loginDelayScale: 0 });
    const rhel = small.host('rhel-noconfig').machine;
    rhel.fs.remove(`/boot/config-${rhel.kernel.kernelRelease}`, true);
    const file = join(dir, 'hz.prom');
    const r = await runCli(['sweep', '-i', small.inventoryPath, '--known-hosts', small.knownHostsPath, '--samples', '1', '--json', '-q', '--no-store', '--metrics-file', file]);
    doc = JSON.parse(r.stdout);
    m = parseText(readFileSync(file, 'utf8'));
  });
  afterAll(async () => {
    await small?.stop();
  });

  it('divides by the CONFIG_HZ the fact script read, else by the stock HZ of the release', () => {
    const read = (h: string) => doc.hosts.find((x) => x.host === h)!;
    const hz = (h: string) => read(h).facts.samples.at(-1)!.system.kernel_hz;
    expect([hz('deb-hz300'), hz('deb-stock'), hz('rhel-noconfig')]).toEqual([300, 250, undefined]);
    for (const [h, div] of [['deb-hz300', 300], ['deb-stock', 250], ['rhel-noconfig', 1000]] as const) {
      const ticks = read(h).audit!.backlog_wait_time_actual!;
      expect(ticks, h).toBeGreaterThanOrEqual(90_000);
      expect(m.get(`fleetmend_audit_backlog_wait_seconds_total{host="${h}"}`), h).toBeCloseTo(ticks / div, 9);
    }
  });
});

describe.skipIf(!havePromtool)('the example alert rules', () => {
  it('pass promtool check rules and promtool test rules', () => {
    const check = spawnSync('promtool', ['check', 'rules', 'fleetmend.rules.yml'], { cwd: EXAMPLES, encoding: 'utf8' });
    expect(check.stdout + check.stderr).toContain('SUCCESS: 5 rules found');
    expect(check.status).toBe(0);
    const test = spawnSync('promtool', ['test', 'rules', 'fleetmend.rules.test.yml'], { cwd: EXAMPLES, encoding: 'utf8' });
    expect(test.stdout + test.stderr).toContain('SUCCESS');
    expect(test.status).toBe(0);
    const config = spawnSync('promtool', ['check', 'config', 'prometheus.yml'], { cwd: EXAMPLES, encoding: 'utf8' });
    expect(config.status, config.stdout + config.stderr).toBe(0);
  });
});

describe('the /metrics server', () => {
  let server: MetricsServer;
  const latest = new LatestSweep();

  beforeAll(async () => {
    server = await startMetricsServer({ host: '127.0.0.1', port: 0 }, () => latest.get());
    servers.push(server);
  });

  it('serves fleetmend_up alone before the first sweep, then the latest one, in the asked format', async () => {
    const empty = await fetch(server.url, { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe(
      '# HELP fleetmend_up The fleetmend scheduler is running (the sweep series appear once its first sweep is recorded).\n' +
        '# TYPE fleetmend_up gauge\nfleetmend_up 1\n# EOF\n',
    );
    const r = await runCli(['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '-q', '--state-dir', join(dir, 'srv-state')]);
    expect(r.code).toBe(2);
    const store = openStore(join(dir, 'srv-state'));
    let stored: StoredRun;
    try {
      stored = store.getRun('latest');
    } finally {
      store.close();
    }
    expect(latest.update(stored)).toBe(true);
    const om = await fetch(server.url, { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(om.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const omText = await om.text();
    expect(omText).toMatch(/\n# TYPE fleetmend_audit_lost counter\n/);
    expect(omText).toMatch(/\n# UNIT fleetmend_audit_backlog_wait_seconds seconds\n/);
    expect(omText.endsWith('\n# EOF\n')).toBe(true);
    expect(omText).toMatch(/^fleetmend_up 1$/m);
    const plain = await fetch(server.url);
    expect(plain.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const plainText = await plain.text();
    expect(plainText).toMatch(/\n# TYPE fleetmend_audit_lost_total counter\n/);
    const backlog = stored.hosts.find((h) => h.host === 'st-records-lost')!.audit!.backlog;
    expect(parseText(plainText).get('fleetmend_audit_backlog{host="st-records-lost"}')).toBe(backlog);
  });

  it('answers only GET/HEAD on /metrics', async () => {
    expect((await fetch(server.url, { method: 'POST', body: 'x' })).status).toBe(405);
    expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
    const head = await fetch(server.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('answers 421 to a Host that is not its own (DNS rebinding), with a short body and no series', async () => {
    const port = server.address.port;
    for (const host of ['evil.example', `evil.example:${port}`, `localhost.evil.example:${port}`, `127.0.0.1.nip.io:${port}`]) {
      const r = await getWithHost(server.url, host);
      expect(r.status, host).toBe(421);
      expect(r.body).toMatch(/^misdirected request/);
      expect(r.body.length).toBeLessThan(120);
      expect(r.body).not.toContain('fleetmend_');
    }
    expect((await getWithHost(server.url.replace('/metrics', '/'), 'evil.example')).status).toBe(421);
    for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'localhost', 'localhost:1']) {
      const r = await getWithHost(server.url, host);
      expect(r.status, host).toBe(200);
      expect(r.body).toContain('# TYPE fleetmend_audit_backlog gauge');
    }
  });

  it('on ::1 and on a non-loopback interface address: its own address passes, another name does not', async () => {
    const v6 = await startMetricsServer({ host: '::1', port: 0 }, () => latest.get());
    servers.push(v6);
    expect((await getWithHost(v6.url, `[::1]:${v6.address.port}`)).status).toBe(200);
    expect((await getWithHost(v6.url, 'evil.example')).status).toBe(421);
    // the machine's own interface (the connection stays on this machine); skipped without one
    const own = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (own === undefined) return;
    const remote = await startMetricsServer({ host: own, port: 0 }, () => latest.get());
    servers.push(remote);
    expect((await getWithHost(remote.url, `${own}:${remote.address.port}`)).status).toBe(200);
    expect((await getWithHost(remote.url, own)).status).toBe(200);
    expect((await getWithHost(remote.url, `rebind.evil.example:${remote.address.port}`)).status).toBe(421);
  });

  it('schedule --metrics-listen refuses a non-loopback address and a scheduled playbook run (exit 1)', async () => {
    const a = await runCli(['schedule', '--cron', '* * * * * *', '--metrics-listen', '0.0.0.0:0', '--state-dir', join(dir, 'x'), '--', 'sweep', '-i', fleet.inventoryPath]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/0\.0\.0\.0 is not a loopback address.*--metrics-allow-remote/);
    const b = await runCli(['schedule', '--cron', '* * * * * *', '--metrics-listen', '127.0.0.1:0', '--state-dir', join(dir, 'x'), '--', 'run', 'playbooks/audit-status.yml', '-i', fleet.inventoryPath]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain("--metrics-listen serves the metrics of a scheduled sweep, not of 'run'");
  });
});

describe.skipIf(!havePrometheus)('a real Prometheus scraping fleetmend schedule --metrics-listen', () => {
  let api: string;
  let stateDir: string;

  /** Spawns and waits for a line matching `re` on stderr (bounded), returning its first group. */
  async function startAndWait(cmd: string, args: string[], re: RegExp, what: string): Promise<{ child: ChildProcess; match: string; log: () => string }> {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    children.push(child);
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    child.stdout!.resume();
    const deadline = Date.now() + 30_000;
    while (!re.test(log) && Date.now() < deadline && child.exitCode === null) await systemClock.sleep(50);
    const m = re.exec(log);
    if (!m) throw new Error(`${what} did not start: ${log.slice(-2000)}`);
    return { child, match: m[1]!, log: () => log };
  }

  beforeAll(async () => {
    stateDir = join(dir, 'sched-state');
    const sched = await startAndWait(process.execPath, [
      CLI_BIN, 'schedule', '--cron', '* * * * * *', '--metrics-listen', '127.0.0.1:0', '--state-dir', stateDir, '--',
      'sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '-q', '--json',
    ], /schedule: metrics on http:\/\/(127\.0\.0\.1:\d+)\/metrics/, 'fleetmend schedule');
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, [
      'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:', '  - job_name: fleetmend',
      '    static_configs:', `      - targets: ['${sched.match}']`, '',
    ].join('\n'));
    const prom = await startAndWait(PROMETHEUS, [
      `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, '--web.listen-address=127.0.0.1:0', '--log.level=info',
    ], /msg="Listening on" address=(127\.0\.0\.1:\d+)/, 'prometheus');
    api = `http://${prom.match}/api/v1`;
    // "Listening on" comes before the TSDB is loaded: the API answers 503 until /-/ready says so (bounded)
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await fetch(`http://${prom.match}/-/ready`).then((r) => r.status === 200, () => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`prometheus not ready after 60 s: ${prom.log().slice(-2000)}`);
      await systemClock.sleep(200);
    }
  });

  async function query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const r = await fetch(`${api}/query?query=${encodeURIComponent(promql)}`);
    const body = (await r.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    expect(body.status).toBe('success');
    return body.data.result;
  }

  /** Polls until the query has a result (bounded: 40 s). */
  async function eventually(promql: string) {
    const deadline = Date.now() + 40_000;
    for (;;) {
      const res = await query(promql);
      if (res.length || Date.now() > deadline) return res;
      await systemClock.sleep(250);
    }
  }

  function storedBacklogs(host: string): number[] {
    const store = openStore(stateDir);
    try {
      return store.listRuns().map((r) => store.getRun(r.id).hosts.find((h) => h.host === host)?.audit?.backlog).filter((v): v is number => v !== undefined);
    } finally {
      store.close();
    }
  }

  it("returns a host's backlog from the API as the scheduled sweep recorded it", async () => {
    const growing = await eventually('fleetmend_audit_backlog{host="st-backlog-growing"}');
    expect(growing).toHaveLength(1);
    expect(growing[0]!.metric).toMatchObject({ job: 'fleetmend', host: 'st-backlog-growing' });
    // the backlog of a stuck auditd grows run by run: the scraped value is one recorded run's
    expect(storedBacklogs('st-backlog-growing')).toContain(Number(growing[0]!.value[1]));
    // on 6.1 a stuck host's backlog moves between passes, so the scraped value is one recorded run's, not always the newest
    const lost = await query('fleetmend_audit_backlog{host="st-records-lost"}');
    expect(lost).toHaveLength(1);
    expect(storedBacklogs('st-records-lost')).toContain(Number(lost[0]!.value[1]));
  });

  it('scraped OpenMetrics (counter family without _total, unit seconds), target healthy', async () => {
    const meta = (await (await fetch(`${api}/metadata`)).json()) as { data: Record<string, { type: string; unit: string }[]> };
    expect(meta.data['fleetmend_audit_lost']?.[0]?.type).toBe('counter');
    expect(meta.data['fleetmend_audit_backlog_wait_seconds']?.[0]).toMatchObject({ type: 'counter', unit: 'seconds' });
    expect(meta.data['fleetmend_host_state']?.[0]?.type).toBe('gauge');
    const targets = (await (await fetch(`${api}/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
    expect(targets.data.activeTargets).toEqual([expect.objectContaining({ health: 'up', lastError: '' })]);
    const stale = await query('time() - fleetmend_sweep_last_success_timestamp_seconds');
    expect(Number(stale[0]!.value[1])).toBeLessThan(30);
    const states = await query('sum(fleetmend_hosts)');
    expect(Number(states[0]!.value[1])).toBe(fleet.hosts.length);
  });
});
