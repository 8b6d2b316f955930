/**
 * The result model's one home: the error-code -> status map, the builder every producer of a
 * HostResult uses, and the merge of a playbook's plays.
 */
import { describe, expect, it } from 'vitest';
import { FleetmendError, UNREACHABLE_CODES } from '../../src/errors.js';
import { failedResult, hostResult, hostStatusOfCode, mergePlay, taskStatusOfCode } from '../../src/results/index.js';

const host = { name: 'web1', address: '10.0.0.1', port: 22, groups: ['web'] };
const T0 = '2026-01-01T00:00:00.000Z';
const clock = { now: () => Date.parse('2026-01-01T00:00:05.000Z'), sleep: async () => undefined };

describe('status of an error code', () => {
  it('unreachable codes are unreachable, E_INTERRUPTED ends a host interrupted (a task failed), the rest failed', () => {
    for (const code of UNREACHABLE_CODES) {
      expect(hostStatusOfCode(code)).toBe('unreachable');
      expect(taskStatusOfCode(code)).toBe('unreachable');
    }
    expect(hostStatusOfCode('E_INTERRUPTED')).toBe('interrupted');
    expect(taskStatusOfCode('E_INTERRUPTED')).toBe('failed');
    for (const code of ['E_MODULE', 'E_BECOME', 'E_CMD_TIMEOUT', 'E_INTERNAL'] as const) expect(hostStatusOfCode(code)).toBe('failed');
  });
});

describe('hostResult', () => {
  it("names the host from its target, keeps the error's code and message only, and the address reached when given", () => {
    const r = hostResult(host, { status: 'failed', started: T0, finished: T0, address: '10.0.0.9', error: new FleetmendError('E_MODULE', 'boom', { host: 'web1' }) });
    expect(r).toEqual({ host: 'web1', address: '10.0.0.9', port: 22, status: 'failed', started_at: T0, finished_at: T0, error: { code: 'E_MODULE', message: 'boom' }, groups: ['web'] });
    expect(Object.keys(r)).toEqual(['host', 'address', 'port', 'status', 'started_at', 'finished_at', 'error', 'groups']);
  });

  it('failedResult: an unknown exception is E_INTERNAL, failed; a connect error unreachable; finished from the clock', () => {
    expect(failedResult(host, new Error('x'), T0, clock)).toMatchObject({ status: 'failed', error: { code: 'E_INTERNAL', message: 'x' }, finished_at: '2026-01-01T00:00:05.000Z' });
    expect(failedResult(host, new FleetmendError('E_CONNECT', 'refused'), T0, clock).status).toBe('unreachable');
  });
});

describe('mergePlay', () => {
  it('appends tasks, keeps the worse status and the later error', () => {
    const task = (name: string) => ({ play: 'p', task: name, module: 'command', status: 'ok' as const, changed: false, duration_ms: 1 });
    const one = hostResult(host, { status: 'changed', started: T0, finished: T0, tasks: [task('a')] });
    const two = hostResult(host, { status: 'ok', started: T0, finished: '2026-01-01T00:01:00.000Z', tasks: [task('b')] });
    const merged = mergePlay(mergePlay(undefined, one), two);
    expect(merged.status).toBe('changed');
    expect(merged.tasks?.map((t) => t.task)).toEqual(['a', 'b']);
    expect(merged.finished_at).toBe('2026-01-01T00:01:00.000Z');
    const three = hostResult(host, { status: 'unreachable', started: T0, finished: T0, error: { code: 'E_CONNECT', message: 'gone' } });
    expect(mergePlay(merged, three)).toMatchObject({ status: 'unreachable', error: { code: 'E_CONNECT' } });
  });
});
