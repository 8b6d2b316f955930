/**
 * Held runs and their acknowledgement (issue 27 §4). A playbook run that a failure budget, the
 * canary or the disruption budget held is not retried by the scheduler on its next tick: the
 * same rollout would meet the same failure. The scheduler skips that playbook's ticks until an
 * operator acknowledges: `fleetmend approve RUN` (the next tick resumes RUN with `--resume`, so
 * done hosts are re-checked and held ones run) or a manual `fleetmend run ... --resume RUN`
 * (after which the latest run is the resumed one). Approvals are files in the state directory,
 * `approvals/RUN.json`, written once: who and when, kept with the runs they acknowledge.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { FleetmendError } from '../errors.js';
import type { RunStore } from '../store/store.js';
import { openStateSubdir } from '../store/state-dir.js';

export type HoldState = { kind: 'none' } | { kind: 'waiting'; runId: string } | { kind: 'approved'; runId: string };

function approvalPath(stateDir: string, runId: string): string {
  if (!/^[A-Za-z0-9T._-]+$/.test(runId)) throw new FleetmendError('E_USAGE', `not a run id: ${JSON.stringify(runId)}`);
  return join(openStateSubdir(stateDir, 'approvals'), `${runId}.json`);
}

export function isApproved(stateDir: string, runId: string): boolean {
  return existsSync(approvalPath(stateDir, runId));
}

/** The latest recorded apply of this playbook on this inventory, and whether it waits for an operator. */
export function holdOf(store: RunStore, stateDir: string, inventoryAbs: string, playbookAbs: string): HoldState {
  const latest = store.listRuns({ mode: 'run', inventory: inventoryAbs, limit: 200 }).find((r) => r.playbook === playbookAbs && !r.check);
  if (!latest || !(latest.summary?.held ?? 0)) return { kind: 'none' };
  return isApproved(stateDir, latest.id) ? { kind: 'approved', runId: latest.id } : { kind: 'waiting', runId: latest.id };
}

export interface Approval {
  run: string;
  approved_at: string;
  by: string;
  held: number;
}

/** `fleetmend approve RUN`: only a held playbook run can be approved, once. */
export function approveRun(store: RunStore, stateDir: string, runId: string, now: Date): Approval {
  const stored = store.getRun(runId);
  const id = stored.run.id;
  if (stored.run.mode !== 'run') throw new FleetmendError('E_USAGE', `run ${id} is a ${stored.run.mode}: only a held playbook run is approved`);
  const held = stored.summary?.held ?? 0;
  if (!held) throw new FleetmendError('E_USAGE', `run ${id} is not held (nothing waits for an approval)`);
  const path = approvalPath(stateDir, id);
  if (existsSync(path)) {
    const prev = JSON.parse(readFileSync(path, 'utf8')) as Approval;
    throw new FleetmendError('E_USAGE', `run ${id} was already approved by ${prev.by} at ${prev.approved_at}`);
  }
  const approval: Approval = { run: id, approved_at: now.toISOString(), by: safeUser(), held };
  writeFileSync(path, JSON.stringify(approval, null, 2) + '\n', { flag: 'wx', mode: 0o600 });
  return approval;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** Options of `run` whose value may be a YAML file that is not the playbook. */
const YAML_VALUED = new Set(['-i', '--inventory', '-e', '--extra-vars']);

/** The playbook a scheduled `run` names: its first YAML argument that is no option's value. */
export function scheduledPlaybook(argv: readonly string[]): string | undefined {
  const [sub, ...rest] = argv;
  if (sub !== 'run') return undefined;
  const pb = rest.find((a, i) => /\.ya?ml$/.test(a) && !a.startsWith('-') && !YAML_VALUED.has(rest[i - 1] ?? ''));
  return pb ? resolve(pb) : undefined;
}
