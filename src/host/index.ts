/** A host's work: its session (transport, clock, probe, cached facts) and the one sampler. */
export { HostSession, SAMPLE_FRESH_MS, type HostSessionOptions } from './session.js';
export { collectSample, factsProbe, newNonce, CAPPED_SECTION, statusReadError, type CollectedSample, type FactsProbe, type SampleKind } from './sample.js';
