import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet, type SimHost } from '../../src/sim/index.js';

function connect(fleet: Fleet, h: SimHost, readyTimeout = 3000): Promise<ssh2.Client> {
  const line = readFileSync(fleet.knownHostsPath, 'utf8').split('\n').find((l) => l.startsWith(`[${h.address}]:${h.port} `));
  const expected = Buffer.from(line?.split(' ')[2] ?? '', 'base64');
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('ready', () => resolve(c)).on('error', reject);
    c.connect({ host: h.address, port: h.port, username: h.machine.spec.user, privateKey: readFileSync(fleet.clientKeyPath), readyTimeout, hostVerifier: (k: Buffer) => k.equals(expected) });
  });
}

function exec(c: ssh2.Client, cmd: string): Promise<{ out: Buffer; code: number | null; closedEarly: boolean }> {
  return new Promise((resolve, reject) => {
    c.exec(cmd, (err, ch) => {
      if (err) return reject(err);
      const chunks: Buffer[] = [];
      let code: number | null = null;
      ch.on('data', (d: Buffer) => chunks.push(d));
      ch.on('exit', (x: number | null) => (code = x));
      ch.on('close', () => resolve({ out: Buffer.concat(chunks), code, closedEarly: code === null }));
    });
  });
}

describe('fault hosts over real SSH', () => {
  let fleet: Fleet;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fleetmend-faults-'));
    fleet = await startFleet({ dir, scenario: 'faults', loginDelayScale: 0 });
  });
  afterAll(async () => {
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('no banner: the handshake times out', async () => {
    await expect(connect(fleet, fleet.host('f-no-banner'), 800)).rejects.toThrow(/Timed out/);
  });
  it('auth failure and changed host key are refused', async () => {
    await expect(connect(fleet, fleet.host('f-auth-fail'))).rejects.toThrow(/authentication methods failed/);
    await expect(connect(fleet, fleet.host('f-hostkey-changed'))).rejects.toThrow(/verification failed/i);
  });
  it('connection dropped mid-command: partial output, no exit status', async () => {
    const c = await connect(fleet, fleet.host('f-drop'));
    c.on('error', () => undefined);
    const r = await exec(c, 'auditctl -s');
    expect(r.closedEarly).toBe(true);
    expect(r.out.length).toBeGreaterThan(0);
    expect(r.out.toString()).not.toContain('loginuid_immutable');
  });
  it('huge output is streamed completely (32 MiB) with an exit status', async () => {
    const c = await connect(fleet, fleet.host('f-huge'));
    try {
      const r = await exec(c, 'auditctl -s');
      expect(r.out.length).toBe(32 * 1024 * 1024);
      expect(r.code).toBe(0);
    } finally {
      c.end();
    }
  });
  it('binary output and garbage auditctl', async () => {
    const c = await connect(fleet, fleet.host('f-binary'));
    try {
      const r = await exec(c, 'echo hi');
      expect([...r.out.subarray(0, 3)]).toEqual([0xff, 0xfe, 0x00]);
      expect(r.out.subarray(-3).toString()).toBe('hi\n');
    } finally {
      c.end();
    }
    const g = await connect(fleet, fleet.host('f-garbage'));
    try {
      expect((await exec(g, 'auditctl -s')).out.toString()).toContain('failure one');
    } finally {
      g.end();
    }
  });
  it('a hanging command never exits until the client closes', async () => {
    const c = await connect(fleet, fleet.host('f-hang'));
    const p = exec(c, 'uname -r');
    const winner = await Promise.race([p.then(() => 'done'), new Promise((r) => setTimeout(() => r('timeout'), 700))]);
    expect(winner).toBe('timeout');
    c.end();
  });
});
