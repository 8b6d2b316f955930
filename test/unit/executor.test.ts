import { describe, expect, it } from 'vitest';
import { noInterrupt, runHosts, systemClock } from '../../src/executor/index.js';
import { exitCodeFor, summarize, type HostResult, type RunEvent } from '../../src/results/index.js';
import { FleetmendError } from '../../src/errors.js';

const hosts = Array.from({ length: 10 }, (_, i) => ({ name: `h${i}`, address: '127.0.0.1', port: 22 }));
const ok = (name: string): HostResult => ({
  host: name,
  address: '127.0.0.1',
  port: 22,
  status: 'ok',
  started_at: '',
  finished_at: '',
});

describe('runHosts', () => {
  it('never runs more than `forks` hosts at once', async () => {
    let inFlight = 0;
    let peak = 0;
    await runHosts(
      hosts,
      async (h) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return ok(h.name);
      },
      { forks: 3, clock: systemClock, interrupt: noInterrupt(), onEvent: () => {} },
    );
    expect(peak).toBe(3);
  });

  it('turns a throwing host into failed/unreachable without stopping the others', async () => {
    const events: RunEvent[] = [];
    const results = await runHosts(
      hosts.slice(0, 3),
      async (h) => {
        if (h.name === 'h0') throw new FleetmendError('E_CONNECT', 'connection refused');
        if (h.name === 'h1') throw new Error('boom');
        return ok(h.name);
      },
      { forks: 2, clock: systemClock, interrupt: noInterrupt(), onEvent: (e) => events.push(e) },
    );
    expect(results.map((r) => r.status)).toEqual(['unreachable', 'failed', 'ok']);
    expect(results[0]?.error).toEqual({ code: 'E_CONNECT', message: 'connection refused' });
    expect(results[1]?.error?.code).toBe('E_INTERNAL');
    expect(events.filter((e) => e.type === 'host-done')).toHaveLength(3);
  });

  it('does not start new hosts once interrupted, and reports them as interrupted', async () => {
    const ctl = new AbortController();
    const interrupt = { ...noInterrupt(), stopStarting: ctl.signal, get interrupted() { return ctl.signal.aborted; } };
    const started: string[] = [];
    const results = await runHosts(
      hosts,
      async (h) => {
        started.push(h.name);
        if (h.name === 'h1') ctl.abort();
        await new Promise((r) => setTimeout(r, 2));
        return ok(h.name);
      },
      { forks: 2, clock: systemClock, interrupt, onEvent: () => {} },
    );
    expect(started).toEqual(['h0', 'h1']);
    expect(results.filter((r) => r.status === 'interrupted')).toHaveLength(8);
    expect(results.filter((r) => r.status === 'ok')).toHaveLength(2);
  });
});

describe('exit codes', () => {
  const base = (over: Partial<HostResult>[]) => summarize(over.map((o, i) => ({ ...ok(`h${i}`), ...o })));
  it('0 when all ok, 2 failed, 4 unreachable, 6 both, 130 interrupted', () => {
    expect(exitCodeFor(base([{}, {}]), false)).toBe(0);
    expect(exitCodeFor(base([{}, { status: 'failed' }]), false)).toBe(2);
    expect(exitCodeFor(base([{ status: 'unreachable' }]), false)).toBe(4);
    expect(exitCodeFor(base([{ status: 'unreachable' }, { status: 'failed' }]), false)).toBe(6);
    expect(exitCodeFor(base([{}]), true)).toBe(130);
  });
  it('2 when a host is non-compliant', () => {
    const s = base([{ compliance: { compliant: false, failed_controls: [], controls: [] } }]);
    expect(s.non_compliant).toBe(1);
    expect(exitCodeFor(s, false)).toBe(2);
  });
});
