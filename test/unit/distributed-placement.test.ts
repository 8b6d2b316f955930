import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { heartbeatProblem, ownerOf, workerQueueOf, type Heartbeat } from '../../src/distributed/placement.js';
import { loadSigningKey, loadTrustStore, signJson, writeKeyPair } from '../../src/distributed/signing.js';

/** Placement's pure parts (issue 25 §5): rendezvous hashing, queue names, heartbeats a coordinator believes. */
const hosts = Array.from({ length: 600 }, (_, i) => `web-${String(i).padStart(3, '0')}.example`);
const assign = (workers: string[]) => new Map(hosts.map((h) => [h, ownerOf(h, workers)]));

describe('ownerOf: rendezvous hashing of host names over live workers', () => {
  it('is the same whatever order the workers are listed in, and spreads hosts evenly', () => {
    const a = assign(['w1', 'w2', 'w3']);
    expect(assign(['w3', 'w1', 'w2'])).toEqual(a);
    for (const w of ['w1', 'w2', 'w3']) {
      const n = [...a.values()].filter((x) => x === w).length;
      expect(n, w).toBeGreaterThan(150);
      expect(n, w).toBeLessThan(250);
    }
  });

  it('a worker leaving moves only the hosts it held; one joining takes hosts only for itself', () => {
    const three = assign(['w1', 'w2', 'w3']);
    const two = assign(['w1', 'w3']);
    for (const h of hosts) if (three.get(h) !== 'w2') expect(two.get(h), h).toBe(three.get(h));
    const four = assign(['w1', 'w2', 'w3', 'w4']);
    for (const h of hosts) if (four.get(h) !== 'w4') expect(four.get(h), h).toBe(three.get(h));
    expect([...four.values()].filter((w) => w === 'w4').length).toBeGreaterThan(100);
  });

  it('no live worker: no owner (the shared queue)', () => {
    expect(ownerOf('web-1', [])).toBeUndefined();
  });
});

describe('workerQueueOf', () => {
  it('keeps a plain name readable, and turns any other into a digest without BullMQ\'s separator', () => {
    expect(workerQueueOf('runner-1.example')).toBe('hosts.runner-1.example');
    const odd = workerQueueOf('a:b');
    expect(odd).toMatch(/^hosts#[0-9a-f]{32}$/);
    expect(workerQueueOf('a:c')).not.toBe(odd);
  });
});

describe('heartbeatProblem: only a trusted worker key announces a worker, for its own name, until its expiry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-place-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const worker = writeKeyPair(join(dir, 'worker'));
  const rogue = writeKeyPair(join(dir, 'rogue'));
  const trust = loadTrustStore([worker.pubFile], '--trust-workers');
  const NOW = Date.parse('2026-01-01T00:00:00Z');
  const beat = (over: Partial<Heartbeat> = {}): Heartbeat => ({ purpose: 'fleetmend-worker', worker: 'w1', queue: workerQueueOf('w1'), expiresAt: NOW + 40_000, ...over });
  const text = (b: Heartbeat, key = worker.keyFile) => JSON.stringify(signJson(b, loadSigningKey(key)));

  it('believes a heartbeat its worker signed', () => {
    expect(heartbeatProblem('w1', text(beat()), trust, NOW)).toBeUndefined();
  });

  it('refuses unsigned, untrusted, altered, another name\'s, another queue\'s and expired heartbeats', () => {
    expect(heartbeatProblem('w1', JSON.stringify(beat()), trust, NOW)).toMatch(/not signed/);
    expect(heartbeatProblem('w1', text(beat(), rogue.keyFile), trust, NOW)).toMatch(/untrusted key/);
    const altered = JSON.parse(text(beat())) as { payload: string };
    altered.payload = altered.payload.replace(String(NOW + 40_000), String(NOW + 9_000_000));
    expect(heartbeatProblem('w1', JSON.stringify(altered), trust, NOW)).toMatch(/bad signature/);
    expect(heartbeatProblem('w2', text(beat()), trust, NOW)).toMatch(/signed for worker w1/);
    expect(heartbeatProblem('w1', text(beat({ queue: 'hosts' })), trust, NOW)).toMatch(/names queue hosts/);
    expect(heartbeatProblem('w1', text(beat()), trust, NOW + 40_001)).toMatch(/expired/);
    expect(heartbeatProblem('w1', 'not json', trust, NOW)).toMatch(/not JSON/);
  });
});
