/**
 * `node dist-bench/bench/warm.js [--hosts 300] [--forks 100] [--sim-hosts 10000] [--skip-sshd] [--skip-rss]`
 * (after `npm run build && tsc -p tsconfig.bench.json`)
 *
 * Issue 25, a warm fleet, on real sshd hosts (the test harness, non-root login + sudo):
 *   - the cold sweep: a one-shot `fleetmend sweep` (a login per host);
 *   - the warm floor: a bare ssh2 client that keeps its connections and runs `sudo -n auditctl -s`
 *     again (bench/warm-floor.ts), its 2nd and 3rd passes;
 *   - fleetmend's scheduled sweeps 1 (cold), 2 and 3 (warm) in one `fleetmend schedule` process,
 *     timed from the scheduler's own log, with the logins of each (its `warm:` line); then the
 *     same with `--no-probe-shell` (every probe an exec of its own, as before the kept shell);
 * then the RSS per idle warm connection and the fd count, with --sim-hosts simulated hosts held
 * by one process (bench/warm-rss.ts) and the simulator in another. Each figure is one run; the
 * tools run one after another (floor, fleetmend). Targets print PASS/FAIL, nothing asserts.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultFileName } from './lib.js';
import { measure } from './measure.js';
import { sshdUnavailableReason, startRealFleet, startSimProcess, type BenchFleet } from './fleets.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const CLI = join(ROOT, 'dist', 'bin', 'main.js');
const TIMEOUT_MS = 15 * 60_000;
const log = (line: string) => process.stderr.write(`${line}\n`);

interface WarmOptions {
  hosts: number;
  forks: number;
  simHosts: number;
  skipSshd: boolean;
  skipRss: boolean;
  out: string;
}

function parseArgs(argv: readonly string[]): WarmOptions {
  const o: WarmOptions = { hosts: 300, forks: 100, simHosts: 10_000, skipSshd: false, skipRss: false, out: join(ROOT, 'bench', 'results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = () => Number(argv[++i]);
    if (a === '--hosts') o.hosts = num();
    else if (a === '--forks') o.forks = num();
    else if (a === '--sim-hosts') o.simHosts = num();
    else if (a === '--skip-sshd') o.skipSshd = true;
    else if (a === '--skip-rss') o.skipRss = true;
    else if (a === '--out') o.out = argv[++i]!;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** Runs a child to its end; resolves with its stdout and stderr. */
function run(argv: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((res) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(killer);
      res({ code, stdout, stderr });
    });
  });
}

interface Row {
  what: string;
  wallS: number;
  ok: number;
  logins?: number;
  note?: string;
}

const becomeArgs = (f: BenchFleet) => (f.nonRootLogin ? ['-b'] : []);
const statusCommand = (f: BenchFleet) => (f.nonRootLogin ? 'sudo -n auditctl -s' : 'auditctl -s');

async function coldSweep(f: BenchFleet, forks: number, work: string): Promise<Row> {
  const out = join(work, 'cold.json');
  const argv = [process.execPath, CLI, 'sweep', '-i', f.inventoryPath, '--known-hosts', f.knownHostsPath, '--samples', '1', '--no-store', '--forks', String(forks), '--connect-timeout', '120', '-q', '--json', ...becomeArgs(f)];
  const m = await measure({ argv, stdout: { file: out }, timeoutMs: TIMEOUT_MS });
  const { readFile } = await import('node:fs/promises');
  const doc = JSON.parse(await readFile(out, 'utf8').catch(() => '{}')) as { hosts?: { status: string }[] };
  return { what: 'fleetmend sweep (one-shot, cold)', wallS: m.wallS, ok: (doc.hosts ?? []).filter((h) => h.status === 'ok').length, logins: f.hosts };
}

async function warmFloor(f: BenchFleet, forks: number): Promise<Row[]> {
  const r = await run([process.execPath, join(HERE, 'warm-floor.js'), f.hostsJsonPath, String(forks), statusCommand(f), '3']);
  const rows: Row[] = [];
  for (const m of r.stdout.matchAll(/^(login|pass (\d+)) ([\d.]+) ok (\d+)$/gm)) {
    rows.push({ what: m[2] ? `warm floor: pass ${m[2]} (bare ssh2, kept connections)` : 'warm floor: logins', wallS: Number(m[3]), ok: Number(m[4]), logins: m[2] ? 0 : Number(m[4]) });
  }
  if (!rows.length) throw new Error(`warm floor failed: ${r.stderr.slice(-2000)}`);
  return rows;
}

/**
 * Three scheduled sweeps in one `fleetmend schedule` process (cron every second, --max-runs 3):
 * each run's wall time from the scheduler's `run N started` / `run N ... finished` lines, its
 * logins from the `warm:` line after it.
 */
async function scheduled(f: BenchFleet, forks: number, work: string, probeShell = true): Promise<Row[]> {
  const stateDir = join(work, probeShell ? 'state' : 'state-exec');
  const argv = [process.execPath, CLI, 'schedule', '--cron', '* * * * * *', '--max-runs', '3', '--state-dir', stateDir, ...(probeShell ? [] : ['--no-probe-shell']), '--', 'sweep', '-i', f.inventoryPath, '--known-hosts', f.knownHostsPath, '--samples', '1', '--forks', String(forks), '--connect-timeout', '120', '-q', ...becomeArgs(f)];
  const r = await run(argv);
  const at = (re: RegExp) => [...r.stderr.matchAll(re)].map((m) => ({ n: Number(m[2]), t: Date.parse(m[1]!) }));
  const started = at(/^(\S+Z) schedule: run (\d+) started$/gm);
  const finished = at(/^(\S+Z) schedule: run (\d+)(?: \(\S+\))? finished/gm);
  const logins = [...r.stderr.matchAll(/warm: \d+ host\(s\) held, (\d+) login\(s\)/g)].map((m) => Number(m[1]));
  const oks = [...r.stdout.matchAll(/ run (\d+) \S+: exit \d+; \d+ hosts?(?:: (\d+) ok)?/g)].map((m) => Number(m[2] ?? 0));
  const rows: Row[] = [];
  for (const s of started) {
    const e = finished.find((x) => x.n === s.n);
    if (!e) continue;
    const i = s.n - 1;
    rows.push({ what: `fleetmend schedule${probeShell ? '' : ' --no-probe-shell'}: sweep ${s.n}${s.n === 1 ? ' (cold)' : ' (warm)'}`, wallS: (e.t - s.t) / 1000, ok: oks[i] ?? 0, logins: (logins[i] ?? 0) - (i > 0 ? (logins[i - 1] ?? 0) : 0) });
  }
  if (rows.length < 3) throw new Error(`schedule did not run 3 sweeps (exit ${r.code}): ${r.stderr.slice(-3000)}`);
  return rows;
}

async function rssPart(simHosts: number, work: string): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(work, 'sim-'));
  log(`simulator: ${simHosts} hosts in a separate process...`);
  const fleet = await startSimProcess(CLI, simHosts, dir);
  try {
    const r = await run([process.execPath, '--expose-gc', join(HERE, 'warm-rss.js'), fleet.inventoryPath, fleet.knownHostsPath]);
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    if (!line.startsWith('{')) throw new Error(`warm-rss failed: ${r.stderr.slice(-2000)}`);
    return JSON.parse(line) as Record<string, unknown>;
  } finally {
    await fleet.stop();
  }
}

function table(rows: readonly Row[], floorWarm: number | undefined): string {
  const lines = ['| what | wall s | hosts ok | logins | x warm floor |', '|---|---:|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.what} | ${r.wallS.toFixed(2)} | ${r.ok} | ${r.logins ?? ''} | ${floorWarm ? (r.wallS / floorWarm).toFixed(2) : ''} |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), 'fleetmend-bench-warm-'));
  const result: Record<string, unknown> = { date: new Date().toISOString(), options: o };
  try {
    if (!o.skipSshd) {
      const why = sshdUnavailableReason();
      if (why) throw new Error(`real sshd unavailable: ${why}`);
      log(`real sshd: starting ${o.hosts} hosts...`);
      const f = await startRealFleet(o.hosts);
      try {
        const rows: Row[] = [];
        rows.push(await coldSweep(f, o.forks, work));
        const floor = await warmFloor(f, o.forks);
        rows.push(...floor);
        rows.push(...(await scheduled(f, o.forks, work)));
        // the same with every probe an exec of its own (sudo per probe): what the kept shell saves
        rows.push(...(await scheduled(f, o.forks, work, false)));
        const floorWarm = floor.filter((r) => r.what.includes('pass 2') || r.what.includes('pass 3')).reduce((m, r) => Math.min(m, r.wallS), Infinity);
        const warm = rows.filter((r) => /^fleetmend schedule: sweep [23] \(warm\)/.test(r.what));
        const worst = Math.max(...warm.map((r) => r.wallS));
        result.rows = rows;
        result.targets = {
          warmVsFloor: { ratio: +(worst / floorWarm).toFixed(2), target: 1.3, pass: worst <= 1.3 * floorWarm },
          loginsPerWarmSweep: { value: Math.max(...warm.map((r) => r.logins ?? 0)), target: 0, pass: warm.every((r) => r.logins === 0) },
          warmVsCold: { ratio: +(worst / rows[0]!.wallS).toFixed(2) },
        };
        process.stdout.write(`${table(rows, Number.isFinite(floorWarm) ? floorWarm : undefined)}\n\n`);
      } finally {
        await f.stop();
      }
    }
    if (!o.skipRss && o.simHosts > 0) {
      const rss = await rssPart(o.simHosts, work);
      result.rss = { ...rss, target: 100, pass: Number(rss['kbPerConnection']) <= 100 };
      process.stdout.write(`idle warm connections: ${JSON.stringify(rss)}\n`);
    }
    process.stdout.write(`targets: ${JSON.stringify({ ...(result.targets as object | undefined), rss: result.rss })}\n`);
    await mkdir(o.out, { recursive: true });
    const file = join(o.out, `warm-${resultFileName(new Date())}`);
    await writeFile(file, JSON.stringify(result, null, 2));
    log(`written: ${file}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench warm: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
