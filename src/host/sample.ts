/**
 * The one sampler: the fact script (src/facts/script.ts) in one round trip, parsed into a
 * FactSample. The sweep, `audit_status` and the module guards all sample through it (via
 * HostSession), so every sample gets the root/user script choice, the output cap and the
 * cut-short handling.
 */
import type { Clock } from '../executor/clock.js';
import { FleetmendError } from '../errors.js';
import { needsBecome, partialOutputOf, type ConnectionSpec, type Transport } from '../transport/index.js';
import { buildFactsScript, splitSections, unfinishedSection } from '../facts/script.js';
import { parseSample } from '../facts/sample.js';
import type { AuditctlOutcome, FactSample } from '../facts/types.js';

import { newNonce } from '../util/nonce.js';

export { newNonce };

/** The parse error that marks a sample whose output went over the transport's cap. */
export const CAPPED_SECTION = '*';

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
  /** The same two with the gathered facts (gather_facts, setup): more builtins, no program more. */
  gatherScript: string;
  gatherUserScript: string;
  /** A recheck after a change (verification, polls): no rule list, no kernel log, so at most auditctl -s. */
  recheckScript: string;
}

/**
 * What a sample reads: `audit` (the sweep's and the guards' facts), `gather` (with the gathered
 * facts: gather_facts, setup), `recheck` (after a change: the `audit` facts without the rule
 * list and the kernel log).
 */
export type SampleKind = 'audit' | 'gather' | 'recheck';

export function factsProbe(nonce: string = newNonce()): FactsProbe {
  return {
    nonce,
    script: buildFactsScript(nonce, { root: true }),
    userScript: buildFactsScript(nonce, { root: false }),
    gatherScript: buildFactsScript(nonce, { root: true, gather: true }),
    gatherUserScript: buildFactsScript(nonce, { root: false, gather: true }),
    recheckScript: buildFactsScript(nonce, { root: true, logs: false }),
  };
}

/** The script for this login and become, and this kind of sample. */
function scriptFor(probe: FactsProbe, root: boolean, kind: SampleKind): string {
  // without the log reader, root and user scripts differ in nothing that runs
  if (kind === 'recheck') return probe.recheckScript;
  if (kind === 'gather') return root ? probe.gatherScript : probe.gatherUserScript;
  return root ? probe.script : probe.userScript;
}

/**
 * Whether the script runs as root: a root login, or become (only when asked for) to root.
 * `become` is a play's or task's override of the connection's (undefined: the connection's).
 */
function runsAsRoot(spec: ConnectionSpec, become: boolean | undefined): boolean {
  const b = become === undefined ? spec.become : { ...spec.become, enabled: become };
  const target = b.user ?? 'root';
  return spec.user === 'root' ? !b.enabled || target === 'root' : b.enabled && needsBecome(spec.user, b) && target === 'root';
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
 * Collects one sample in one round trip. Sudo is used only when the connection (or the play's
 * or task's `become`) asks for it, as Ansible does: never unrequested. The sections stream in
 * as the host completes them; when the command times out or the connection drops, the sections
 * already received are parsed, and the error names the one that did not finish.
 */
export async function collectSample(t: Transport, probe: FactsProbe, clock: Clock, become?: boolean, kind: SampleKind = 'audit'): Promise<CollectedSample> {
  const script = scriptFor(probe, runsAsRoot(t.spec, become), kind);
  try {
    // probe: a warm connection may run it in its kept shell (transport/kept-shell.ts)
    const res = await t.exec(script, { label: 'the facts script', probe: true, ...(become !== undefined ? { become } : {}) });
    const sample = parseSample(splitSections(res.stdout, probe.nonce), clock.now());
    // a warm connection that sees the host's boot_id change is not reused (transport/pool.ts)
    if (sample.system.boot_id) t.observeBootId?.(sample.system.boot_id);
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

/**
 * Why a sample could not say the host's audit state (auditctl missing, refused, no kernel
 * support, output not understood), else undefined. A host whose status was not read has failed
 * the job of reading it: the sweep and the `audit_status` task both fail it with this error, so
 * a host is never `ok` in one and `failed` in the other (issue 24 item 8). `become` is the one
 * the sample was taken with (a play's or task's override of the connection's).
 */
export function statusReadError(sample: FactSample, spec: ConnectionSpec, become: boolean = spec.become.enabled): FleetmendError | undefined {
  const err = auditctlError(sample.auditctl, spec, become);
  // over the cap, the cap is the cause worth naming, not the parser that found nothing
  const capped = sample.parse_errors.find((e) => e.section === CAPPED_SECTION);
  return err && capped ? new FleetmendError('E_OUTPUT_CAP', `${capped.message}; ${err.message}`) : err;
}

function auditctlError(outcome: AuditctlOutcome, spec: ConnectionSpec, become: boolean): FleetmendError | undefined {
  switch (outcome.kind) {
    case 'ok':
      return undefined;
    case 'missing':
      return new FleetmendError('E_MODULE', `auditctl is not installed: ${outcome.detail}`);
    case 'not-permitted':
      // Without become the sweep never reaches for sudo on its own (item: no unrequested sudo)
      return become
        ? new FleetmendError('E_BECOME', `auditctl -s was refused although become is set (become user ${spec.become.user ?? 'root'}): ${outcome.detail}`)
        : new FleetmendError('E_BECOME', `needs root: set become (-b) or log in as root (auditctl -s as ${spec.user}: ${outcome.detail})`);
    case 'unsupported':
      return new FleetmendError('E_MODULE', `kernel without audit support: ${outcome.detail}`);
    case 'unparseable':
      return new FleetmendError('E_PARSE', `auditctl -s output not understood: ${outcome.detail}`);
  }
}
