/**
 * Issue 21.5 through the CLI on the simulated fleet: a secret-named play var copied by
 * `set_fact` in one play and printed in the next (where the var itself is gone) is masked in
 * the terminal, `--json`, the store and report.json; a secret printed character by character
 * is not readable in any of them either.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { filesBelow } from '../helpers/files.js';
import { scenarioOf } from '../fixtures/playbooks/sim-harness.js';

interface JsonTask {
  task: string;
  status: string;
  msg?: string;
  warnings?: string[];
}

describe('a value derived from a secret stays secret across plays (simulated fleet, CLI)', () => {
  const SECRET = `Tp-${randomBytes(9).toString('base64url')}`;
  let fleet: Fleet;
  let dir: string;
  let run: CliResult;
  let tasks: Map<string, JsonTask>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-taint-'));
    fleet = await startFleet({ scenario: scenarioOf('taint', (mk) => [{ spec: mk.rhel('t-01') }]), dir: join(dir, 'fleet'), loginDelayScale: 0 });
    const pb = join(dir, 'pb.yml');
    const chars = [0, 1, 2, 3, 4, 5].map((i) => `{{ session_pw[${i}] }}`).join(' ');
    writeFileSync(
      pb,
      stringify([
        {
          name: 'one',
          hosts: 'all',
          vars: { session_pw: SECRET },
          tasks: [
            { name: 'copy', set_fact: { copied: '{{ session_pw }}' } },
            { name: 'char by char', debug: { msg: chars } },
          ],
        },
        {
          name: 'two',
          hosts: 'all',
          tasks: [
            { name: 'copy printed', debug: { msg: 'copy={{ copied }}' } },
            { name: 'copy failed', fail: { msg: 'copy was {{ copied }}' } },
          ],
        },
      ]),
    );
    // no -q: the failed task's line is in the terminal output (stderr), --json on stdout
    run = await runCli(
      ['run', pb, '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--state-dir', join(dir, 'state'), '-o', join(dir, 'reports'), '--format', 'json', '--json'],
      { HOME: tmpdir() },
    );
    const doc = JSON.parse(run.stdout) as { hosts: { tasks: JsonTask[] }[] };
    tasks = new Map(doc.hosts[0]!.tasks.map((t) => [t.task, t]));
  }, 60_000);
  afterAll(async () => {
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the copy printed in the next play is masked in --json', () => {
    expect(run.code, run.stderr).toBe(2);
    expect(tasks.get('copy printed')!.msg).toBe('copy=********');
    expect(tasks.get('copy failed')!.msg).toBe('copy was ********');
  });

  it('and in the terminal', () => {
    expect(run.stderr).toMatch(/TASK \[copy failed\] t-01: failed - copy was \*{8}/);
  });

  it('a secret printed character by character is masked whole', () => {
    expect(tasks.get('char by char')!.msg).toBe('********');
    expect(tasks.get('char by char')!.warnings?.[0]).toMatch(/^output masked: \{\{ session_pw\[0\] \}\} at .*pb\.yml:\d+ uses the secret 'session_pw' in a form/);
  });

  it('neither the secret nor its characters are in the terminal, --json, the store or report.json', () => {
    const reports = filesBelow(join(dir, 'reports'));
    const reportJson = reports.find((f) => f.endsWith('.json'));
    expect(reportJson).toBeDefined();
    expect(readFileSync(reportJson!, 'utf8')).toContain('copy was ********');
    const texts: [string, string][] = [['stdout', run.stdout], ['stderr', run.stderr]];
    for (const f of [...filesBelow(join(dir, 'state')), ...reports]) texts.push([f, readFileSync(f, 'latin1')]);
    const spaced = SECRET.slice(0, 6).split('').join(' ');
    for (const [where, text] of texts) {
      expect(text, where).not.toContain(SECRET);
      expect(text, where).not.toContain(spaced);
    }
  });
});
