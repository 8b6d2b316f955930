/**
 * What the simulator gives the modules: stat/chmod/chown with modes and owners that `mv` carries
 * (rename(2)), the package managers per family, systemd units besides auditd, and the kernel
 * fidelity the rules guards rely on: `augenrules --load` or `auditctl -R` of `-f 2` on a host
 * losing records panics it and never returns, exactly as `auditctl -f 2` does (T20).
 */
import { describe, expect, it } from 'vitest';
import { FakeClock, Shell, SimMachine, StringInput, debianSpec, defaultRegistry, rhelSpec, DEBIAN_RULES } from '../../src/sim/index.js';
import { Rng } from '../../src/sim/rng.js';
import type { MachineSpec } from '../../src/sim/machine.js';

const registry = defaultRegistry();

async function sh(m: SimMachine, script: string, opts: { uid?: number; signal?: AbortSignal } = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await new Shell(m, registry).run(script, {
    stdin: new StringInput(''),
    stdout: { write: (c: string | Buffer) => void (out += c.toString()) },
    stderr: { write: (c: string | Buffer) => void (err += c.toString()) },
    uid: opts.uid ?? 0,
    user: opts.uid ? 'fleet' : 'root',
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return { code, out, err };
}

const machine = (spec: MachineSpec) => {
  const clock = new FakeClock();
  const m = new SimMachine(spec, clock, 's');
  clock.advance(5000);
  return { m, clock };
};
const deb = (over: Partial<MachineSpec> = {}) => machine({ ...debianSpec('d1', new Rng(1), { downtimeMs: 1000 }), ...over });

describe('files: modes and owners', () => {
  it('stat -c prints GNU format; chmod/chown change it; mv keeps it (rename); only root gives a file away', async () => {
    const { m } = deb();
    await sh(m, "printf 'x' > /etc/a.conf && chmod 640 /etc/a.conf && chown root:adm /etc/a.conf");
    expect((await sh(m, "stat -c '%a:%U:%G:%F:%s' /etc/a.conf")).out).toBe('640:root:adm:regular file:1\n');
    await sh(m, "printf 'yy' > /etc/.t && chmod 600 /etc/.t && mv -f /etc/.t /etc/a.conf");
    expect((await sh(m, "stat -c '%a:%U:%G:%F' /etc/a.conf; cat /etc/a.conf")).out).toBe('600:root:root:regular file\nyy');
    expect(m.fs.stat('/etc/.t')).toBeNull();
    expect((await sh(m, "touch /tmp/mine && chown root /tmp/mine", { uid: 1000 })).err).toMatch(/Operation not permitted/);
    expect((await sh(m, "stat -c '%a %F' /etc/audit /nonexistent")).out).toBe('755 directory\n');
  });
});

describe('packages and units', () => {
  it('Debian has dpkg/apt, RHEL rpm/dnf; installs need root', async () => {
    const { m } = deb();
    expect((await sh(m, 'command -v apt-get dnf')).out).toBe('/usr/bin/apt-get\n');
    expect((await sh(m, "dpkg-query -W -f '${Package} ${Version}\\n' auditd aide")).out).toBe('auditd 1:3.0.9-1\n');
    expect((await sh(m, 'apt-get install -y aide', { uid: 1000 })).code).toBe(100);
    expect((await sh(m, 'apt-get install -y aide')).code).toBe(0);
    const r = machine({ ...rhelSpec('r1', new Rng(1), { downtimeMs: 1000 }) }).m;
    expect((await sh(r, 'command -v apt-get dnf')).out).toBe('/usr/bin/dnf\n');
    expect((await sh(r, 'dnf -q check-update audit')).code).toBe(100);
  });
  it('systemctl for another unit: show, enable/disable, stop/start, unknown units', async () => {
    const { m } = deb();
    expect((await sh(m, 'systemctl show cron -p ActiveState -p UnitFileState')).out).toBe('ActiveState=active\nUnitFileState=enabled\n');
    await sh(m, 'systemctl disable cron; systemctl stop cron.service');
    expect((await sh(m, 'systemctl is-enabled cron; systemctl is-active cron')).out).toBe('disabled\ninactive\n');
    expect((await sh(m, 'systemctl start nosuch')).code).toBe(5);
    expect((await sh(m, 'systemctl show auditd -p UnitFileState')).out).toBe('UnitFileState=enabled\n');
  });
});

describe('rules loaded on a host losing records (reference §3, T20)', () => {
  const losing = () =>
    deb({
      eventRate: 500,
      auditd: 'stuck',
      lost: 120_000,
      rulesD: { 'audit.rules': DEBIAN_RULES.replace('--backlog_wait_time 60000', '--backlog_wait_time 0').replace('-b 8192', '-b 256'), 'zz-panic.rules': '-f 2\n' },
      historyMs: 120_000,
    });
  it.each(['augenrules --load', 'auditctl -R /etc/audit/rules.d/zz-panic.rules'])('%s panics it and never returns, like auditctl -f 2', async (cmd) => {
    const { m } = losing();
    const boot = m.kernel.bootId;
    const stop = new AbortController();
    const running = sh(m, cmd, { signal: stop.signal });
    const settled = await Promise.race([running.then(() => 'returned'), new Promise((done) => setTimeout(() => done('hung'), 200))]);
    stop.abort();
    await running.catch(() => undefined);
    expect(settled).toBe('hung');
    expect(m.kernel.console.join('\n')).toMatch(/Kernel panic - not syncing: audit: backlog limit exceeded/);
    expect(m.kernel.bootId === boot && m.kernel.power === 'up').toBe(false);
  });
});
