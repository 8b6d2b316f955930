/**
 * Retry files (`--limit @FILE`): the hosts a run left failed, unreachable, interrupted or held. One
 * file per sweep or playbook and inventory, replaced by each run of it that leaves hosts undone,
 * as Ansible keeps one `PLAYBOOK.retry`: a scheduler running every 10 s keeps one file, not one
 * per run (issue 21 §8). A run that leaves nothing undone keeps the file as it was (Ansible too).
 */
import { createHash } from 'node:crypto';
import { readdirSync, unlinkSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { HostResult, RunInfo } from '../results/index.js';
import { openStateSubdir } from '../store/state-dir.js';
import { writeFileReplacing } from '../util/fsafe.js';

type RetryKey = Pick<RunInfo, 'mode' | 'inventory' | 'playbook'>;

/** What earlier versions wrote: `<run id>.retry`, one per run (run/ids.ts). */
const PER_RUN_FILE = /^\d{8}T\d{6}Z-[0-9a-f]+\.retry$/;

/**
 * `site-<hash>.retry` for a playbook, `sweep-hosts-<hash>.retry` for a sweep of `hosts.ini`: a
 * readable stem, and a hash of the absolute paths so two inventories never share a file.
 */
export function retryFileName(run: RetryKey): string {
  const stemOf = (path: string) => basename(path, extname(path)).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40);
  const stem = run.mode === 'run' && run.playbook ? stemOf(run.playbook) : `sweep-${stemOf(run.inventory ?? 'inventory')}`;
  const key = createHash('sha256').update(`${run.mode}\0${run.inventory ?? ''}\0${run.playbook ?? ''}`).digest('hex').slice(0, 12);
  return `${stem}-${key}.retry`;
}

/** The retry file of `run`'s sweep or playbook and inventory in `stateDir` (written or not). */
export function retryFilePath(stateDir: string, run: RetryKey): string {
  return join(stateDir, 'retry', retryFileName(run));
}

/** Writes (replaces) the run's retry file if it left hosts undone; returns its path. */
export function writeRetryFile(stateDir: string, run: RetryKey, results: readonly HostResult[]): string | undefined {
  const undone = results.filter((r) => r.status === 'failed' || r.status === 'unreachable' || r.status === 'interrupted' || r.status === 'held');
  if (!undone.length) return undefined;
  const dir = openStateSubdir(stateDir, 'retry');
  const file = join(dir, retryFileName(run));
  writeFileReplacing(file, undone.map((r) => r.host).join('\n') + '\n');
  removePerRunFiles(dir);
  return file;
}

/** The per-run files of earlier versions go: thousands of them after a while of scheduling. */
function removePerRunFiles(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (!PER_RUN_FILE.test(name)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // gone already (another process pruned it)
    }
  }
}
