/**
 * Runs one command as a child process and measures it: wall time (hrtime around the spawn),
 * user+sys CPU and peak RSS.
 *
 * Method: GNU `/usr/bin/time -f '%e %U %S %M'` when present. Its figures come from wait4()'s
 * rusage of the child, which includes every descendant the child waited for (so xargs' figure
 * is the total of all its ssh processes) and whose ru_maxrss is the largest single process of the
 * tree (for xargs: the largest ssh client, not the sum). Without GNU time: `bash -c 'cmd; times'`
 * (bash's `times` prints its children's user/sys, again wait4-based) and VmHWM polled every 50 ms
 * from /proc for the child and its direct children (can miss a peak shorter than the poll).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBashTimes, parseGnuTime, parseProcStat, type Measurement } from './lib.js';

export const GNU_TIME = '/usr/bin/time';

export interface MeasureSpec {
  argv: readonly string[];
  /** Where stdout goes: a file path, a chunk consumer, or nowhere. */
  stdout?: { file: string } | { onData: (chunk: Buffer) => void } | 'ignore';
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
}

export function hasGnuTime(): boolean {
  return existsSync(GNU_TIME);
}

export function measureMethod(): string {
  return hasGnuTime() ? '/usr/bin/time -f "%e %U %S %M" (wait4 rusage, includes waited-for descendants)' : 'bash times (children user/sys) + /proc VmHWM polling every 50 ms';
}

/** Result of one measured run; `stderrTail` is the last 4 KB of its stderr for error messages. */
export interface Measured extends Measurement {
  stderrTail: string;
}

let clockTicks: number | undefined;
/** USER_HZ, the unit of /proc/stat (100 on Linux unless `getconf CLK_TCK` says otherwise). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const n = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
    clockTicks = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** Busy ticks of the whole machine, or undefined without a readable /proc/stat. */
function machineBusyTicks(): number | undefined {
  try {
    return parseProcStat(readFileSync('/proc/stat', 'utf8')).busyTicks;
  } catch {
    return undefined;
  }
}

export async function measure(spec: MeasureSpec): Promise<Measured> {
  const tmp = await mkdtemp(join(tmpdir(), 'fm-bench-time-'));
  try {
    const before = machineBusyTicks();
    const m = hasGnuTime() ? await measureGnuTime(spec, join(tmp, 'time.txt')) : await measureBashTimes(spec);
    const after = machineBusyTicks();
    if (before !== undefined && after !== undefined) m.machineCpuS = (after - before) / ticksPerSecond();
    return m;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

type Stdio = 'ignore' | 'pipe' | number;

function stdoutTarget(spec: MeasureSpec): { stdio: Stdio; close: () => void } {
  const s = spec.stdout ?? 'ignore';
  if (s === 'ignore') return { stdio: 'ignore', close: () => undefined };
  if ('file' in s) {
    const fd = openSync(s.file, 'w');
    return { stdio: fd, close: () => closeSync(fd) };
  }
  return { stdio: 'pipe', close: () => undefined };
}

interface Spawned {
  code: number | null;
  wallS: number;
  stderrTail: string;
  fd3: string;
}

/** Spawns in its own process group so a timeout can kill the whole tree by that id. */
function spawnTimed(argv: readonly string[], spec: MeasureSpec, extraFd3: boolean, onSpawn?: (pid: number) => () => void): Promise<Spawned> {
  const out = stdoutTarget(spec);
  const stdio: Stdio[] = ['ignore', out.stdio, 'pipe'];
  if (extraFd3) stdio.push('pipe');
  const t0 = process.hrtime.bigint();
  const child = spawn(argv[0] as string, argv.slice(1), { stdio, env: spec.env ?? process.env, detached: true });
  let stderr = '';
  let fd3 = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4096);
  });
  const s = spec.stdout;
  if (s && s !== 'ignore' && 'onData' in s) child.stdout?.on('data', s.onData);
  (child.stdio[3] as NodeJS.ReadableStream | null | undefined)?.on('data', (c: Buffer) => {
    fd3 += c.toString('utf8');
  });
  const stopPolling = child.pid && onSpawn ? onSpawn(child.pid) : () => undefined;
  const timer = setTimeout(() => {
    if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }, spec.timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      stopPolling();
      out.close();
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      stopPolling();
      out.close();
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      resolve({ code: code ?? (signal ? 128 : null), wallS, stderrTail: stderr, fd3 });
    });
  });
}

async function measureGnuTime(spec: MeasureSpec, timeFile: string): Promise<Measured> {
  const r = await spawnTimed([GNU_TIME, '-f', '%e %U %S %M', '-o', timeFile, '--', ...spec.argv], spec, false);
  const t = parseGnuTime(await readFile(timeFile, 'utf8'));
  return { wallS: r.wallS, userS: t.userS, sysS: t.sysS, peakRssMb: t.maxRssKb / 1024, exitCode: r.code, method: 'gnu-time', stderrTail: r.stderrTail };
}

function vmHwmKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function measureBashTimes(spec: MeasureSpec): Promise<Measured> {
  let peakKb = 0;
  const poll = (bashPid: number) => {
    const timer = setInterval(() => {
      for (const c of childrenOf(bashPid)) {
        peakKb = Math.max(peakKb, vmHwmKb(c), ...childrenOf(c).map(vmHwmKb));
      }
    }, 50);
    return () => clearInterval(timer);
  };
  const script = '"$@"; rc=$?; times >&3; exit $rc';
  const r = await spawnTimed(['bash', '-c', script, 'bench', ...spec.argv], spec, true, poll);
  const t = parseBashTimes(r.fd3);
  return { wallS: r.wallS, userS: t.userS, sysS: t.sysS, peakRssMb: peakKb / 1024, exitCode: r.code, method: 'bash-times', stderrTail: r.stderrTail };
}
