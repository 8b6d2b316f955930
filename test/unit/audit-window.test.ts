import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countByType, parseAuditLog, programs, UNSET_SES, windowRecords } from '../kernel/audit-window.js';

/**
 * The audit-log counting of the kernel test (issue 25 §6), on verbatim windows of auditd's log
 * from the test:kernel VM (test/fixtures/kernel-vm/sweep-records-*.txt): the markers' serials
 * bound the window, the counter's session is left out event by event.
 */
const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'kernel-vm', name), 'utf8');

/** The window's bounds as the counter finds them: its first and last `auditctl -m` markers. */
function bounds(log: string): { begin: number; end: number; ses: number } {
  const markers = parseAuditLog(log).filter((r) => r.type === 'USER');
  const first = markers[0]!;
  return { begin: first.serial, end: markers.at(-1)!.serial, ses: first.ses! };
}

function count(name: string) {
  const log = fixture(name);
  const b = bounds(log);
  return windowRecords(parseAuditLog(log), b.begin, b.end, b.ses);
}

describe('counting a window of auditd log', () => {
  it('reads type, serial, ses (not old-ses) and the program of an execve', () => {
    const recs = parseAuditLog(fixture('sweep-records-cold.txt'));
    const login = recs.find((r) => r.type === 'LOGIN')!;
    expect(login.ses).not.toBe(UNSET_SES); // old-ses=4294967295 comes first on the line
    expect(recs.find((r) => r.type === 'EXECVE')!.ses).toBeUndefined();
    expect(recs.filter((r) => r.exe).every((r) => r.type === 'SYSCALL')).toBe(true);
    expect(parseAuditLog('not a record\n\ntype=x')).toEqual([]);
  });

  it('a cold sweep: a login, its logout and 13 program starts; the counter session left out', () => {
    const recs = count('sweep-records-cold.txt');
    expect(countByType(recs)).toMatchObject({ USER_ACCT: 1, CRED_ACQ: 1, LOGIN: 1, USER_START: 1, USER_END: 1, CRED_DISP: 1, CRED_REFR: 2 });
    expect(recs).toHaveLength(95);
    expect(programs(recs)).toHaveLength(13);
    expect(programs(recs)).not.toContain('/usr/bin/sed'); // the counter's reads
  });

  it('a warm sweep: the probe only (bash and auditctl per sample), no login record', () => {
    const recs = count('sweep-records-warm.txt');
    expect(recs).toHaveLength(32);
    expect(programs(recs)).toEqual(['/usr/bin/bash', '/usr/sbin/auditctl', '/usr/bin/bash', '/usr/sbin/auditctl']);
    for (const t of ['USER_ACCT', 'CRED_ACQ', 'LOGIN', 'USER_START', 'USER_END', 'CRED_DISP']) expect(countByType(recs)[t], t).toBeUndefined();
  });

  it('without the counter left out, its own markers and reads would be counted', () => {
    const log = fixture('sweep-records-warm.txt');
    const b = bounds(log);
    expect(windowRecords(parseAuditLog(log), b.begin, b.end, -1).length).toBeGreaterThan(32);
  });
});
