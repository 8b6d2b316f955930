/**
 * The watch after a changed host's play (`watch: SECONDS`, issue 27 §3): two samples through the
 * sweep's probe, SECONDS apart, judged by `watchProblems` (src/diagnosis/watch.ts). A host that
 * fails its watch is `failed` (so it spends the failure budget), with the evidence as the
 * message; a host the watch cannot read fails too (fail-closed).
 */
import { FleetmendError, toFleetmendError } from '../errors.js';
import type { Clock } from '../executor/clock.js';
import type { TaskResult } from '../results/index.js';
import { watchProblems } from '../diagnosis/watch.js';
import type { FactSample } from '../facts/types.js';
import { collectSample, factsProbe } from '../sweep/index.js';
import type { Transport } from '../transport/types.js';

export interface WatchRequest {
  play: string;
  seconds: number;
  nonce: string;
  clock: Clock;
  signal?: AbortSignal;
}

async function sample(t: Transport, req: WatchRequest): Promise<FactSample> {
  const got = await collectSample(t, factsProbe(req.nonce), req.clock);
  if (got.error) throw got.error;
  return got.sample;
}

function summary(s: FactSample): string {
  const st = s.auditctl.kind === 'ok' ? s.auditctl.status : undefined;
  return st ? `lost ${st.lost}, backlog ${st.backlog}/${st.backlog_limit}, boot_id ${s.system.boot_id ?? '?'}` : s.auditctl.kind;
}

export async function watchHost(t: Transport, req: WatchRequest): Promise<TaskResult> {
  const t0 = req.clock.now();
  const base = { play: req.play, task: `watch ${req.seconds}s`, module: 'watch', changed: false };
  const failed = (code: 'E_WATCH' | 'E_INTERRUPTED', message: string): TaskResult => ({ ...base, status: 'failed', msg: message, duration_ms: req.clock.now() - t0, error: { code, message } });
  try {
    const before = await sample(t, req);
    await req.clock.sleep(req.seconds * 1000, req.signal);
    if (req.signal?.aborted) return failed('E_INTERRUPTED', 'the run was interrupted during the watch');
    const after = await sample(t, req);
    const problems = watchProblems(before, after);
    if (problems.length) return failed('E_WATCH', `the fix did not hold: ${problems.join('; ')} (before: ${summary(before)}; after: ${summary(after)})`);
    return { ...base, status: 'ok', msg: `held ${req.seconds}s: ${summary(before)} -> ${summary(after)}`, duration_ms: req.clock.now() - t0 };
  } catch (err) {
    const e = err instanceof FleetmendError ? err : toFleetmendError(err);
    return failed('E_WATCH', `unreadable during the watch (fail-closed): ${e.code}: ${e.message}`);
  }
}
