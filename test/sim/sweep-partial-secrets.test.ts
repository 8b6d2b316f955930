/**
 * The sections a sweep keeps from a fact script cut short are masked like a whole output (issue
 * 17 item 2 with issue 16's secret masking). Two hosts print their become password in a file the
 * probe reads (/etc/os-release): one's kernel-log reader (journalctl) then hangs past the command
 * timeout, the other's connection drops mid-output. Both keep their completed sections, with the
 * secret masked; no secret reaches --json, the store's bytes or any report (written by the sweep
 * and re-rendered from the store).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRegistry, startFleet, type CommandHandler, type Fleet } from '../../src/sim/index.js';
import { hangUntilClosed } from '../../src/sim/commands/audit.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { filesBelow } from '../helpers/files.js';
import { scenarioOf } from '../fixtures/playbooks/sim-harness.js';

interface JsonHost {
  host: string;
  status: string;
  error: { code: string; message: string } | null;
  audit: Record<string, number> | null;
  facts?: { samples: { system: { distribution?: { pretty_name?: string } }; parse_errors: { section: string; message: string }[] }[] };
}

const HANG = 'hang-01';
const DROP = 'drop-01';

describe('partial fact output of a host cut short never carries a secret (simulated fleet, CLI)', () => {
  // random per test run, so no fixture or earlier run can make a "not contained" pass
  const SECRETS: Record<string, string> = { [HANG]: `hg-${randomBytes(9).toString('base64url')}`, [DROP]: `dr-${randomBytes(9).toString('base64url')}` };
  let fleet: Fleet;
  let dir: string;
  let sweep: CliResult;
  let report: CliResult;
  let hosts: Map<string, JsonHost>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-partial-secrets-'));
    // lost > 0, so the script reaches its kernel-log reader (journalctl, as root through sudo too)
    const scenario = scenarioOf('partial-secrets', (mk) =>
      [HANG, DROP].map((name) => ({ spec: { ...mk.rhel(name), lost: 10, sudo: { password: SECRETS[name]!, nopasswd: false } } })),
    );
    const journalctl = defaultRegistry().get('journalctl')!;
    const hangOnOne: CommandHandler = (ctx) => (ctx.machine.name === HANG ? hangUntilClosed(ctx) : journalctl(ctx));
    fleet = await startFleet({
      scenario,
      dir: join(dir, 'fleet'),
      loginDelayScale: 0,
      commands: { journalctl: hangOnOne },
      faults: { [DROP]: [{ kind: 'drop-mid-command' }] },
    });
    for (const h of fleet.hosts) {
      h.machine.fs.put('/etc/os-release', `PRETTY_NAME="Leaky Linux ${SECRETS[h.name]!}"\nNAME="Leaky Linux"\nVERSION_ID="9.4"\nID=rhel\n`);
    }
    const state = join(dir, 'state');
    sweep = await runCli(
      ['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '--json', '-q', '--state-dir', state,
        '--command-timeout', '3', '--connect-timeout', '10', '-o', join(dir, 'reports'), '--format', 'md,html,json,junit', '--per-host'],
      { HOME: tmpdir() },
    );
    hosts = new Map((JSON.parse(sweep.stdout) as { hosts: JsonHost[] }).hosts.map((h) => [h.host, h]));
    report = await runCli(['report', 'latest', '--state-dir', state, '-o', join(dir, 'rerendered'), '--format', 'md,html,json,junit', '--per-host'], { HOME: tmpdir() });
  }, 60_000);
  afterAll(async () => {
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the host whose journalctl hangs: E_CMD_TIMEOUT naming the section, its auditctl -s facts and the masked os-release kept', () => {
    const h = hosts.get(HANG)!;
    expect(h.status).toBe('failed');
    expect(h.error?.code).toBe('E_CMD_TIMEOUT');
    expect(h.error?.message).toMatch(/timed out after 3000 ms on hang-01: the facts script; section kernel_journal did not finish/);
    expect(h.audit?.lost).toBeGreaterThanOrEqual(10);
    const sample = h.facts!.samples[0]!;
    expect(sample.system.distribution?.pretty_name).toBe('Leaky Linux ********');
    expect(sample.parse_errors).toEqual([{ section: 'kernel_journal', message: 'did not finish: E_CMD_TIMEOUT' }]);
  });

  it('the host whose connection drops mid-output: E_DISCONNECTED, the sections received kept with the secret masked', () => {
    const h = hosts.get(DROP)!;
    expect(h.status).toBe('unreachable');
    expect(h.error?.code).toBe('E_DISCONNECTED');
    expect(h.error?.message).toMatch(/did not finish/);
    expect(h.audit).not.toBeNull();
    expect(h.facts!.samples[0]!.system.distribution?.pretty_name).toBe('Leaky Linux ********');
  });

  it('no secret in the terminal, --json, the store bytes, the reports or the reports re-rendered from the store', () => {
    expect(report.code, report.stderr).toBe(0);
    const texts: [string, string][] = [['stdout', sweep.stdout], ['stderr', sweep.stderr], ['report stdout', report.stdout]];
    for (const sub of ['state', 'reports', 'rerendered']) for (const f of filesBelow(join(dir, sub))) texts.push([f, readFileSync(f, 'latin1')]);
    expect(texts.filter(([w]) => w.includes('rerendered')).length).toBeGreaterThan(4);
    for (const [where, text] of texts) for (const secret of Object.values(SECRETS)) expect(text, where).not.toContain(secret);
  });
});
