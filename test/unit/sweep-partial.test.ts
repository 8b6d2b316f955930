/**
 * The sweep's side of the lean probe, with the simulator's shell behind a minimal Transport:
 * sections stream as the host completes them, and a sample cut short (command timeout, dropped
 * connection) keeps, parses and diagnoses what arrived; sudo only when become is set; without
 * become a refused `auditctl -s` is one clear "needs root" error.
 */
import { describe, expect, it } from 'vitest';
import { hangUntilClosed } from '../../src/sim/commands/audit.js';
import { FakeClock, Shell, SimMachine, StringInput, debianSpec, defaultRegistry, type MachineSpec } from '../../src/sim/index.js';
import { Rng } from '../../src/sim/rng.js';
import { DEBIAN_RULES } from '../../src/sim/machine.js';
import type { CommandRegistry } from '../../src/sim/shell.js';
import { sweepHost } from '../../src/sweep/index.js';
import { CommandCutShort, type ConnectionSpec, type ExecOptions, type ExecResult, type Transport } from '../../src/transport/index.js';
import type { RunEvent } from '../../src/results/index.js';

interface Seen {
  commands: string[];
  become: (boolean | undefined)[];
}

/** A Transport whose host is a simulated machine; times out like Ssh2Transport (E_CMD_TIMEOUT), the output so far on the error. */
function simTransport(m: SimMachine, registry: CommandRegistry, spec: Partial<ConnectionSpec>, seen: Seen, dropAfterBytes?: number): Transport {
  const full: ConnectionSpec = {
    name: 'h1', address: '127.0.0.1', port: 22, user: 'root', auth: {}, become: { enabled: false }, connectTimeoutMs: 1000,
    commandTimeoutMs: 400, keepaliveIntervalMs: 1000, maxOutputBytes: 1 << 20, knownHostsFile: '/dev/null', hostKeyChecking: 'off', ...spec,
  };
  return {
    spec: full,
    async connect() {},
    async close() {},
    async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
      seen.commands.push(command);
      seen.become.push(opts.become);
      const abort = new AbortController();
      let out = '';
      let dropped = false;
      const stdout = {
        write: (c: string | Buffer) => {
          if (dropped) return;
          const b = Buffer.from(c);
          out += b.toString();
          if (dropAfterBytes !== undefined && out.length >= dropAfterBytes) {
            dropped = true;
            abort.abort();
          }
        },
      };
      const uid = full.user === 'root' || (full.become.enabled && opts.become !== false) ? 0 : 1000;
      const run = new Shell(m, registry).run(command, { stdin: new StringInput(''), stdout, stderr: { write: () => undefined }, uid, user: uid === 0 ? 'root' : full.user, signal: abort.signal });
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), full.commandTimeoutMs));
      const rc = await Promise.race([run, timer]);
      const partial = { stdout: out, stderr: '', bytes: out.length, truncated: false };
      if (dropped) throw new CommandCutShort('E_DISCONNECTED', `connection to ${full.name} lost during command: the facts script`, partial);
      if (rc === 'timeout') {
        abort.abort();
        throw new CommandCutShort('E_CMD_TIMEOUT', `command timed out after ${full.commandTimeoutMs} ms on ${full.name}: the facts script`, partial);
      }
      return { command, stdout: out, stderr: '', code: rc, durationMs: 1, truncated: false, bytes: out.length };
    },
  };
}

function machine(spec: Partial<MachineSpec> = {}, runForMs = 0): SimMachine {
  const clock = new FakeClock();
  const m = new SimMachine({ ...debianSpec('h1', new Rng(3), { downtimeMs: 1000 }), ...spec }, clock, 's');
  clock.advance(runForMs);
  return m;
}

const clock = { now: () => Date.now(), sleep: async () => undefined };
const events: RunEvent[] = [];
const opts = { samples: 1, intervalMs: 0, clock, onEvent: (e: RunEvent) => void events.push(e) };
const target = { name: 'h1', address: '127.0.0.1', port: 22 };
// A stuck auditd at -b 128 under a steady load: after a few kauditd passes tasks sleep on the queue (T04).
const incident = { auditd: 'stuck' as const, eventRate: 300, lost: 10, rulesD: { 'audit.rules': DEBIAN_RULES.replace('-b 8192', '-b 128') } };

describe('sweep of one host through the lean probe', () => {
  it('a host whose kernel-log reader hangs still gets its auditctl -s facts and a diagnosis; the error names the section', async () => {
    const registry = defaultRegistry().register('journalctl', hangUntilClosed);
    const seen: Seen = { commands: [], become: [] };
    const r = await sweepHost(target, simTransport(machine(incident, 5000), registry, {}, seen), opts);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('E_CMD_TIMEOUT');
    expect(r.error?.message).toMatch(/timed out after 400 ms on h1: the facts script; section kernel_journal did not finish/);
    expect(r.audit?.lost).toBeGreaterThanOrEqual(10);
    const sample = r.facts?.samples[0];
    expect(sample?.auditctl.kind).toBe('ok');
    expect(sample?.persistent.effective_backlog_limit).toBe(128);
    expect(sample?.stalled_tasks?.count).toBeGreaterThan(0);
    expect(r.diagnosis?.findings.map((f) => f.code)).toEqual(expect.arrayContaining(['tasks-stalled', 'auditd-not-running', 'backlog-growing']));
    expect(sample?.parse_errors).toEqual([{ section: 'kernel_journal', message: 'did not finish: E_CMD_TIMEOUT' }]);
  });

  it('a connection dropped after auditctl -s: unreachable, the status kept, the unfinished section named', async () => {
    const seen: Seen = { commands: [], become: [] };
    const r = await sweepHost(target, simTransport(machine(), defaultRegistry(), {}, seen, 400), opts);
    expect(r.status).toBe('unreachable');
    expect(r.error?.code).toBe('E_DISCONNECTED');
    expect(r.error?.message).toMatch(/section (meminfo|cmdline) did not finish/);
    expect(r.facts?.samples[0]?.auditctl.kind).toBe('ok');
    expect(r.diagnosis).toBeDefined();
  });

  it('no become: sudo is never requested; a non-root login whose auditctl -s is refused gets "needs root"', async () => {
    const seen: Seen = { commands: [], become: [] };
    const r = await sweepHost(target, simTransport(machine(), defaultRegistry(), { user: 'ops' }, seen), opts);
    expect(seen.become).toEqual([undefined]);
    expect(seen.commands[0]).not.toMatch(/sudo/);
    expect(seen.commands[0]).toContain('journalctl -b -q --no-pager -n 1000 _TRANSPORT=kernel + SYSLOG_IDENTIFIER=auditd');
    expect(seen.commands[0]).not.toContain('dmesg');
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('E_BECOME');
    expect(r.error?.message).toMatch(/^needs root: set become \(-b\) or log in as root \(auditctl -s as ops: /);
  });

  it('become set: the connection decides (the transport wraps sudo); the root script (journalctl, dmesg without it) is sent', async () => {
    const seen: Seen = { commands: [], become: [] };
    const r = await sweepHost(target, simTransport(machine(), defaultRegistry(), { user: 'ops', become: { enabled: true } }, seen), opts);
    expect(seen.become).toEqual([undefined]);
    expect(seen.commands[0]).toContain('dmesg 2>&1');
    expect(r.status).toBe('ok');
  });
});
