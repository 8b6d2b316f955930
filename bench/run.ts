/**
 * `npm run bench [-- --hosts N --forks 50,200 --sim-hosts 1000 --scale 5000 --skip-sshd --cap-hosts 41 --cap-runs 3 --cap-only]`
 *
 * Issue 8: fleetmend's sweep against the OpenSSH client baseline (one `ssh` process per host
 * under `xargs -P`), on real sshd hosts on loopback; then the runner's memory and per-host CPU
 * on the simulator (a separate process), an optional scale check, the distributed rows, and
 * the output-cap row (issue 17.7: peak RSS with one real host spewing 60 MiB, in every run).
 * Every measured command is a child process timed by measure.ts; the table goes to stdout and a JSON file to
 * bench/results/. No assertions: targets print PASS/FAIL.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CAP_SPEW_BYTES, capRunPasses, capVerdict, cpuOf, evaluateCapTargets, evaluateTargets, formatTable, hostCpuOf, formatTargets, medianByWall, parseBenchArgs, perHostSampleCpuMs, resultFileName, toRow, withRatios, type BenchOptions, type CapRun, type Row, type TargetResult, type Tool } from './lib.js';
import { measure, measureMethod, type Measured } from './measure.js';
import { sshdUnavailableReason, startRealFleet, startSimProcess, type BenchFleet } from './fleets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'bin', 'main.js');
const SWEEP_TIMEOUT_MS = 15 * 60_000;
const CONNECT_TIMEOUT_S = 120;
/** Hosts of the warm-up pass: enough to fault in sshd, bash and the fake scripts. */
const WARMUP_HOSTS = 16;
/** The floor client (bench/floor.ts, compiled beside this file). */
const FLOOR = join(dirname(fileURLToPath(import.meta.url)), 'floor.js');
/** A line every `auditctl -s` status prints once: one per host that answered. */
const STATUS_LINE = 'backlog_limit ';
/** Forks of the output-cap row: the CLI's default, every one of its 41 hosts at once. */
const CAP_FORKS = 50;

/** The one command of every baseline: the audit status, through sudo for a non-root login. */
function statusCommand(fleet: BenchFleet): string {
  return fleet.nonRootLogin ? 'sudo -n auditctl -s' : 'auditctl -s';
}

const log = (line: string) => process.stderr.write(`${line}\n`);

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * measure() plus the hosts' sshd CPU for this run (Measurement.sshdCpuS). Read again after a
 * short pause: sessions the tool just closed are reaped (and counted) a moment after it exits.
 */
async function measureOn(fleet: BenchFleet, spec: Parameters<typeof measure>[0]): Promise<Measured> {
  const before = fleet.sshdCpuTicks?.();
  const m = await measure(spec);
  if (before === undefined || !fleet.sshdCpuTicks) return m;
  await new Promise((r) => setTimeout(r, 500));
  return { ...m, sshdCpuS: (fleet.sshdCpuTicks() - before) / CLK_TCK };
}
const load1 = (): number => Number((loadavg()[0] ?? 0).toFixed(2));

interface LoadNote {
  what: string;
  load1: number;
}
const loads: LoadNote[] = [];

function noteLoad(what: string): void {
  loads.push({ what, load1: load1() });
}

/** fleetmend's full diagnosis sweep as a child process; completed = hosts that returned facts. */
async function timeSweep(fleet: BenchFleet, forks: number, samples: number, work: string): Promise<{ m: Measured; completed: number }> {
  const out = join(work, `sweep-${forks}-${samples}.json`);
  // --connect-timeout 120 = the test sshd's LoginGraceTime: on this 2-core box 200 concurrent
  // logins can take longer than the default 60 s, and the ssh baseline has no such limit either.
  const argv = [process.execPath, CLI, 'sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', String(samples), '--interval', '0', '--no-store', '--forks', String(forks), '--connect-timeout', String(CONNECT_TIMEOUT_S), '-q', '--json', ...(fleet.nonRootLogin ? ['-b'] : [])];
  noteLoad(`fleetmend ${fleet.kind} ${fleet.hosts} hosts forks ${forks} samples ${samples}`);
  const m = await measureOn(fleet, { argv, stdout: { file: out }, timeoutMs: SWEEP_TIMEOUT_MS });
  let completed = 0;
  try {
    const doc = JSON.parse(await readFile(out, 'utf8')) as { summary: { hosts: number; unreachable: number; interrupted: number }; hosts: { error: { code: string; message: string } | null }[] };
    completed = doc.summary.hosts - doc.summary.unreachable - doc.summary.interrupted;
    const errors = new Map<string, number>();
    for (const h of doc.hosts) if (h.error) errors.set(h.error.code, (errors.get(h.error.code) ?? 0) + 1);
    if (errors.size > 0) log(`  fleetmend host errors: ${[...errors].map(([c, n]) => `${c} x${n}`).join(', ')}; first: ${doc.hosts.find((h) => h.error)?.error?.message ?? ''}`);
  } catch {
    log(`  fleetmend sweep printed no JSON (exit ${m.exitCode}): ${m.stderrTail.slice(-800)}`);
  }
  await rm(out, { force: true });
  if (completed < fleet.hosts) log(`  WARNING: fleetmend reached ${completed}/${fleet.hosts} hosts (exit ${m.exitCode}) ${m.stderrTail.slice(-400)}`);
  return { m, completed };
}

/** Counts status lines in a stream (chunks may split a line). */
function statusCounter(): { onData: (chunk: Buffer) => void; count: () => number } {
  let n = 0;
  let tail = '';
  return {
    onData: (chunk) => {
      const text = tail + chunk.toString('latin1');
      for (let i = text.indexOf(STATUS_LINE); i >= 0; i = text.indexOf(STATUS_LINE, i + 1)) n++;
      tail = text.slice(-STATUS_LINE.length + 1);
    },
    count: () => n,
  };
}

/** OpenSSH: `xargs -P forks` running `ssh -F cfg -o BatchMode=yes HOST '<the status command>'` per host. */
async function timeOpenssh(fleet: BenchFleet, forks: number, extra: readonly string[] = []): Promise<{ m: Measured; completed: number }> {
  const argv = ['xargs', '-P', String(forks), '-a', fleet.hostListPath, '-I', '{}', 'ssh', '-n', '-F', fleet.sshConfigPath, '-o', 'BatchMode=yes', ...extra, '{}', statusCommand(fleet)];
  noteLoad(`openssh ${fleet.kind} ${fleet.hosts} hosts -P ${forks}${extra.length ? ` ${extra.join(' ')}` : ''}`);
  const counter = statusCounter();
  const m = await measureOn(fleet, { argv, stdout: { onData: counter.onData }, timeoutMs: SWEEP_TIMEOUT_MS });
  const completed = counter.count();
  if (completed < fleet.hosts) log(`  WARNING: openssh completed ${completed}/${fleet.hosts} hosts (xargs exit ${m.exitCode}) ${m.stderrTail.slice(-400)}`);
  return { m, completed };
}

/** The floor: a bare ssh2 client, one login and one status command per host (bench/floor.ts). */
async function timeFloor(fleet: BenchFleet, forks: number, work: string): Promise<{ m: Measured; completed: number }> {
  const out = join(work, `floor-${forks}.txt`);
  noteLoad(`floor ${fleet.kind} ${fleet.hosts} hosts forks ${forks}`);
  const m = await measureOn(fleet, { argv: [process.execPath, FLOOR, fleet.hostsJsonPath, String(forks), statusCommand(fleet)], stdout: { file: out }, timeoutMs: SWEEP_TIMEOUT_MS });
  const completed = Number(/floor ok (\d+)/.exec(await readFile(out, 'utf8').catch(() => ''))?.[1] ?? 0);
  await rm(out, { force: true });
  if (completed < fleet.hosts) log(`  WARNING: floor completed ${completed}/${fleet.hosts} hosts (exit ${m.exitCode}) ${m.stderrTail.slice(-400)}`);
  return { m, completed };
}

/** ansible-core, where installed: `ansible all -m command -a 'auditctl -s' -b -f forks`. */
async function timeAnsible(fleet: BenchFleet, forks: number, work: string): Promise<{ m: Measured; completed: number }> {
  const env = {
    ...process.env,
    ANSIBLE_SSH_ARGS: `-o UserKnownHostsFile=${fleet.knownHostsPath} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes`,
    ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
    // the test account's home belongs to root: the module files go to /tmp
    ANSIBLE_REMOTE_TMP: '/tmp/.ansible-fm-bench',
    ANSIBLE_LOCAL_TEMP: join(work, 'ansible-local'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_LOAD_CALLBACK_PLUGINS: '0',
  };
  noteLoad(`ansible ${fleet.kind} ${fleet.hosts} hosts -f ${forks}`);
  const counter = statusCounter();
  const argv = ['ansible', 'all', '-i', fleet.inventoryPath, '-m', 'command', '-a', 'auditctl -s', ...(fleet.nonRootLogin ? ['-b'] : []), '-f', String(forks)];
  const m = await measureOn(fleet, { argv, stdout: { onData: counter.onData }, timeoutMs: SWEEP_TIMEOUT_MS, env });
  const completed = counter.count();
  if (completed < fleet.hosts) log(`  WARNING: ansible completed ${completed}/${fleet.hosts} hosts (exit ${m.exitCode}) ${m.stderrTail.slice(-400)}`);
  return { m, completed };
}

function hasAnsible(): boolean {
  return spawnSync('ansible', ['--version'], { stdio: 'ignore' }).status === 0;
}

type Timed = { m: Measured; completed: number };

async function repeated(times: number, once: () => Promise<Timed>): Promise<Timed> {
  return (await interleaved(times, { run: once }))['run'] as Timed;
}

/**
 * Each tool once per round, the tools in turn (fleetmend, floor, OpenSSH, then again): a drift
 * of the shared machine (the fleet's start-up settling, other work) falls on every tool alike
 * instead of on whichever runs first. The median of each tool's runs is kept.
 */
async function interleaved<K extends string>(times: number, tools: Record<K, () => Promise<Timed>>): Promise<Record<K, Timed>> {
  const names = Object.keys(tools) as K[];
  const runs = new Map<K, (Timed & { wallS: number })[]>(names.map((n) => [n, []]));
  for (let i = 0; i < times; i++) {
    for (const n of names) {
      const r = await tools[n]();
      runs.get(n)?.push({ ...r, wallS: r.m.wallS });
    }
  }
  const out = {} as Record<K, Timed>;
  for (const n of names) {
    const rs = runs.get(n) ?? [];
    if (times > 1) log(`  ${names.length > 1 ? `${n} ` : ''}runs: ${rs.map((r) => `${r.wallS.toFixed(2)} s`).join(', ')} (the median is shown)`);
    out[n] = medianByWall(rs);
  }
  return out;
}

function describe(tool: string, r: { m: Measured; completed: number }): void {
  const m = r.m;
  const hostCpu = hostCpuOf(m);
  const host = (hostCpu !== undefined ? `, host side ${hostCpu.toFixed(1)} s CPU` : '') + (m.sshdCpuS !== undefined ? ` (sshd + sessions ${m.sshdCpuS.toFixed(1)} s)` : '');
  log(`  ${tool.padEnd(15)} wall ${m.wallS.toFixed(2)} s, CPU ${cpuOf(m).toFixed(2)} s (user ${m.userS.toFixed(2)}, sys ${m.sysS.toFixed(2)}), peak RSS ${m.peakRssMb.toFixed(1)} MB${host}, ${r.completed} hosts, load ${load1()}`);
}

async function warmupList(fleet: BenchFleet, work: string): Promise<string> {
  const file = join(work, 'warmup-hosts.txt');
  const names = (await readFile(fleet.hostListPath, 'utf8')).split('\n').filter(Boolean).slice(0, WARMUP_HOSTS);
  await writeFile(file, names.join('\n') + '\n');
  return file;
}

/** Part 1: fleetmend vs OpenSSH at each forks on one fleet. */
async function compare(fleet: BenchFleet, opts: BenchOptions, work: string): Promise<Row[]> {
  const rows: Row[] = [];
  const section = fleet.kind === 'sshd' ? 'sshd' : 'sim';
  // warm-up (not recorded): sshd's first logins fault in the binaries and the fake scripts
  log(`warm-up: OpenSSH on ${Math.min(WARMUP_HOSTS, fleet.hosts)} hosts (not recorded)`);
  await timeOpenssh({ ...fleet, hosts: Math.min(WARMUP_HOSTS, fleet.hosts), hostListPath: await warmupList(fleet, work) }, WARMUP_HOSTS);
  const top = Math.max(...opts.forks);
  for (const forks of opts.forks) {
    log(`${fleet.kind} fleet, ${fleet.hosts} hosts, forks ${forks}:`);
    const { fleetmend: fm, floor, openssh: ssh } = await interleaved(opts.repeat, {
      fleetmend: () => timeSweep(fleet, forks, 1, work),
      floor: () => timeFloor(fleet, forks, work),
      openssh: () => timeOpenssh(fleet, forks),
    });
    describe('fleetmend', fm);
    describe('floor', floor);
    describe('openssh', ssh);
    rows.push(toRow({ section, tool: 'fleetmend', hosts: fleet.hosts, forks, completed: fm.completed, samples: 1 }, fm.m));
    rows.push(toRow({ section, tool: 'floor', hosts: fleet.hosts, forks, completed: floor.completed, samples: 1, note: `bare ssh2 client: one login + \`${statusCommand(fleet)}\` per host` }, floor.m));
    rows.push(toRow({ section, tool: 'openssh', hosts: fleet.hosts, forks, completed: ssh.completed, samples: 1, note: `xargs -P ssh HOST '${statusCommand(fleet)}'; CPU: all ssh processes (+xargs); RSS: largest single ssh` }, ssh.m));
    if (fleet.kind === 'sshd' && !opts.skipAnsible && hasAnsible()) {
      const ans = await repeated(opts.repeat, () => timeAnsible(fleet, forks, work));
      describe('ansible', ans);
      rows.push(toRow({ section, tool: 'ansible', hosts: fleet.hosts, forks, completed: ans.completed, samples: 1, note: "ansible all -m command -a 'auditctl -s' -b" }, ans.m));
    }
    if (opts.sameKex && forks === top) {
      // ssh2 negotiates curve25519-sha256; OpenSSH 9.x prefers sntrup761x25519 (post-quantum
      // hybrid, more CPU on both ends). This row shows how much of the gap that is.
      const kex = await repeated(opts.repeat, () => timeOpenssh(fleet, forks, ['-o', 'KexAlgorithms=curve25519-sha256']));
      describe('openssh-x25519', kex);
      rows.push(toRow({ section, tool: 'openssh-x25519' as Tool, hosts: fleet.hosts, forks, completed: kex.completed, samples: 1, note: 'baseline forced to the runner\'s key exchange (curve25519-sha256)' }, kex.m));
    }
  }
  return rows;
}

interface SimFigures {
  rows: Row[];
  rssMb: number;
  perHostCpuMs: number;
  cpuOneS: number;
  cpuThreeS: number;
}

/** Part 2: runner RSS at forks simForks, and per-sample CPU from 3 samples minus 1 sample. */
async function simPart(opts: BenchOptions, work: string): Promise<SimFigures> {
  const dir = await mkdtemp(join(work, 'sim-'));
  log(`simulator: starting ${opts.simHosts} healthy hosts in a separate process...`);
  const fleet = await startSimProcess(CLI, opts.simHosts, dir);
  log(`  started in ${fleet.startS.toFixed(1)} s`);
  try {
    await timeSweep(fleet, opts.simForks, 1, work); // warm-up (JIT-independent: new process; fills the simulator's caches)
    const one = await repeated(opts.repeat, () => timeSweep(fleet, opts.simForks, 1, work));
    describe('fleetmend x1', one);
    const three = await repeated(opts.repeat, () => timeSweep(fleet, opts.simForks, 3, work));
    describe('fleetmend x3', three);
    const cpuOneS = cpuOf(one.m);
    const cpuThreeS = cpuOf(three.m);
    const rows = [
      toRow({ section: 'sim', tool: 'fleetmend', hosts: opts.simHosts, forks: opts.simForks, completed: one.completed, samples: 1 }, one.m),
      toRow({ section: 'sim', tool: 'fleetmend', hosts: opts.simHosts, forks: opts.simForks, completed: three.completed, samples: 3, note: '--samples 3 --interval 0' }, three.m),
    ];
    // the RSS target is the sweep's (1 sample); the 3-sample run only feeds the CPU difference
    return { rows, rssMb: one.m.peakRssMb, perHostCpuMs: perHostSampleCpuMs(cpuOneS, cpuThreeS, opts.simHosts), cpuOneS, cpuThreeS };
  } finally {
    await fleet.stop();
  }
}

/** Part 3: a sweep of `scale` simulated hosts completes. */
/** CPU seconds (utime + stime) and peak RSS (VmHWM, MB) of a live process, from /proc. */
async function procUsage(pid: number): Promise<{ cpuS: number; rssMb: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuS: ticks / 100, rssMb: Number(hwm ?? 0) / 1024 };
}

/**
 * Issue 13: the same simulated sweep through Redis with 1, 2 and 4 worker processes. The row's
 * CPU and RSS are the coordinator's; the note has the workers' total CPU and largest RSS.
 */
async function distributedPart(opts: BenchOptions, work: string): Promise<Row[]> {
  if (!/Redis server/.test(version('redis-server', ['--version']))) {
    log('distributed rows skipped: no redis-server (apt-get install redis-server)');
    return [];
  }
  const dir = await mkdtemp(join(work, 'dist-'));
  log(`distributed: starting ${opts.distHosts} simulated hosts...`);
  const fleet = await startSimProcess(CLI, opts.distHosts, dir);
  const { startLocalCluster } = await import('../src/distributed/cluster.js');
  const rows: Row[] = [];
  try {
    for (const n of opts.distWorkers) {
      const cluster = await startLocalCluster({ dir: await mkdtemp(join(work, `cluster-${n}-`)), workers: n, inventory: fleet.inventoryPath, knownHosts: fleet.knownHostsPath, cliPath: CLI });
      try {
        const out = join(work, `dist-${n}.json`);
        const argv = [process.execPath, CLI, 'sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, ...cluster.coordinatorArgs, '--samples', '1', '--interval', '0', '--forks', String(opts.simForks), '--state-dir', join(work, `dist-state-${n}`), '-q', '--json'];
        noteLoad(`fleetmend distributed ${opts.distHosts} hosts, ${n} worker(s)`);
        const m = await measure({ argv, stdout: { file: out }, timeoutMs: SWEEP_TIMEOUT_MS });
        const usage = await Promise.all(cluster.workerPids.map(procUsage));
        let completed = 0;
        try {
          const doc = JSON.parse(await readFile(out, 'utf8')) as { summary: { hosts: number; unreachable: number; interrupted: number } };
          completed = doc.summary.hosts - doc.summary.unreachable - doc.summary.interrupted;
        } catch {
          log(`  distributed sweep printed no JSON (exit ${m.exitCode}): ${m.stderrTail.slice(-800)}`);
        }
        const workersCpu = usage.reduce((a, u) => a + u.cpuS, 0);
        const note = `${n} worker(s): workers' CPU ${workersCpu.toFixed(1)} s, largest worker RSS ${Math.max(...usage.map((u) => u.rssMb)).toFixed(0)} MB; CPU/RSS columns: the coordinator`;
        log(`  ${n} worker(s): ${m.wallS.toFixed(1)} s wall; ${note}`);
        rows.push(toRow({ section: 'dist', tool: 'fleetmend', hosts: opts.distHosts, forks: opts.simForks, completed, samples: 1, workers: n, note }, m));
      } finally {
        await cluster.stop();
      }
    }
  } finally {
    await fleet.stop();
  }
  return rows;
}

async function scalePart(opts: BenchOptions, work: string): Promise<Row> {
  const dir = await mkdtemp(join(work, 'scale-'));
  log(`scale check: starting ${opts.scale} simulated hosts...`);
  const fleet = await startSimProcess(CLI, opts.scale, dir);
  log(`  started in ${fleet.startS.toFixed(1)} s`);
  try {
    const r = await timeSweep(fleet, opts.simForks, 1, work);
    describe('fleetmend', r);
    return toRow({ section: 'scale', tool: 'fleetmend', hosts: opts.scale, forks: opts.simForks, completed: r.completed, samples: 1 }, r.m);
  } finally {
    await fleet.stop();
  }
}

/** Bytes `ssh HOST '<command>'` prints (OpenSSH, outside fleetmend): proves the spewer spews. */
function sshStdoutBytes(fleet: BenchFleet, host: string, command: string): Promise<number> {
  return new Promise((resolveBytes, reject) => {
    const child = spawn('ssh', ['-n', '-F', fleet.sshConfigPath, '-o', 'BatchMode=yes', host, command], { stdio: ['ignore', 'pipe', 'ignore'] });
    let n = 0;
    child.stdout.on('data', (c: Buffer) => (n += c.length));
    child.on('error', reject);
    child.on('close', () => resolveBytes(n));
  });
}

/**
 * Issue 17.7: `capHosts` real sshd hosts, the first one's `auditctl -s` printing 60 MiB; the
 * CLI sweep (default 8 MiB cap) `capRuns` times. Every run's peak RSS is reported against the
 * target (not a median: the issue saw 116, 131 and once 413 MB), and the hosts' outcome.
 */
async function capPart(opts: BenchOptions, work: string): Promise<{ rows: Row[]; targets: TargetResult[] }> {
  const why = sshdUnavailableReason();
  if (why) {
    log(`output-cap row skipped: real sshd unavailable (${why}); the target is on real sshd hosts`);
    return { rows: [], targets: evaluateCapTargets([], opts.capHosts) };
  }
  log(`output cap: starting ${opts.capHosts} real sshd hosts, the first spewing ${CAP_SPEW_BYTES} bytes into auditctl -s...`);
  const fleet = await startRealFleet(opts.capHosts, (h) => (h.index === 0 ? { statusSpewBytes: CAP_SPEW_BYTES } : {}));
  log(`  started in ${fleet.startS.toFixed(1)} s`);
  const rows: Row[] = [];
  const runs: CapRun[] = [];
  try {
    const spewHost = (await readFile(fleet.hostListPath, 'utf8')).split('\n')[0] as string;
    const sent = await sshStdoutBytes(fleet, spewHost, statusCommand(fleet));
    log(`  ${spewHost}: \`${statusCommand(fleet)}\` through OpenSSH printed ${sent} bytes`);
    if (sent !== CAP_SPEW_BYTES) throw new Error(`the spewing host printed ${sent} bytes, not ${CAP_SPEW_BYTES}: the row would not measure the cap`);
    for (let i = 1; i <= opts.capRuns; i++) {
      const out = join(work, `cap-${i}.json`);
      // the default --max-output (8 MiB) is the one the target is about
      const argv = [process.execPath, CLI, 'sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '--interval', '0', '--no-store', '--forks', String(CAP_FORKS), '--connect-timeout', String(CONNECT_TIMEOUT_S), '-q', '--json', '-b'];
      noteLoad(`fleetmend output cap ${opts.capHosts} hosts run ${i}`);
      const m = await measureOn(fleet, { argv, stdout: { file: out }, timeoutMs: SWEEP_TIMEOUT_MS });
      let verdict: CapRun['verdict'] = { spewCode: 'no JSON', othersOk: 0, others: 0 };
      try {
        verdict = capVerdict(JSON.parse(await readFile(out, 'utf8')) as Parameters<typeof capVerdict>[0], spewHost);
      } catch {
        log(`  sweep printed no JSON (exit ${m.exitCode}): ${m.stderrTail.slice(-800)}`);
      }
      await rm(out, { force: true });
      const run: CapRun = { wallS: m.wallS, peakRssMb: m.peakRssMb, verdict };
      runs.push(run);
      const pass = capRunPasses(run, opts.capHosts);
      log(`  run ${i}: peak RSS ${m.peakRssMb.toFixed(1)} MB, wall ${m.wallS.toFixed(2)} s, CPU ${cpuOf(m).toFixed(2)} s, ${spewHost} ${verdict.spewCode}, ${verdict.othersOk}/${verdict.others} others ok${verdict.firstBad ? ` (first not ok: ${verdict.firstBad})` : ''}, load ${load1()}: ${pass ? 'PASS' : 'FAIL'}`);
      rows.push(toRow({ section: 'cap', tool: 'fleetmend', hosts: opts.capHosts, forks: CAP_FORKS, completed: verdict.othersOk + (verdict.spewCode === 'E_OUTPUT_CAP' ? 1 : 0), samples: 1, note: `run ${i}/${opts.capRuns}: ${spewHost} spews ${CAP_SPEW_BYTES} bytes into auditctl -s, default 8 MiB cap; ${spewHost} ${verdict.spewCode}, ${verdict.othersOk}/${verdict.others} others ok; ${pass ? 'PASS' : 'FAIL'}` }, m));
    }
  } finally {
    await fleet.stop();
  }
  return { rows, targets: evaluateCapTargets(runs, opts.capHosts) };
}

/** `ssh -V` writes to stderr. */
function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || 'unknown';
}

async function main(): Promise<void> {
  const opts = parseBenchArgs(process.argv.slice(2));
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench does)`);
  const work = await mkdtemp(join(tmpdir(), 'fm-bench-'));
  const started = new Date();
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, openssh: version('ssh', ['-V']), loadAtStart: loadavg().map((n) => Number(n.toFixed(2))) };
  log(`fleetmend benchmark: ${machine.cpus} CPUs (${machine.cpu}), node ${machine.node}, ${machine.openssh}`);
  log(`load average at start: ${machine.loadAtStart.join(' ')}`);
  log(`measured with ${measureMethod()}`);
  const rows: Row[] = [];
  const notes: string[] = [];
  let sim: SimFigures | undefined;
  let capTargets: TargetResult[] = [];
  try {
    if (!opts.skipSshd) {
      const why = sshdUnavailableReason();
      let fleet: BenchFleet;
      if (why) {
        const msg = `real sshd unavailable (${why}): comparing against the SIMULATOR instead (its hosts are cheaper than sshd; the ratios are not the real-sshd figures)`;
        log(msg);
        notes.push(msg);
        fleet = await startSimProcess(CLI, opts.hosts, await mkdtemp(join(work, 'fallback-')));
      } else {
        log(`real sshd: starting ${opts.hosts} hosts on loopback...`);
        fleet = await startRealFleet(opts.hosts);
      }
      log(`  started in ${fleet.startS.toFixed(1)} s`);
      try {
        rows.push(...(await compare(fleet, opts, work)));
      } finally {
        await fleet.stop();
      }
    }
    if (opts.simHosts > 0) {
      sim = await simPart(opts, work);
      rows.push(...sim.rows);
    }
    if (opts.scale > 0) rows.push(await scalePart(opts, work));
    if (opts.distHosts > 0) rows.push(...(await distributedPart(opts, work)));
    if (opts.capHosts > 0) {
      const cap = await capPart(opts, work);
      rows.push(...cap.rows);
      capTargets = cap.targets;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  const table = withRatios(rows);
  const targets = [
    // --cap-only measures nothing else: no SKIP lines for the parts it left out
    ...(opts.capOnly
      ? []
      : evaluateTargets({
          rows: table,
          targetForks: Math.max(...opts.forks),
          cores: machine.cpus,
          ...(sim ? { simRssMb: sim.rssMb, perHostCpuMs: sim.perHostCpuMs } : {}),
        })),
    ...capTargets,
  ];
  process.stdout.write('\n' + formatTable(table) + '\n');
  if (sim) process.stdout.write(`per-host runner CPU without handshakes: (${sim.cpuThreeS.toFixed(2)} s - ${sim.cpuOneS.toFixed(2)} s) / (2 x ${opts.simHosts}) = ${sim.perHostCpuMs.toFixed(3)} ms per host and sample\n\n`);
  process.stdout.write(formatTargets(targets));
  const loadAtEnd = loadavg().map((n) => Number(n.toFixed(2)));
  process.stdout.write(`\nload average: ${machine.loadAtStart.join(' ')} at start, ${loadAtEnd.join(' ')} at end\n`);

  await mkdir(resolve(ROOT, opts.out), { recursive: true });
  const file = resolve(ROOT, opts.out, resultFileName(started));
  const doc = {
    started_at: started.toISOString(),
    finished_at: new Date().toISOString(),
    options: opts,
    machine: { ...machine, loadAtEnd },
    method: {
      measurement: measureMethod(),
      fleetmend: `node dist/bin/main.js sweep -i INV --known-hosts KH --samples 1 --interval 0 --no-store --forks F --connect-timeout ${CONNECT_TIMEOUT_S} -q --json (default policy)`,
      floor: 'node dist-bench/bench/floor.js hosts.json F "sudo -n auditctl -s" (bare ssh2 client, one login + one command per host)',
      openssh: `xargs -P F -a hosts.txt -I{} ssh -n -F ssh_config -o BatchMode=yes {} "sudo -n auditctl -s"`,
      ansible: "ansible all -i INV -m command -a 'auditctl -s' -b -f F (where installed)",
      perHostCpu: 'CPU(--samples 3 --interval 0) - CPU(--samples 1) on the same simulated fleet, / (2 x hosts)',
      sshdCpu: "growth of the hosts' sshd listeners' utime+stime+cutime+cstime (/proc/PID/stat) across the run: every login's sshd session, shell, sudo and tools, exactly, for this tool alone",
      outputCap: `node dist/bin/main.js sweep -i INV --known-hosts KH --samples 1 --interval 0 --no-store --connect-timeout ${CONNECT_TIMEOUT_S} -q --json -b --forks ${CAP_FORKS} (default --max-output 8 MiB), --cap-runs times; host 1 of --cap-hosts prints ${CAP_SPEW_BYTES} bytes for auditctl -s (checked through OpenSSH first); peak RSS per run from /usr/bin/time`,
      hostCpu: 'busy ticks of /proc/stat (whole machine) during the run minus the tool\'s own user+sys: sshd and the fact script on the hosts (or the simulator process)',
    },
    rows: table,
    ...(sim ? { perHostCpu: { ms: sim.perHostCpuMs, cpuOneS: sim.cpuOneS, cpuThreeS: sim.cpuThreeS, hosts: opts.simHosts } } : {}),
    targets,
    loads,
    notes,
  };
  await writeFile(file, JSON.stringify(doc, null, 2) + '\n');
  process.stdout.write(`results: ${file}\n`);
}

// issue 26: `--serve` runs the serve bench alone (bench/serve.ts)
(process.argv.includes('--serve') ? import('./serve.js').then((m) => m.runServeBench(process.argv.slice(2))) : main()).catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
