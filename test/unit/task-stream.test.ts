/**
 * Issue 24.2: a playbook run shows its tasks as ansible-playbook does, folded at fleet scale:
 * `TASK [name]`, then `ok:` / `changed:` / `skipping:` / `failed:` per set of hosts with the same
 * result, debug messages, warnings, --diff, and -v / -vv with more per host.
 */
import { describe, expect, it } from 'vitest';
import type { HostResult, TaskResult } from '../../src/results/index.js';
import { taskStreamLines } from '../../src/cli/task-stream.js';
import { IGNORED_WARNING } from '../../src/playbook/recap.js';

const web = (i: number) => `web-${String(i).padStart(2, '0')}`;
const t = (task: string, status: TaskResult['status'], extra: Partial<TaskResult> = {}): TaskResult => ({
  play: 'Fix the backlog', task, module: 'command', status, changed: status === 'changed', duration_ms: 1200, ...extra,
});
const host = (name: string, tasks: TaskResult[]): HostResult => ({
  host: name, address: '10.0.0.1', port: 22, status: 'ok', started_at: '', finished_at: '', tasks,
});

/** 40 hosts: all gather facts, web-07 fails the change, web-03 changes, the rest skip it; debug on all. */
function fleet(): HostResult[] {
  return Array.from({ length: 40 }, (_, k) => {
    const name = web(k + 1);
    const change =
      name === 'web-07'
        ? t('Raise the limit', 'failed', { error: { code: 'E_GUARD', message: 'refusing: records are being lost' } })
        : name === 'web-03'
          ? t('Raise the limit', 'changed', { msg: 'limit 64 -> 8192', rc: 0, stdout: 'done', diff: [{ path: '/etc/audit/rules.d/10.rules', before: '-b 64\n', after: '-b 8192\n' }] })
          : t('Raise the limit', 'skipped');
    return host(name, [t('Gather facts', 'ok', { msg: 'two samples' }), change, t('Say', 'ok', { module: 'debug', msg: 'backlog is 0' })]);
  });
}

describe('the task stream (issue 24.2)', () => {
  it('folds identical results into one line per task, shows failures and debug messages', () => {
    expect(taskStreamLines(fleet())).toEqual([
      '',
      'PLAY [Fix the backlog] ' + '*'.repeat(50),
      '',
      'TASK [Gather facts] ' + '*'.repeat(53),
      'ok: [web-[01-40]] (40 hosts)',
      '',
      'TASK [Raise the limit] ' + '*'.repeat(50),
      'skipping: [web-[01-02,04-06,08-40]] (38 hosts)',
      'changed: [web-03]',
      'failed: [web-07]: E_GUARD: refusing: records are being lost',
      '',
      'TASK [Say] ' + '*'.repeat(62),
      'ok: [web-[01-40]] (40 hosts) => backlog is 0',
    ]);
  });

  it('--diff shows the before/after under the change', () => {
    const lines = taskStreamLines(fleet(), { diff: true });
    const at = lines.indexOf('changed: [web-03]');
    expect(lines.slice(at, at + 5)).toEqual(['changed: [web-03]', '  --- before: /etc/audit/rules.d/10.rules', '  +++ after: /etc/audit/rules.d/10.rules', '  --b 64', '  +-b 8192']);
  });

  it('-v: a line per host and every message; -vv adds rc, stdout and the time taken', () => {
    const v = taskStreamLines(fleet(), { verbose: 1 });
    expect(v).toContain('ok: [web-12] => two samples');
    expect(v).toContain('changed: [web-03] => limit 64 -> 8192');
    expect(v.filter((l) => l.startsWith('ok: [web-')).length).toBe(80);
    expect(v).not.toContain('  rc: 0');
    const vv = taskStreamLines(fleet(), { verbose: 2 });
    const at = vv.indexOf('changed: [web-03] => limit 64 -> 8192');
    expect(vv.slice(at + 1, at + 4)).toEqual(['  rc: 0', '  stdout: done', '  took 1.2s']);
  });

  it('a failure under ignore_errors says so, and host text is escaped', () => {
    const ignored = t('Try', 'failed', { msg: 'no', warnings: [IGNORED_WARNING, 'odd \x1b[2K'] });
    const lines = taskStreamLines([host('a\x1b]0;x\x07', [ignored])]);
    expect(lines.slice(-2)).toEqual(['failed (ignored): [a\\x1b]0;x\\x07]: no', '  [WARNING]: odd \\x1b[2K']);
  });
});
