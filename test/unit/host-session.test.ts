/** The host session: one sampler, facts cached per sample, and when a read costs a new round trip. */
import { describe, expect, it } from 'vitest';
import { SAMPLE_FRESH_MS } from '../../src/host/index.js';
import { MountsFact } from '../../src/facts/defs/mounts.js';
import { FakeHost, FakeTransport, sessionOver } from '../fixtures/playbooks/fake-host.js';

function clock() {
  let t = 1_700_000_000_000;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

describe('HostSession', () => {
  it('reads facts of one sample: several reads, one round trip', async () => {
    const h = new FakeHost();
    h.memAvailableKb = 123_456;
    const s = sessionOver(new FakeTransport(h), clock());
    expect((await s.fact('memory'))?.mem_available_kb).toBe(123_456);
    expect((await s.fact('system')).boot_id).toBe(h.bootId);
    expect((await s.fact('auditd')).registered_pid_state).toBe('S');
    expect(h.probes).toBe(1);
  });

  it('samples again when the sample is older than SAMPLE_FRESH_MS, asked with another become, or invalidated', async () => {
    const h = new FakeHost();
    const c = clock();
    const s = sessionOver(new FakeTransport(h), c);
    await s.sample(true);
    await c.sleep(SAMPLE_FRESH_MS);
    await s.sample(true);
    expect(h.probes).toBe(1);
    await c.sleep(1);
    await s.sample(true);
    expect(h.probes).toBe(2);
    await s.sample(false);
    expect(h.probes).toBe(3);
    s.invalidate();
    await s.sample(false);
    expect(h.probes).toBe(4);
    s.replaceTransport(new FakeTransport(h));
    await s.sample(false);
    expect(h.probes).toBe(5);
  });

  it('takeSample is always a new round trip; a connection lost before any output is thrown', async () => {
    const h = new FakeHost();
    const s = sessionOver(new FakeTransport(h), clock());
    await s.takeSample();
    await s.takeSample();
    expect(h.probes).toBe(2);
    h.down = true;
    await expect(s.takeSample()).rejects.toMatchObject({ code: 'E_DISCONNECTED' });
  });

  it('a gathered fact costs one gathering round trip (the probe with the gathered sections), then is cached; a plain read reuses it', async () => {
    const h = new FakeHost();
    const s = sessionOver(new FakeTransport(h), clock());
    await s.sample();
    expect(h.commands.at(-1)).not.toContain(':begin:mounts');
    // the fake host prints no /proc/mounts: the fact's empty value, never a throw
    expect(await s.gathered(MountsFact)).toEqual([]);
    expect(h.probes).toBe(2);
    expect(h.commands.at(-1)).toContain(':begin:mounts');
    await s.gathered(MountsFact);
    await s.sample();
    expect(h.probes).toBe(2);
  });
});
