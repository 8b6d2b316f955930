/**
 * One home for a host's work: the target, its transport, the run's clock, signal and probe
 * (nonce), and the facts of the last sample. The sweep samples through it, the playbook engine
 * hands it to every module, and the guards read facts from it instead of starting programs of
 * their own: on a stalled host every program start waits for the full audit queue
 * (kernel-6.1-queue §0) and adds records to it, so a guard costs at most the probe's round trip.
 */
import type { Clock } from '../executor/clock.js';
import type { HostTarget } from '../results/index.js';
import type { FactSample } from '../facts/types.js';
import type { Fact } from '../facts/fact.js';
import { gatheredFact } from '../facts/registry.js';
import { buildOnDemandScript, splitSections } from '../facts/script.js';
import { FleetmendError } from '../errors.js';
import type { Transport } from '../transport/types.js';
import { collectSample, type CollectedSample, type FactsProbe, type SampleKind } from './sample.js';

/**
 * How long a sample answers the guards without a new round trip, when nothing changed the host
 * since: long enough for the task after `audit_status` to reuse its last sample, short against
 * the guards' own two-sample interval (2 s), so the second sample is always a new one.
 */
export const SAMPLE_FRESH_MS = 1_000;

export interface HostSessionOptions {
  target: HostTarget;
  transport: Transport;
  clock: Clock;
  /** The run's fact script (its nonce is random per run: host output cannot forge a section). */
  probe: FactsProbe;
  /** Aborts waits between samples (interrupt). */
  signal?: AbortSignal;
}

interface Cached {
  got: CollectedSample;
  /** The become the sample was taken with (it decides the script and what auditctl may read). */
  become: boolean | undefined;
  /** Taken by a gathering probe: the gathered facts are in it too. */
  gathered: boolean;
}

export class HostSession {
  readonly target: HostTarget;
  readonly clock: Clock;
  readonly probe: FactsProbe;
  readonly signal: AbortSignal | undefined;
  private current: Transport;
  private cached: Cached | undefined;

  constructor(opts: HostSessionOptions) {
    this.target = opts.target;
    this.clock = opts.clock;
    this.probe = opts.probe;
    this.signal = opts.signal;
    this.current = opts.transport;
  }

  get transport(): Transport {
    return this.current;
  }

  get nonce(): string {
    return this.probe.nonce;
  }

  /** A new connection (reboot): facts of the old boot are not this host's any more. */
  replaceTransport(t: Transport): void {
    this.current = t;
    this.invalidate();
  }

  /** Something may have changed the host (a task applied a change): the next read samples again. */
  invalidate(): void {
    this.cached = undefined;
  }

  /**
   * A new sample, one round trip, cached for the reads that follow. Never throws for a cut-short
   * sample. `kind`: `gather` adds the gathered facts (gather_facts, setup) in the same round
   * trip; `recheck` (after a change) leaves out the rule list and the kernel log.
   */
  async takeSample(become?: boolean, kind: SampleKind = 'audit'): Promise<CollectedSample> {
    const got = await collectSample(this.current, this.probe, this.clock, become, kind);
    this.cached = { got, become, gathered: kind === 'gather' };
    return got;
  }

  /**
   * The facts as of now: the cached sample while fresh (SAMPLE_FRESH_MS, nothing changed,
   * same become), else one round trip. A sample cut short is an error here: a guard does not
   * decide on half the facts.
   */
  async sample(become?: boolean): Promise<FactSample> {
    const c = this.cached;
    const fresh = c && c.become === become && !c.got.error && this.clock.now() - c.got.sample.taken_at <= SAMPLE_FRESH_MS;
    const got = fresh ? c.got : await this.takeSample(become);
    if (got.error) throw got.error;
    return got.sample;
  }

  /** One part of the current sample's audit shape (`await host.fact('memory')`). */
  async fact<K extends keyof FactSample>(name: K, become?: boolean): Promise<FactSample[K]> {
    return (await this.sample(become))[name];
  }

  /**
   * A gathered fact (`await host.gathered(MountsFact)`): from the cached sample when it was
   * gathered and is fresh, else one gathering round trip. Modules read facts here, never with
   * commands of their own.
   */
  async gathered<T>(f: Fact<T>, become?: boolean): Promise<T> {
    const c = this.cached;
    const fresh = c && c.gathered && c.become === become && !c.got.error && this.clock.now() - c.got.sample.taken_at <= SAMPLE_FRESH_MS;
    const got = fresh ? c.got : await this.takeSample(become, 'gather');
    if (got.error) throw got.error;
    return gatheredFact(got.sample, f) ?? f.empty;
  }

  /**
   * A fact read only when a task asks (package_facts, service_facts): its section in a round
   * trip of its own, framed with the run's nonce like the probe. The value, and why it is not
   * (fully) known; a cut-short or capped read is an error, not half a list.
   */
  async onDemand<T>(f: Fact<T>, become?: boolean): Promise<{ value: T; error?: string }> {
    if (f.script === undefined) throw new Error(`fact ${f.name} has no script`);
    const res = await this.current.exec(buildOnDemandScript(this.nonce, [{ name: f.name, body: f.script }]), {
      label: `the ${f.name} facts`,
      ...(become !== undefined ? { become } : {}),
    });
    if (res.truncated) {
      throw new FleetmendError('E_OUTPUT_CAP', `${f.name}: output capped at ${this.current.spec.maxOutputBytes} bytes (${res.bytes} received)`, { host: this.target.name });
    }
    const s = splitSections(res.stdout, this.nonce)[f.name];
    if (!s) return { value: f.empty, error: `${f.name}: no output (${res.stderr.trim().slice(0, 200) || `exit ${res.code}`})` };
    const r = f.parse(s.text, s.rc);
    return r.error === undefined ? { value: r.value } : { value: r.value, error: r.error };
  }
}
