import type { Clock } from '../executor/clock.js';
import { isoNow } from '../executor/clock.js';
import { hostResult, hostStatusOfCode, type HostResult, type HostTarget } from '../results/index.js';
import { FleetmendError } from '../errors.js';
import type { ConnectionSpec, Transport } from '../transport/index.js';
import { factsProbe, HostSession, statusReadError, type FactsProbe } from '../host/index.js';
import type { FactSample, HostFacts } from '../facts/types.js';
import { diagnose } from '../diagnosis/index.js';
import { evaluatePolicy, policyScope } from '../policy/index.js';
import type { Policy } from '../policy/types.js';

export { collectSample, factsProbe, newNonce, type CollectedSample, type FactsProbe } from '../host/index.js';

export interface SweepOptions {
  /** Samples per host (>= 1); two or more turn counters into rates. */
  samples: number;
  intervalMs: number;
  policy?: Policy;
  clock: Clock;
  /** Aborts waits between samples (interrupt). */
  signal?: AbortSignal;
  /** The run's script; its nonce is random per run, so host output cannot forge a section. */
  probe?: FactsProbe;
}

/** The sweep job for one host: connect once, N samples, diagnose, evaluate policy. */
export async function sweepHost(host: HostTarget, transport: Transport, opts: SweepOptions): Promise<HostResult> {
  const started = isoNow(opts.clock);
  const session = new HostSession({ target: host, transport, clock: opts.clock, probe: opts.probe ?? factsProbe(), ...(opts.signal ? { signal: opts.signal } : {}) });
  await transport.connect();
  try {
    const samples: FactSample[] = [];
    let cutShort: FleetmendError | undefined;
    for (let i = 0; i < opts.samples; i++) {
      if (i > 0) {
        await opts.clock.sleep(opts.intervalMs, opts.signal);
        if (opts.signal?.aborted) break;
      }
      const got = await session.takeSample();
      samples.push(got.sample);
      // a host that timed out once will time out again; a dropped connection is gone
      if (got.error) {
        cutShort = got.error;
        break;
      }
    }
    const facts: HostFacts = { samples };
    const last = samples[samples.length - 1];
    const diagnosis = diagnose(facts);
    const compliance = opts.policy ? evaluatePolicy(opts.policy, policyScope(facts, diagnosis)) : undefined;
    const auditError = cutShort ?? (last ? statusReadError(last, transport.spec) : undefined);
    return hostResult(host, {
      address: transport.connectedAddress?.replace(/:\d+$/, '') ?? host.address,
      status: auditError ? hostStatusOfCode(auditError.code) : 'ok',
      started,
      finished: isoNow(opts.clock),
      ...(last?.auditctl.kind === 'ok' ? { audit: last.auditctl.status } : {}),
      facts,
      diagnosis,
      ...(compliance ? { compliance } : {}),
      ...(auditError ? { error: auditError } : {}),
    });
  } finally {
    await transport.close();
  }
}
