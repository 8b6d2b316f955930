/**
 * Issue 17.7 against real OpenSSH: a command sending 60 MB is stopped at the output cap. The
 * runner receives at most one SSH window past the cap (it does not drain the rest), the remote
 * process is gone (killed / SIGPIPE when the channel closed), and the connection stays usable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSshdFleet, type FleetHost, type SshdFleet } from '../helpers/sshd-fleet.js';
import { factory, skipReason, specFor } from './util.js';

const SPEW = 60 * 1024 * 1024;
const CAP = 1024 * 1024;

describe.skipIf(skipReason !== null)('output cap on a real sshd host', () => {
  let fleet: SshdFleet;
  let h: FleetHost;

  beforeAll(async () => {
    fleet = await startSshdFleet({ hosts: 1 });
    h = fleet.hosts[0]!;
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('60 MB into a command: stopped at the cap, the sender gone, the connection reusable', async () => {
    const t = await factory().connect(specFor(fleet, h, { maxOutputBytes: CAP, commandTimeoutMs: 60_000 }));
    try {
      // a marker argument names this process for the check below ([m]: the pgrep shell's own
      // command line must not match)
      const r = await t.exec(`exec head -c ${SPEW} /dev/zero fm-cap-marker`);
      expect(r.truncated).toBe(true);
      expect(r.stdout.length).toBe(CAP);
      expect(r.bytes).toBeGreaterThan(CAP);
      expect(r.bytes).toBeLessThan(CAP + 4 * 1024 * 1024);
      // the remote head ends once sshd closes the channel (bounded wait, 50 x 100 ms)
      let left = '';
      for (let i = 0; i < 50; i++) {
        left = (await t.exec("pgrep -f 'fm-cap-[m]arker' || true")).stdout.trim();
        if (left === '') break;
        await sleep(100);
      }
      expect(left).toBe('');
      expect((await t.exec('echo still-here')).stdout).toBe('still-here\n');
    } finally {
      await t.close();
    }
  }, 90_000);
});
