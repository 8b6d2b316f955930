/**
 * The binary users run is the esbuild bundle `dist/bin/main.js` (package.json "bin"; one file
 * to load instead of ~200 ES modules, which halves start-up CPU). This checks, as a process on
 * the simulated fleet, every part of it that is loaded lazily or kept outside the bundle: the
 * sweep (ssh2), the run store (better-sqlite3), the reports (Handlebars, templates found from
 * dist/bin), `runs`, `report`, and a playbook in check mode.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { CLI_BIN, spawnCli } from '../helpers/cli.js';

let fleet: Fleet;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-bundle-'));
  fleet = await startFleet({ dir: join(dir, 'fleet'), hosts: 4, scenario: 'incident', loginDelayScale: 0 });
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return spawnCli(args, { cwd: dir });
}

describe('the bundled binary (dist/bin/main.js)', () => {
  it('is what package.json "bin" names, and it was built', () => {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { bin: Record<string, string>; version: string };
    expect(pkg.bin.fleetmend).toBe(relative(process.cwd(), CLI_BIN));
    expect(existsSync(CLI_BIN), 'npm run build makes it').toBe(true);
  });

  it('keeps the native and template-compiling dependencies outside the bundle', () => {
    const files = [CLI_BIN, ...readdirSync(join(CLI_BIN, '..', 'chunks')).map((f) => join(CLI_BIN, '..', 'chunks', f))];
    const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const dep of ['ssh2', 'better-sqlite3', 'handlebars']) expect(text, dep).toMatch(new RegExp(`from "${dep}"|require\\("${dep}"\\)|import\\("${dep}"\\)`));
    // zod and yaml are inside: no import of them is left
    expect(text).not.toMatch(/from "zod"|from "yaml"/);
  });

  it('sweeps, stores, reports in every format, lists runs and re-renders a report', async () => {
    const state = join(dir, 'state');
    const out = join(dir, 'reports');
    const sweep = await cli(['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '2', '--interval', '0.2', '--state-dir', state, '-o', out, '--format', 'md,html,json,junit', '-q']);
    expect(sweep.stderr).not.toMatch(/Cannot find|ERR_MODULE|Dynamic require/);
    // the incident scenario keeps its special hosts: a non-compliant one (2) and a down one (4)
    expect(sweep.code, sweep.stderr).toBe(6);
    const [runDir] = readdirSync(out);
    expect(readdirSync(join(out, runDir as string)).sort()).toEqual(['report.html', 'report.json', 'report.junit.xml', 'report.md']);
    expect(readFileSync(join(out, runDir as string, 'report.md'), 'utf8')).toMatch(/records-lost|backlog/);

    const runs = await cli(['runs', '--state-dir', state]);
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toContain('sweep');

    const again = await cli(['report', 'latest', '--state-dir', state, '--format', 'json', '-o', join(dir, 'again')]);
    expect(again.code, again.stderr).toBe(0);
    const [againDir] = readdirSync(join(dir, 'again'));
    const doc = JSON.parse(readFileSync(join(dir, 'again', againDir as string, 'report.json'), 'utf8')) as { hosts: unknown[] };
    expect(doc.hosts).toHaveLength(4);
  }, 120_000);

  it('runs a playbook in check mode (the lazily loaded run chunk)', async () => {
    const r = await cli(['run', join(process.cwd(), 'playbooks', 'audit-status.yml'), '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--check', '--no-store', '-q']);
    expect(r.stderr).not.toMatch(/Cannot find|ERR_MODULE|Dynamic require/);
    expect(r.code, r.stdout + r.stderr).toBe(4); // the scenario's down host is unreachable; the others ran
    expect(r.stdout + r.stderr).toMatch(/ok=[1-9]/);
  }, 120_000);
});
