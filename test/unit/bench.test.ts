import { describe, expect, it } from 'vitest';
import {
  CAP_RSS_TARGET_MB,
  CAP_SPEW_BYTES,
  DEFAULTS,
  capRunPasses,
  capVerdict,
  evaluateCapTargets,
  evaluateTargets,
  formatTable,
  hostSideFloor,
  medianByWall,
  parseBashTimes,
  parseBenchArgs,
  parseGnuTime,
  parseProcStat,
  parseStatCpuTicks,
  perHostSampleCpuMs,
  resultFileName,
  toRow,
  withRatios,
  type CapRun,
  type Measurement,
  type Row,
} from '../../bench/lib.js';

const m = (wallS: number, cpuS: number, rss = 50): Measurement => ({ wallS, userS: cpuS * 0.75, sysS: cpuS * 0.25, peakRssMb: rss, exitCode: 0, method: 'test' });

describe('bench options', () => {
  it('defaults to 200 real hosts at forks 50 and 200, 1,000 simulated hosts', () => {
    expect(parseBenchArgs([])).toEqual(DEFAULTS);
  });

  it('reads the documented flags, with = or a separate value', () => {
    const o = parseBenchArgs(['--hosts', '20', '--forks=5,20', '--sim-hosts', '0', '--scale', '5000', '--skip-sshd', '--skip-ansible', '--no-same-kex']);
    expect(o).toMatchObject({ hosts: 20, forks: [5, 20], simHosts: 0, scale: 5000, skipSshd: true, skipAnsible: true, sameKex: false });
  });

  it('refuses unknown flags and non-integers instead of measuring the wrong thing', () => {
    expect(() => parseBenchArgs(['--host', '3'])).toThrow(/unknown option --host/);
    expect(() => parseBenchArgs(['--forks', '50,x'])).toThrow(/--forks needs an integer/);
    expect(() => parseBenchArgs(['--hosts', '0'])).toThrow(/>= 1/);
  });
});

describe('measurement parsing', () => {
  it('takes the last line of GNU time output (a "Command exited" note may precede it)', () => {
    expect(parseGnuTime('Command exited with non-zero status 2\n12.34 3.50 0.75 81234\n')).toEqual({ wallS: 12.34, userS: 3.5, sysS: 0.75, maxRssKb: 81234 });
    expect(() => parseGnuTime('garbage')).toThrow(/unexpected/);
  });

  it("reads the children's line of bash times", () => {
    expect(parseBashTimes('0m0.010s 0m0.002s\n1m2.500s 0m3.250s\n')).toEqual({ userS: 62.5, sysS: 3.25 });
  });
});

describe('rows, ratios and targets', () => {
  const rows: Row[] = [
    toRow({ section: 'sshd', tool: 'fleetmend', hosts: 200, forks: 200, completed: 200, samples: 1 }, m(5, 2)),
    toRow({ section: 'sshd', tool: 'openssh', hosts: 200, forks: 200, completed: 200, samples: 1 }, m(25, 20)),
  ];

  it('computes hosts/s and user+sys', () => {
    expect(rows[0]).toMatchObject({ hostsPerS: 40, cpuS: 2 });
  });

  it('puts fleetmend/openssh ratios on the fleetmend row of the same forks', () => {
    const [fm, ssh] = withRatios(rows);
    expect(fm?.wallRatio).toBeCloseTo(0.2);
    expect(fm?.cpuRatio).toBeCloseTo(0.1);
    expect(ssh?.wallRatio).toBeUndefined();
  });

  it('per-sample CPU is the extra CPU of 2 more samples on every host', () => {
    expect(perHostSampleCpuMs(10, 12, 1000)).toBeCloseTo(1);
  });

  it('passes, fails, or skips each target', () => {
    const t = evaluateTargets({ rows: withRatios(rows), targetForks: 200, simRssMb: 151, perHostCpuMs: 1.5 });
    expect(t.map((x) => x.pass)).toEqual([true, true, false, true]);
    expect(evaluateTargets({ rows: [], targetForks: 200 }).every((x) => x.pass === null)).toBe(true);
  });

  it('median by wall picks the middle run', () => {
    expect(medianByWall([{ wallS: 3 }, { wallS: 1 }, { wallS: 2 }]).wallS).toBe(2);
  });

  it('prints one line per row under a header', () => {
    const lines = formatTable(withRatios(rows)).trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/hosts\/s/);
    expect(lines[0]).toMatch(/host CPU s/);
    expect(lines[0]).toMatch(/sshd CPU s/);
    expect(lines[2]).toMatch(/fleetmend .* 0\.20 +0\.10$/);
  });

  it('reads a process\'s own and reaped children\'s CPU ticks from /proc/PID/stat (comm may hold ") ")', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const stat = '4242 (sshd: a) b) S 1 4242 4242 0 -1 4194560 100 2000 0 0 7 3 1500 420 20 0 1 0 357 10000 100\n';
    expect(parseStatCpuTicks(stat)).toBe(7 + 3 + 1500 + 420);
    expect(() => parseStatCpuTicks('garbage')).toThrow(/unexpected/);
    const row = toRow({ section: 'sshd', tool: 'floor', hosts: 1, forks: 1, completed: 1, samples: 1 }, { ...m(1, 1), sshdCpuS: 4.5 });
    expect(row.sshdCpuS).toBe(4.5);
    expect(formatTable([row])).toMatch(/ 4\.5 /);
  });

  it('host-side CPU is the machine CPU during the run minus the tool\'s own, never negative', () => {
    const withMachine = toRow({ section: 'sshd', tool: 'fleetmend', hosts: 200, forks: 200, completed: 200, samples: 1 }, { ...m(80, 5), machineCpuS: 165 });
    expect(withMachine.hostCpuS).toBeCloseTo(160);
    expect(toRow({ section: 'sim', tool: 'fleetmend', hosts: 1, forks: 1, completed: 1, samples: 1 }, { ...m(1, 2), machineCpuS: 1.5 }).hostCpuS).toBe(0);
    expect(rows[0]?.hostCpuS).toBeUndefined();
    expect(hostSideFloor(withMachine, 2)).toBeCloseTo(80);
    expect(hostSideFloor(rows[0] as Row, 2)).toBeUndefined();
  });

  it('explains a failed wall target by the host side\'s floor on this machine', () => {
    const fm = toRow({ section: 'sshd', tool: 'fleetmend', hosts: 200, forks: 200, completed: 200, samples: 1 }, { ...m(86, 5), machineCpuS: 175 });
    const base = toRow({ section: 'sshd', tool: 'openssh', hosts: 200, forks: 200, completed: 200, samples: 1 }, { ...m(100, 30), machineCpuS: 200 });
    const [wall] = evaluateTargets({ rows: withRatios([fm, base]), targetForks: 200, cores: 2 });
    expect(wall?.pass).toBe(false);
    // 170 s of host CPU on 2 cores = 85 s = 0.85 x the baseline's 100 s
    expect(wall?.why).toMatch(/170\.0 s CPU .* 2 cores .* >= 85\.0 s = 0\.85 x/);
    expect(evaluateTargets({ rows: withRatios(rows), targetForks: 200 })[0]?.why).toBeUndefined();
  });

  it('reads busy and total ticks from the cpu line of /proc/stat', () => {
    const text = 'cpu  100 5 50 1000 20 1 2 3 7 0\ncpu0 50 2 25 500 10 0 1 1 0 0\nintr 1 2\n';
    // busy = user+nice+system+irq+softirq+steal = 100+5+50+1+2+3; guest is inside user
    expect(parseProcStat(text)).toEqual({ busyTicks: 161, totalTicks: 1181 });
    expect(() => parseProcStat('garbage')).toThrow(/unexpected \/proc\/stat/);
  });

  it('names result files by a sortable UTC timestamp without colons', () => {
    expect(resultFileName(new Date('2026-11-25T12:30:10.123Z'))).toBe('2026-11-25T12-30-10Z.json');
  });
});

describe('issue 17: the floor baseline', () => {
  const row = (tool: Row['tool'], wallS: number, forks = 100): Row => toRow({ section: 'sshd', tool, hosts: 300, forks, completed: 300, samples: 1 }, m(wallS, 1));
  it('ratios against the floor when measured, plus wall vs OpenSSH and ansible-core; three targets', () => {
    const rows = withRatios([row('fleetmend', 40), row('floor', 34), row('openssh', 47), row('ansible', 500)]);
    const fm = rows[0]!;
    expect(fm.wallRatio).toBeCloseTo(40 / 34);
    expect(fm.wallVsOpenssh).toBeCloseTo(40 / 47);
    expect(fm.wallVsAnsible).toBeCloseTo(40 / 500);
    const t = evaluateTargets({ rows, targetForks: 100 });
    expect(t.slice(0, 3).map((x) => [x.target, x.pass])).toEqual([['<= 1.3 x floor', true], ['< 1 x openssh', true], ['<= 0.1 x ansible', true]]);
    const slow = evaluateTargets({ rows: withRatios([row('fleetmend', 50), row('floor', 34), row('openssh', 47)]), targetForks: 100 });
    expect(slow.slice(0, 3).map((x) => x.pass)).toEqual([false, false, null]);
  });
});

describe('issue 17.7: the output-cap row', () => {
  const hosts = (spew: { status: string; error: { code: string } | null }, others: string[]) => ({
    hosts: [{ host: 'h001', ...spew }, ...others.map((status, i) => ({ host: `h${String(i + 2).padStart(3, '0')}`, status, error: status === 'ok' ? null : { code: 'E_AUTH' } }))],
  });
  const run = (peakRssMb: number, spewCode = 'E_OUTPUT_CAP', othersOk = 40): CapRun => ({ wallS: 5, peakRssMb, verdict: { spewCode, othersOk, others: 40 } });

  it('is on by default with 41 hosts and 3 runs; --cap-only turns every other part off', () => {
    expect(DEFAULTS).toMatchObject({ capHosts: 41, capRuns: 3, capOnly: false });
    expect(CAP_SPEW_BYTES).toBe(60 * 1024 * 1024);
    const o = parseBenchArgs(['--cap-only', '--cap-hosts', '11', '--cap-runs=5']);
    expect(o).toMatchObject({ capOnly: true, capHosts: 11, capRuns: 5, skipSshd: true, simHosts: 0, scale: 0, distHosts: 0 });
    expect(parseBenchArgs(['--cap-hosts', '0']).capHosts).toBe(0);
    expect(() => parseBenchArgs(['--cap-only', '--cap-hosts', '1'])).toThrow(/--cap-hosts >= 2/);
    expect(() => parseBenchArgs(['--cap-runs', '0'])).toThrow(/--cap-runs needs an integer >= 1/);
  });

  it('reads the sweep JSON: the spewer\'s error code, and how many of the others were ok', () => {
    expect(capVerdict(hosts({ status: 'failed', error: { code: 'E_OUTPUT_CAP' } }, ['ok', 'ok', 'ok']), 'h001')).toEqual({ spewCode: 'E_OUTPUT_CAP', othersOk: 3, others: 3 });
    expect(capVerdict(hosts({ status: 'ok', error: null }, ['ok', 'failed']), 'h001')).toEqual({ spewCode: 'ok', othersOk: 1, others: 2, firstBad: 'h003: failed E_AUTH' });
    expect(capVerdict(hosts({ status: 'ok', error: null }, ['ok']), 'h099').spewCode).toBe('missing');
  });

  it('passes a run only within the RSS target, with the spewer capped and all 40 others ok', () => {
    expect(capRunPasses(run(CAP_RSS_TARGET_MB), 41)).toBe(true);
    expect(capRunPasses(run(CAP_RSS_TARGET_MB + 0.1), 41)).toBe(false);
    expect(capRunPasses(run(90, 'ok'), 41)).toBe(false);
    expect(capRunPasses(run(90, 'E_OUTPUT_CAP', 39), 41)).toBe(false);
    expect(capRunPasses(run(90), 42)).toBe(false);
  });

  it('reports every run\'s RSS and fails the target when any one run is over (not a median)', () => {
    const [rss, outcome] = evaluateCapTargets([run(116), run(131), run(413)], 41);
    expect(rss).toMatchObject({ measured: '116.0 MB, 131.0 MB, 413.0 MB', target: '<= 150 MB in each of 3 runs', pass: false });
    expect(outcome).toMatchObject({ measured: 'E_OUTPUT_CAP, 40/40 ok', pass: true });
    const [ok, bad] = evaluateCapTargets([run(96), run(101, 'E_PARSE')], 41);
    expect(ok?.pass).toBe(true);
    expect(bad).toMatchObject({ measured: 'E_OUTPUT_CAP, 40/40 ok; E_PARSE, 40/40 ok', pass: false });
    expect(evaluateCapTargets([], 41)[0]?.pass).toBeNull();
  });

  it('shows the row in the table as part "cap"', () => {
    const row = toRow({ section: 'cap', tool: 'fleetmend', hosts: 41, forks: 50, completed: 41, samples: 1 }, m(5, 1.5, 97.3));
    expect(formatTable(withRatios([row]))).toMatch(/^cap\s+fleetmend\s+41\s+50\s+41\s+5\.00.*97\.3/m);
  });
});
