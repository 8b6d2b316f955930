import { toFleetmendError } from '../errors.js';
import { isoNow, type Clock } from '../executor/clock.js';
import { hostStatusOfCode } from './status.js';
import type { HostError, HostResult, HostStatus, HostTarget } from './types.js';

/** What a host's work adds to the fields every result has. */
export type HostOutcome = Omit<HostResult, 'host' | 'address' | 'port' | 'groups' | 'status' | 'started_at' | 'finished_at' | 'error'>;

/**
 * The one builder of a HostResult: the target names the host (name, port, groups), the caller
 * says how it went. `address` is the one the host was reached at when it differs (ssh_config).
 */
export function hostResult(
  host: HostTarget,
  r: { status: HostStatus; started: string; finished: string; error?: HostError; address?: string } & HostOutcome,
): HostResult {
  const { status, started, finished, error, address, ...outcome } = r;
  return {
    host: host.name,
    address: address ?? host.address,
    port: host.port,
    status,
    started_at: started,
    finished_at: finished,
    ...outcome,
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
    ...(host.groups ? { groups: host.groups } : {}),
  };
}

/** A host whose job threw: the error's code decides failed, unreachable or interrupted. */
export function failedResult(host: HostTarget, err: unknown, started: string, clock: Clock): HostResult {
  const e = toFleetmendError(err, host.name);
  return hostResult(host, { status: hostStatusOfCode(e.code), started, finished: isoNow(clock), error: e });
}
