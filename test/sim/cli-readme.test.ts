/**
 * The README's CLI section is rendered (test/unit/readme-cli.test.ts) from two `--json`
 * documents in test/fixtures/cli/. This test keeps those documents true: it runs the same sweep
 * and the same check run on a fresh `incident` fleet and compares what the output shows. A real
 * run differs from the recording in numbers (ports, pids, counters, timings) and in what depends
 * on the instant app-03's backlog is read (it rises and falls while auditd is stopped: the
 * `backlog-below-half` control, and whether the backlog is also a `fleet-outlier`), so those are
 * left out of the comparison; every host's status, state, finding codes and severities, actions,
 * failed controls with their titles and conditions, tasks, diffs and recap must match.
 * After a deliberate change: UPDATE_README_CLI=1 rewrites the fixtures from the real run, then
 * UPDATE_README_CLI=1 on test/unit/readme-cli.test.ts rewrites the README blocks.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { runCli } from '../helpers/cli.js';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'cli');
/** Depends on the instant the stuck host's backlog is read (see above). */
const VOLATILE_CONTROLS = new Set(['backlog-below-half']);

type Doc = Record<string, unknown> & { run: Record<string, unknown>; hosts: Record<string, unknown>[] };
interface Finding { code: string; severity: string; action?: string }
interface Control { id: string; title: string; message: string }
interface Task { task: string; module: string; status: string; changed: boolean; diff?: unknown }

const digitless = (s: unknown): string => JSON.stringify(s ?? null).replace(/\d+(\.\d+)?/g, 'N');
/** A failed control's condition, without the values it was evaluated with (the trailing parenthesis). */
const condition = (m: string): string => digitless(m.replace(/ \([^()]*(\([^()]*\)[^()]*)*\)$/, ''));

/** What the README's blocks show of a document, without what varies between two real runs. */
function shown(doc: Doc): unknown {
  const hosts = doc.hosts.map((h) => {
    const d = h['diagnosis'] as { state: string; findings: Finding[] } | undefined;
    const c = h['compliance'] as { compliant: boolean; failed_controls: Control[] } | undefined;
    const tasks = h['tasks'] as Task[] | undefined;
    return {
      host: h['host'],
      status: h['status'],
      error: (h['error'] as { code: string } | null)?.code ?? null,
      state: d?.state ?? null,
      findings: [...new Set((d?.findings ?? []).map((f) => `${f.code} ${f.severity} ${digitless(f.action)}`))].sort(),
      controls: (c?.failed_controls ?? []).filter((x) => !VOLATILE_CONTROLS.has(x.id)).map((x) => `${x.id}: ${x.title}: ${condition(x.message)}`).sort(),
      tasks: (tasks ?? []).map((t) => `${t.task} ${t.module} ${t.status} ${t.changed} ${digitless(t.diff)}`),
    };
  });
  return { summary: doc['summary'], hosts, recap: doc['recap'] ?? null, stopped: doc['stopped'] ?? null };
}

/** The document as recorded: no facts (size), no temporary paths. */
function recordable(doc: Doc): Doc {
  const { inventory: _i, playbook: _p, ...run } = doc.run;
  return { ...doc, run, hosts: doc.hosts.map(({ facts: _f, ...h }) => h) };
}

let fleet: Fleet;
let dir: string;
const real: Record<string, Doc> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-cli-readme-'));
  fleet = await startFleet({ scenario: 'incident', dir: join(dir, 'fleet') });
  const conn = ['-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--no-store', '--json', '-q'];
  const sweep = await runCli(['sweep', ...conn, '--interval', '2']);
  const check = await runCli(['run', join(process.cwd(), 'playbooks', 'restart-auditd.yml'), ...conn, '--check', '--diff']);
  real['incident-sweep.json'] = recordable(JSON.parse(sweep.stdout) as Doc);
  real['incident-check.json'] = recordable(JSON.parse(check.stdout) as Doc);
}, 120_000);
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the README's CLI fixtures are what a real run on the incident fleet prints today", () => {
  for (const name of ['incident-sweep.json', 'incident-check.json']) {
    it(name, () => {
      const file = join(FIXTURES, name);
      if (process.env['UPDATE_README_CLI'] === '1') writeFileSync(file, `${JSON.stringify(real[name], null, 2)}\n`);
      const recorded = JSON.parse(readFileSync(file, 'utf8')) as Doc;
      expect(shown(recorded)).toEqual(shown(real[name]!));
    });
  }
});
