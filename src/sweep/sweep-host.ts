import type { Clock } from '../executor/clock.js';
import { isoNow } from '../executor/clock.js';
import { hostResult, hostStatusOfCode, type HostResult, type HostTarget } from '../results/index.js';
import { FleetmendError } from '../errors.js';
import { newNonce } from '../util/nonce.js';
import { needsBecome, partialOutputOf, type ConnectionSpec, type Transport } from '../transport/index.js';
import { buildFactsScript, splitSections, unfinishedSection } from '../facts/script.js';
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

/** The parse error that marks a sample whose output went over the transport's cap. */
const CAPPED_SECTION = '*';

function cappedMessage(cap: number, received: number): string {
  return `output capped at ${cap} bytes (${received} bytes received); the rest was dropped`;
}

/** The fact script of a run with its nonce: built once per run, sent to every host. */
export interface FactsProbe {
  nonce: string;
  /** For hosts where the script runs as root (root login, or become to root): journalctl, dmesg without it. */
  script: string;
  /** For the others (no become, or become to another user): journalctl only. */
  userScript: string;
}

export function factsProbe(nonce: string = newNonce()): FactsProbe {
  return { nonce, script: buildFactsScript(nonce, { root: true }), userScript: buildFactsScript(nonce, { root: false }) };
}

/** Whether the script runs as root: a root login, or become (only when asked for) to root. */
function runsAsRoot(spec: ConnectionSpec): boolean {
  const target = spec.become.user ?? 'root';
  return spec.user === 'root' ? !spec.become.enabled || target === 'root' : spec.become.enabled && needsBecome(spec.user, spec.become) && target === 'root';
}

/**
 * Errors after which the output received so far is still worth parsing. An interrupt is not
 * one of them: the host stays "interrupted" (retry file, --resume), as before.
 */
const CUT_SHORT = new Set(['E_CMD_TIMEOUT', 'E_DISCONNECTED']);

export interface CollectedSample {
  sample: FactSample;
  /** Set when the sample was cut short: the error, naming the section that did not finish. */
  error?: FleetmendError;
}

/**
 * Collects one sample in one round trip. Sudo is used only when the connection asks for become
 * (`-b`, `ansible_become`), as Ansible does: never unrequested. The sections stream in as the
 * host completes them; when the command times out or the connection drops, the sections
 * already received are parsed, and the error names the one that did not finish.
 */
export async function collectSample(t: Transport, probe: FactsProbe, clock: Clock): Promise<CollectedSample> {
  const script = runsAsRoot(t.spec) ? probe.script : probe.userScript;
  try {
    const res = await t.exec(script, { label: 'the facts script' });
    const sample = parseSample(splitSections(res.stdout, probe.nonce), clock.now());
    if (res.truncated) {
      sample.parse_errors.push({ section: CAPPED_SECTION, message: cappedMessage(t.spec.maxOutputBytes, res.bytes) });
    }
    return { sample };
  } catch (err) {
    // the transport's partial output: capped and secret-masked like a whole result
    const received = partialOutputOf(err)?.stdout ?? '';
    if (!(err instanceof FleetmendError) || !CUT_SHORT.has(err.code) || received === '') throw err;
    const sections = splitSections(received, probe.nonce);
    const sample = parseSample(sections, clock.now());
    const where = unfinishedSection(sections);
    const message = `${err.message}; section ${where ?? '?'} did not finish (${Object.keys(sections).length} sections received, parsed and diagnosed)`;
    sample.parse_errors.push({ section: where ?? '*', message: `did not finish: ${err.code}` });
    return { sample, error: new FleetmendError(err.code, message, { host: t.spec.name, cause: err }) };
  }
}

/** The sweep job for one host: connect once, N samples, diagnose, evaluate policy. */
export async function sweepHost(host: HostTarget, transport: Transport, opts: SweepOptions): Promise<HostResult> {
  const started = isoNow(opts.clock);
  const probe = opts.probe ?? factsProbe();
  await transport.connect();
  try {
    const samples: FactSample[] = [];
    let cutShort: FleetmendError | undefined;
    for (let i = 0; i < opts.samples; i++) {
      if (i > 0) {
        await opts.clock.sleep(opts.intervalMs, opts.signal);
        if (opts.signal?.aborted) break;
      }
      const got = await collectSample(transport, probe, opts.clock);
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
    const auditError = cutShort ?? (last ? withCap(auditctlError(last.auditctl, transport.spec), last) : undefined);
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
function auditctlError(outcome: AuditctlOutcome, spec: ConnectionSpec): FleetmendError | undefined {
  switch (outcome.kind) {
    case 'ok':
      return undefined;
    case 'missing':
      return new FleetmendError('E_MODULE', `auditctl is not installed: ${outcome.detail}`);
    case 'not-permitted':
      // Without become the sweep never reaches for sudo on its own (item: no unrequested sudo)
      return spec.become.enabled
        ? new FleetmendError('E_BECOME', `auditctl -s was refused although become is set (become user ${spec.become.user ?? 'root'}): ${outcome.detail}`)
        : new FleetmendError('E_BECOME', `needs root: set become (-b) or log in as root (auditctl -s as ${spec.user}: ${outcome.detail})`);
    case 'unsupported':
      return new FleetmendError('E_MODULE', `kernel without audit support: ${outcome.detail}`);
    case 'unparseable':
      return new FleetmendError('E_PARSE', `auditctl -s output not understood: ${outcome.detail}`);
  }
}
