import pLimit from 'p-limit';
import type { Clock } from './clock.js';
import { isoNow } from './clock.js';
import type { Interrupt } from './interrupt.js';
import { failedResult, hostResult, type HostResult, type HostTarget, type RunEventListener } from '../results/index.js';

export interface RunHostsOptions {
  forks: number;
  clock: Clock;
  interrupt: Interrupt;
  onEvent: RunEventListener;
  /**
   * The hosts run one play of a playbook: each result is that play's, emitted as
   * `play-host-done` (progress); the final `host-done` is the caller's, after the last play.
   */
  play?: string;
}

/**
 * Runs `job` for every host with at most `forks` in flight. A job's exception becomes that
 * host's failed/unreachable result: one host never stops the others. Hosts not started when
 * the run is interrupted are reported `interrupted`.
 */
export async function runHosts<H extends HostTarget>(
  hosts: readonly H[],
  job: (host: H) => Promise<HostResult>,
  opts: RunHostsOptions,
): Promise<HostResult[]> {
  const limit = pLimit(Math.max(1, opts.forks));
  const results = hosts.map((host) =>
    limit(async (): Promise<HostResult> => {
      if (opts.interrupt.stopStarting.aborted) return notStarted(host, opts.clock);
      const started = isoNow(opts.clock);
      opts.onEvent({ type: 'host-start', host: host.name, at: started });
      let result: HostResult;
      try {
        result = await job(host);
      } catch (err) {
        result = failedResult(host, err, started, opts.clock);
      }
      opts.onEvent(opts.play === undefined ? { type: 'host-done', result } : { type: 'play-host-done', play: opts.play, result });
      return result;
    }),
  );
  return Promise.all(results);
}

function notStarted(host: HostTarget, clock: Clock): HostResult {
  const at = isoNow(clock);
  return hostResult(host, { status: 'interrupted', started: at, finished: at, error: { code: 'E_INTERRUPTED', message: 'not started: the run was interrupted' } });
}
