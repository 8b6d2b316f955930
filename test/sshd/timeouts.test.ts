/**
 * Hosts that hang: one accepts TCP but never speaks SSH, one runs a command that never ends.
 * Both end in bounded time with a clear per-host error, and the rest of the fleet completes.
 */
import net from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { partialOutputOf } from '../../src/transport/index.js';
import { startSshdFleet, type SshdFleet } from '../helpers/sshd-fleet.js';
import { expectFailure, factory, skipReason, specFor } from './util.js';

/** PIDs of processes running as `uid` whose command line contains `needle`. */
function processesOf(uid: number, needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) !== uid) continue;
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(needle)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe.skipIf(skipReason !== null)('timeouts against real sshd', () => {
  let fleet: SshdFleet;
  let silent: net.Server;
  let silentPort: number;
  const held: net.Socket[] = [];

  beforeAll(async () => {
    fleet = await startSshdFleet({ hosts: 6 });
    // Accepts TCP, never sends a banner (a wedged sshd, a tarpit, a half-dead host).
    silent = net.createServer((s) => {
      held.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((r) => silent?.close(r));
    await fleet?.stop();
  });

  it('a host that accepts TCP but never speaks SSH fails in bounded time with E_BANNER_TIMEOUT', async () => {
    const spec = specFor(fleet, fleet.hosts[0]!, { name: 'silent', address: '127.0.0.1', port: silentPort, dialTimeoutMs: 1500, connectTimeoutMs: 3000 });
    const started = Date.now();
    const e = await expectFailure(factory().connect(spec), 'E_BANNER_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(e.host).toBe('silent');
    expect(e.message).toContain(`127.0.0.1:${silentPort}`);
  });

  it('a command that never ends is E_CMD_TIMEOUT, is killed on the host, and the connection stays usable', async () => {
    const h = fleet.hosts[1]!;
    const t = await factory().connect(specFor(fleet, h));
    try {
      const started = Date.now();
      const e = await expectFailure(t.exec('sleep 3600', { timeoutMs: 1000 }), 'E_CMD_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(4000);
      expect(e.message).toContain('sleep 3600');
      expect(e.host).toBe(h.name);
      const next = await t.exec('echo still-here');
      expect(next.stdout).toBe('still-here\n');
      // The remote sleep does not outlive the timeout (signal request or channel close).
      const deadline = Date.now() + 5000;
      while (processesOf(fleet.uid, 'sleep 3600').length > 0 && Date.now() < deadline) await sleep(100);
      expect(processesOf(fleet.uid, 'sleep 3600')).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('a command cut short by its timeout carries what it printed, with the connection secrets masked', async () => {
    const secret = `to-${Date.now().toString(36)}-secret`;
    const h = fleet.hosts[1]!;
    // a become password the connection holds (become off: sudo never runs, the value is still masked)
    const t = await factory().connect(specFor(fleet, h, { become: { enabled: false, password: secret } }));
    try {
      const e = await expectFailure(t.exec(`printf 'got %s\\n' '${secret}'; printf 'tail %s' '${secret.slice(0, 8)}'; sleep 3600`, { timeoutMs: 1500 }), 'E_CMD_TIMEOUT');
      expect(partialOutputOf(e)).toMatchObject({ stdout: 'got ********\ntail ********', stderr: '', truncated: false });
      expect(e.message).not.toContain(secret);
    } finally {
      await t.close();
    }
  });

  it('a fleet with one silent host and one hung command completes the others, each error per host', async () => {
    const f = factory();
    const targets = [
      ...fleet.hosts.slice(2).map((h) => ({ spec: specFor(fleet, h, { commandTimeoutMs: 1500 }), cmd: 'auditctl -s' })),
      { spec: specFor(fleet, fleet.hosts[0]!, { name: 'silent', address: '127.0.0.1', port: silentPort, dialTimeoutMs: 1500, connectTimeoutMs: 3000 }), cmd: 'auditctl -s' },
      { spec: specFor(fleet, fleet.hosts[1]!, { commandTimeoutMs: 1500 }), cmd: 'sleep 3600' },
    ];
    const started = Date.now();
    const results = await Promise.allSettled(
      targets.map(async ({ spec, cmd }) => {
        const t = await f.connect(spec);
        try {
          return await t.exec(cmd);
        } finally {
          await t.close();
        }
      }),
    );
    expect(Date.now() - started).toBeLessThan(8000);
    const byName = new Map(results.map((r, i) => [targets[i]!.spec.name, r]));
    for (const h of fleet.hosts.slice(2)) {
      const r = byName.get(h.name);
      expect(r?.status).toBe('fulfilled');
      if (r?.status === 'fulfilled') expect(r.value.stdout).toContain('backlog_limit 8192');
    }
    const silentResult = byName.get('silent');
    const hung = byName.get(fleet.hosts[1]!.name);
    expect(silentResult?.status === 'rejected' && (silentResult.reason as FleetmendError).code).toBe('E_BANNER_TIMEOUT');
    expect(hung?.status === 'rejected' && (hung.reason as FleetmendError).code).toBe('E_CMD_TIMEOUT');
  });
});
