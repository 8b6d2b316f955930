import { randomBytes } from 'node:crypto';
import type { Clock } from '../executor/clock.js';
import { isoNow } from '../executor/clock.js';
import type { HostResult } from '../executor/events.js';
import type { HostTarget } from '../executor/run-hosts.js';
import { FleetmendError } from '../errors.js';
import type { Transport } from '../transport/types.js';
import { buildFactsScript, splitSections } from '../facts/script.js';
import { parseSample } from '../facts/index.js';
import type { AuditctlOutcome, FactSample, HostFacts } from '../facts/types.js';
import { diagnose } from '../diagnosis/index.js';
import { evaluatePolicy, policyScope } from '../policy/index.js';
import type { Policy } from '../policy/types.js';

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

export function newNonce(): string {
  return randomBytes(12).toString('hex');
}

/** The parse error that marks a sample whose output went over the transport's cap. */
const CAPPED_SECTION = '*';

function cappedMessage(cap: number, received: number): string {
  return `output capped at ${cap} bytes (${received} bytes received); the rest was dropped`;
}

/** The fact script of a run with its nonce: built once per run, sent to every host. */
export interface FactsProbe {
  nonce: string;
  script: string;
}

export function factsProbe(nonce: string = newNonce()): FactsProbe {
  return { nonce, script: buildFactsScript(nonce) };
}

/** Collects one sample in one round trip. */
export async function collectSample(t: Transport, probe: FactsProbe, clock: Clock): Promise<FactSample> {
  const res = await t.exec(probe.script, { become: true, label: 'the facts script' });
  const sample = parseSample(splitSections(res.stdout, probe.nonce), clock.now());
  if (res.truncated) {
    sample.parse_errors.push({ section: CAPPED_SECTION, message: cappedMessage(t.spec.maxOutputBytes, res.bytes) });
  }
  return sample;
}

/** The sweep job for one host: connect once, N samples, diagnose, evaluate policy. */
export async function sweepHost(host: HostTarget, transport: Transport, opts: SweepOptions): Promise<HostResult> {
  const started = isoNow(opts.clock);
  const probe = opts.probe ?? factsProbe();
  await transport.connect();
  try {
    const samples: FactSample[] = [];
    for (let i = 0; i < opts.samples; i++) {
      if (i > 0) {
        await opts.clock.sleep(opts.intervalMs, opts.signal);
        if (opts.signal?.aborted) break;
      }
      samples.push(await collectSample(transport, probe, opts.clock));
    }
    const facts: HostFacts = { samples };
    const last = samples[samples.length - 1];
    const diagnosis = diagnose(facts);
    const compliance = opts.policy ? evaluatePolicy(opts.policy, policyScope(facts, diagnosis)) : undefined;
    const auditError = last ? withCap(auditctlError(last.auditctl), last) : undefined;
    return {
      host: host.name,
      address: transport.connectedAddress?.replace(/:\d+$/, '') ?? host.address,
      port: host.port,
      status: auditError ? 'failed' : 'ok',
      started_at: started,
      finished_at: isoNow(opts.clock),
      ...(last?.auditctl.kind === 'ok' ? { audit: last.auditctl.status } : {}),
      facts,
      diagnosis,
      ...(compliance ? { compliance } : {}),
      ...(auditError ? { error: { code: auditError.code, message: auditError.message } } : {}),
      ...(host.groups ? { groups: host.groups } : {}),
    };
  } finally {
    await transport.close();
  }
}

/**
 * When the status could not be read because the host sent more than the cap, the cap is the
 * cause worth naming (E_OUTPUT_CAP), not the parser that found nothing where it looked.
 */
function withCap(err: FleetmendError | undefined, sample: FactSample): FleetmendError | undefined {
  const capped = sample.parse_errors.find((e) => e.section === CAPPED_SECTION);
  if (!err || !capped) return err;
  return new FleetmendError('E_OUTPUT_CAP', `${capped.message}; ${err.message}`);
}

/** A host whose audit status could not be read has failed the sweep's one job. */
function auditctlError(outcome: AuditctlOutcome): FleetmendError | undefined {
  switch (outcome.kind) {
    case 'ok':
      return undefined;
    case 'missing':
      return new FleetmendError('E_MODULE', `auditctl is not installed: ${outcome.detail}`);
    case 'not-permitted':
      return new FleetmendError('E_BECOME', `auditctl not permitted (run as root or set become): ${outcome.detail}`);
    case 'unsupported':
      return new FleetmendError('E_MODULE', `kernel without audit support: ${outcome.detail}`);
    case 'unparseable':
      return new FleetmendError('E_PARSE', `auditctl -s output not understood: ${outcome.detail}`);
  }
}
