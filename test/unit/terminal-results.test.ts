/**
 * Issue 21.6: every field the terminal prints from a result is escaped like a host name. In
 * distributed mode a result comes through Redis, so its status, state, error code, finding
 * codes, numbers, messages and worker name are whatever an attacker wrote there: an escape
 * sequence must be shown, never obeyed, and a newline must not forge a line of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { HostResult, RunEvent, RunInfo } from '../../src/results/index.js';
import { summarize } from '../../src/results/index.js';
import { Progress, summaryTable } from '../../src/cli/progress.js';
import { recapLines, recapOf } from '../../src/playbook/recap.js';
import { openStore } from '../../src/store/index.js';
import { terminalLines, terminalTable } from '../../src/util/terminal.js';
import { buildFleet, buildHost } from '../fixtures/results/build.js';
import { runCli } from '../helpers/cli.js';

class Term extends Writable {
  text = '';
  constructor(readonly isTTY: boolean) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

const RUN: RunInfo = { id: 'r1', mode: 'sweep', started_at: '2025-11-25T10:00:00.000Z', forks: 5 };
/** A retitle (OSC 0), an erase line, a cursor up, a C1 CSI, a bidi override, and a forged line. */
const EVIL = '\x1b]0;owned\x07\x1b[2K\x1b[1A\u009b31m\u202e\nFORGED ok healthy';

/** A result as a forged `completed` event would carry it: every printable field hostile. */
function hostile(name: string): HostResult {
  const base = buildHost('records-lost', { index: 1, name });
  const json = JSON.parse(JSON.stringify(base)) as Record<string, any>;
  json.status = `failed${EVIL}`;
  json.error = { code: `E_X${EVIL}`, message: `boom${EVIL}` };
  json.diagnosis.state = `healthy${EVIL}`;
  json.diagnosis.findings[0].code = `lost${EVIL}`;
  json.diagnosis.findings[0].severity = 'high';
  json.audit.backlog = `1${EVIL}`;
  json.audit.backlog_limit = `8192${EVIL}`;
  json.audit.lost = `7${EVIL}`;
  json.worker = `w1${EVIL}`;
  json.tasks = [{ play: 'p', task: `t${EVIL}`, module: 'shell', status: `failed${EVIL}`, changed: false, msg: `m${EVIL}`, duration_ms: 1, warnings: [`w${EVIL}`] }];
  return json as HostResult;
}

/** No control character is sent (the progress line's own erase sequence aside) and no line is forged. */
function expectSafe(text: string): void {
  const ours = text.split('\r\x1b[2K').join('');
  expect(ours).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  for (const line of ours.split('\n')) expect(line).not.toMatch(/^FORGED/);
  expect(ours).toContain('\\x1b]0;owned\\x07');
  expect(ours).toContain('\\nFORGED');
}

describe('terminal output of a hostile result (issue 21.6)', () => {
  const hosts = [hostile('node-001'), buildHost('healthy', { index: 2, name: 'node-002' })];

  it('the summary table, one row per host and folded', () => {
    for (const verbose of [true, false]) expectSafe(summaryTable(hosts, summarize(hosts), { verbose }));
    const folded = { ...hostile('node-003'), status: 'ok', error: undefined, diagnosis: { ...hostile('x').diagnosis!, findings: [] } } as unknown as HostResult;
    const text = summaryTable([folded], summarize([folded]));
    expect(text).toContain('healthy\\x1b]0;owned');
    expect(text.split('\n').some((l) => l.startsWith('FORGED'))).toBe(false);
  });

  it('the progress lines, on a TTY and off one: host lines, task lines and the live count line', () => {
    for (const tty of [true, false]) {
      const term = new Term(tty);
      const p = new Progress(term, false, true, () => 0);
      const emit = (e: RunEvent) => p.listener(e);
      emit({ type: 'run-start', run: RUN, hosts: hosts.map((h) => h.host) });
      emit({ type: 'host-start', host: 'node-001', at: RUN.started_at });
      emit({ type: 'task', host: 'node-001', result: hosts[0]!.tasks![0]! });
      for (const h of hosts) emit({ type: 'host-done', result: h });
      emit({ type: 'run-end', run: RUN, summary: summarize(hosts) });
      expectSafe(term.text);
    }
  });

  it('the recap', () => {
    expectSafe(terminalLines(recapLines(recapOf([{ ...hostile('node-001'), host: `node-001${EVIL}` }]))));
  });

  it('a table of store rows (fleetmend runs, history) keeps one row per row', () => {
    const lines = terminalTable([['RUN', 'STATUS'], ['r1', `ok${EVIL}`], ['r2', 'ok']]);
    expect(lines).toHaveLength(3);
    expectSafe(terminalLines(lines));
  });
});

describe('end to end: a hostile result recorded in the store, printed by the CLI', () => {
  it('fleetmend history shows its state escaped, one row per run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-hostile-'));
    try {
      const store = openStore(dir);
      const { run } = buildFleet(0, { id: 'r-hostile' });
      const h = hostile('node-001');
      store.startRun(run, [h.host]);
      store.recordHost(run.id, h);
      store.finishRun(run.id, summarize([h]));
      store.close();
      const r = await runCli(['history', 'node-001', '--state-dir', dir]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trimEnd().split('\n')).toHaveLength(2);
      expectSafe(r.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
