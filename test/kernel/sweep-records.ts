/**
 * Issue 25 §6 on a real kernel: the audit records one sweep of a host adds to its queue, cold
 * (the one-shot `sweep`: login, probe, logout) and warm (the scheduler's second tick, on the
 * connection its pool kept since the first), with an execve rule so every program start is
 * recorded. Each window is counted from auditd's log by an AuditCounter; an empty window shows
 * what the host adds by itself in the same time.
 */
import { join } from 'node:path';
import { scheduledRunner } from '../../src/cli/schedule.js';
import { systemClock } from '../../src/executor/clock.js';
import type { Interrupt } from '../../src/executor/interrupt.js';
import { ConnectionPool, type PoolStats, type Transport } from '../../src/transport/index.js';
import { runCli, textSink } from '../helpers/cli.js';
import { AuditCounter, type AuditWindow } from './audit-window.js';

export const EXECVE_RULE = '-a always,exit -F arch=b64 -S execve -k fm_sweep_records';

export interface SweepRecords {
  windows: {
    empty: AuditWindow;
    /** `fleetmend sweep`, one-shot. */
    cold: AuditWindow;
    /** The scheduler's first tick: a login, the connection kept (its logout is not in the window). */
    scheduledFirst: AuditWindow;
    /** The scheduler's second tick, on the kept connection. */
    warm: AuditWindow;
  };
  exitCodes: { cold: number; scheduled: number[] };
  pool: PoolStats;
  counterSes: number;
  /** The scheduler's log (its `warm:` lines). */
  log: string;
}

function noInterrupt(): Interrupt {
  return { stopStarting: new AbortController().signal, abortInFlight: new AbortController().signal, interrupted: false, dispose() {} };
}

/**
 * Counts the windows on the host of `inventoryPath` (one host). `counter` is an open session
 * to it as root, kept open throughout: the rule is added and removed through it.
 */
export async function countSweepRecords(o: { inventoryPath: string; knownHostsPath: string; workDir: string; counter: Transport }): Promise<SweepRecords> {
  const args = (stateDir: string) => ['sweep', '-i', o.inventoryPath, '--known-hosts', o.knownHostsPath, '--connect-timeout', '120', '--command-timeout', '120', '--json', '-q', '--state-dir', stateDir];
  const pool = new ConnectionPool({ maxWarm: 4, idleTimeoutMs: 600_000 });
  const added = await o.counter.exec(`auditctl ${EXECVE_RULE}`, { timeoutMs: 120_000 });
  if (added.code !== 0) throw new Error(`auditctl ${EXECVE_RULE}: ${added.stderr}`);
  try {
    const counter = await AuditCounter.open(o.counter);
    const empty = await counter.count(async () => undefined);
    let coldCode = -1;
    const cold = await counter.count(async () => {
      const r = await runCli(args(join(o.workDir, 'state-cold')));
      if (!/"hosts"/.test(r.stdout)) throw new Error(`the cold sweep printed no result (exit ${r.code}): ${r.stderr}`);
      coldCode = r.code;
    });
    const err = textSink();
    const io = { stdout: textSink().stream, stderr: err.stream, env: process.env, clock: systemClock };
    const stateDir = join(o.workDir, 'state-warm');
    const execute = await scheduledRunner(args(stateDir), stateDir, { ...io, exitCode: 0 }, pool);
    const scheduled: number[] = [];
    const tick = async () => void scheduled.push((await execute({ ...io, interrupt: noInterrupt })).exitCode);
    const scheduledFirst = await counter.count(tick);
    const warm = await counter.count(tick);
    return { windows: { empty, cold, scheduledFirst, warm }, exitCodes: { cold: coldCode, scheduled }, pool: { ...pool.stats }, counterSes: counter.ses, log: err.text() };
  } finally {
    await pool.close();
    await o.counter.exec(`auditctl ${EXECVE_RULE.replace('-a ', '-d ')}`, { timeoutMs: 120_000 });
  }
}

/** The windows as one table: a row per record type, a column per window, totals and `lost` last. */
export function recordsTable(w: SweepRecords['windows']): Record<string, Record<string, number>> {
  const cols = { empty: w.empty, 'cold sweep': w.cold, 'scheduled 1 (login, kept)': w.scheduledFirst, 'scheduled 2 (warm)': w.warm };
  const types = [...new Set(Object.values(cols).flatMap((x) => Object.keys(x.byType)))].sort();
  const row = (f: (x: AuditWindow) => number) => Object.fromEntries(Object.entries(cols).map(([k, x]) => [k, f(x)]));
  return {
    ...Object.fromEntries(types.map((t) => [t, row((x) => x.byType[t] ?? 0)])),
    total: row((x) => x.records.length),
    lost: row((x) => x.lost),
  };
}
