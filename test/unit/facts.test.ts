import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  chooseKernelLog,
  parseAuditctlError,
  parseAuditctlStatus,
  parseKernelLog,
  type AuditStatus,
  type AuditctlOutcome,
} from '../../src/facts/index.js';

const FIX = join(import.meta.dirname, '../fixtures/real-kernel-6.1-audit-3.0.9');
const fixture = (name: string): string => readFileSync(join(FIX, name), 'utf8');
const transcript = (prefix: string): string => {
  const f = readdirSync(join(FIX, 'transcripts')).find((n) => n.startsWith(prefix));
  if (!f) throw new Error(`no transcript ${prefix}`);
  return fixture(join('transcripts', f));
};

function okStatus(o: AuditctlOutcome): AuditStatus {
  if (o.kind !== 'ok') throw new Error(`expected ok, got ${o.kind}: ${o.detail}`);
  return o.status;
}

/** Every `auditctl -s`-shaped block (from `enabled ` to the last status line) of a transcript. */
function statusBlocks(text: string): string[] {
  const blocks: string[] = [];
  let cur: string[] | null = null;
  for (const line of text.split('\n')) {
    if (/^enabled \d/.test(line)) cur = [line];
    else if (cur && /^[a-z_]+ \d+( (un)?locked)?$/.test(line)) cur.push(line);
    else if (cur) {
      blocks.push(cur.join('\n'));
      cur = null;
    }
  }
  if (cur) blocks.push(cur.join('\n'));
  return blocks;
}

describe('parseAuditctlStatus: verbatim 3.0.9 output', () => {
  it('reads the healthy multi-line status with all 3.x fields', () => {
    const s = okStatus(parseAuditctlStatus(fixture('auditctl-s.healthy.txt'), 0));
    expect(s).toEqual({
      enabled: 1,
      failure: 1,
      pid: 226,
      rate_limit: 0,
      backlog_limit: 8192,
      lost: 0,
      backlog: 0,
      backlog_wait_time: 60000,
      backlog_wait_time_actual: 0,
      loginuid_immutable: { value: 0, locked: false },
      format: 'multiline',
      unknown_lines: [],
    });
  });

  it('reads the -i interpreted form to the same numbers', () => {
    const i = okStatus(parseAuditctlStatus(fixture('auditctl-s-i.healthy.txt'), 0));
    const n = okStatus(parseAuditctlStatus(fixture('auditctl-s.healthy.txt'), 0));
    expect(i.format).toBe('interpreted');
    expect({ ...i, format: 'multiline' }).toEqual(n);
  });

  it('maps interpreted words: disabled/locked, silent/panic', () => {
    const base = 'pid 0\nrate_limit 0\nbacklog_limit 64\nlost 0\nbacklog 0\n';
    expect(okStatus(parseAuditctlStatus(`enabled disabled\nfailure silent\n${base}`, 0))).toMatchObject({ enabled: 0, failure: 0 });
    expect(okStatus(parseAuditctlStatus(`enabled locked\nfailure panic\n${base}`, 0))).toMatchObject({ enabled: 2, failure: 2 });
  });

  it('reads the stuck host: registered pid, backlog at limit+1, lost counter', () => {
    const s = okStatus(parseAuditctlStatus(fixture('auditctl-s.stuck-auditd.txt'), 0));
    expect(s).toMatchObject({ pid: 226, backlog_limit: 64, backlog: 65, lost: 10330, backlog_wait_time: 0 });
  });

  it('reads the status printed by `auditctl -e 2` (no loginuid line) out of the locked fixture', () => {
    const text = fixture('auditctl-locked-errors.txt');
    const block = statusBlocks(text)[0] ?? '';
    const s = okStatus(parseAuditctlStatus(block, 0));
    expect(s).toMatchObject({ enabled: 2, pid: 1241, lost: 10743 });
    expect(s.loginuid_immutable).toBeUndefined();
  });

  it('parses every status block of every transcript', () => {
    let n = 0;
    for (const f of readdirSync(join(FIX, 'transcripts'))) {
      for (const block of statusBlocks(fixture(join('transcripts', f)))) {
        if (block.split('\n').length < 7) continue; // grep'ed fragments, not a status
        const s = okStatus(parseAuditctlStatus(block, 0));
        expect(s.unknown_lines, `${f}: ${block}`).toEqual([]);
        n++;
      }
    }
    expect(n).toBeGreaterThan(30);
  });

  it('keeps a status with an -l line mixed in (transcript 21) and keeps that line as unknown', () => {
    const out = '-w /tmp/noise -p rwxa -k noise\n' + fixture('auditctl-s.healthy.txt');
    const s = okStatus(parseAuditctlStatus(out, 0));
    expect(s.unknown_lines).toEqual(['-w /tmp/noise -p rwxa -k noise']);
    expect(s.backlog_limit).toBe(8192);
  });
});

describe('parseAuditctlStatus: other formats and failures (synthetic)', () => {
  it('reads the old one-line AUDIT_STATUS form, flag = failure', () => {
    const s = okStatus(
      parseAuditctlStatus('AUDIT_STATUS: enabled=1 flag=2 pid=1234 rate_limit=0 backlog_limit=320 lost=7 backlog=3\n', 0),
    );
    expect(s).toMatchObject({ format: 'oneline', enabled: 1, failure: 2, pid: 1234, backlog_limit: 320, lost: 7, backlog: 3 });
    expect(s.backlog_wait_time).toBeUndefined();
  });

  it('reads one-line with newer fields and keeps unknown pairs', () => {
    const s = okStatus(
      parseAuditctlStatus(
        'AUDIT_STATUS: enabled=1 flag=1 pid=9 rate_limit=0 backlog_limit=8192 lost=0 backlog=0 backlog_wait_time=60000 future=5',
        0,
      ),
    );
    expect(s.backlog_wait_time).toBe(60000);
    expect(s.unknown_lines).toEqual(['future=5']);
  });

  it('reads the 2.x multi-line form without wait fields', () => {
    const s = okStatus(parseAuditctlStatus('enabled 1\nfailure 1\npid 1021\nrate_limit 0\nbacklog_limit 320\nlost 0\nbacklog 0\n', 0));
    expect(s.format).toBe('multiline');
    expect(s.backlog_wait_time).toBeUndefined();
    expect(s.backlog_wait_time_actual).toBeUndefined();
    expect(s.loginuid_immutable).toBeUndefined();
  });

  it('keeps unknown extra lines instead of rejecting', () => {
    const s = okStatus(parseAuditctlStatus(fixture('auditctl-s.healthy.txt') + 'feature_bitmap 0x7f\nvery new thing\n', 0));
    expect(s.unknown_lines).toEqual(['feature_bitmap 0x7f', 'very new thing']);
  });

  it('reads loginuid_immutable 1 locked', () => {
    const s = okStatus(parseAuditctlStatus(fixture('auditctl-s.healthy.txt').replace('0 unlocked', '1 locked'), 0));
    expect(s.loginuid_immutable).toEqual({ value: 1, locked: true });
  });

  it.each([
    ['bash: auditctl: command not found', 127, 'missing'],
    ['sh: 1: auditctl: not found', 127, 'missing'],
    ['sudo: auditctl: command not found', 1, 'missing'],
    ['Cannot open netlink audit socket: Protocol not supported', 127, 'unsupported'],
    ['', 127, 'missing'],
    ['You must be root to run this program.', 4, 'not-permitted'],
    ['Error sending status request (Operation not permitted)', 255, 'not-permitted'],
    ['Error - audit support not in kernel\nCannot open netlink audit socket', 1, 'unsupported'],
    ['Error opening audit netlink socket (Protocol not supported)', 255, 'unsupported'],
    ['Segmentation fault', 139, 'unparseable'],
    ['enabled 1\nfailure 1\n', 0, 'unparseable'],
    ['', 0, 'unparseable'],
    ['<html>502 Bad Gateway</html>', 0, 'unparseable'],
  ])('classifies %j (rc %s) as %s', (text, rc, kind) => {
    expect(parseAuditctlStatus(text, rc).kind).toBe(kind);
  });

  it('rejects a value that is not a number (kept as unknown, not a 0)', () => {
    const o = parseAuditctlStatus(fixture('auditctl-s.healthy.txt').replace('lost 0', 'lost -5'), 0);
    expect(o.kind).toBe('unparseable');
  });
});

describe('parseAuditctlError', () => {
  it('recognises each locked refusal of the fixture, with its request', () => {
    const lines = fixture('auditctl-locked-errors.txt').split('\n').filter((l) => l.startsWith('Error'));
    expect(lines.map((l) => parseAuditctlError(l, 255))).toEqual([
      { kind: 'locked', request: 'backlog limit', detail: lines[0] },
      { kind: 'locked', request: 'failure mode', detail: lines[1] },
      { kind: 'locked', request: 'enable', detail: lines[2] },
    ]);
  });

  it('recognises the immutable-mode rule message even with exit 0', () => {
    expect(parseAuditctlError('The audit system is in immutable mode, no rule changes allowed\n', 0).kind).toBe(
      'immutable-rules',
    );
  });

  it('recognises the unsupported signal of 3.0.9, missing, and success', () => {
    expect(parseAuditctlError('stop is an unsupported signal\n', 0)).toMatchObject({ kind: 'unsupported-signal', signal: 'stop' });
    expect(parseAuditctlError('bash: auditctl: command not found', 127).kind).toBe('missing');
    expect(parseAuditctlError('', 0).kind).toBe('none');
    expect(parseAuditctlError('weird', 1).kind).toBe('other');
  });
});

describe('parseKernelLog on verbatim kernel output', () => {
  it('dmesg fixture: three exceeded lines, last values, the type=1300 record ignored', () => {
    const log = parseKernelLog(fixture('dmesg.backlog-exceeded.txt'), 'dmesg');
    expect(log).toMatchObject({
      source: 'dmesg',
      backlog_exceeded_count: 3,
      backlog_exceeded_last: '55.432820',
      last_backlog: { backlog: 65, limit: 64 },
      last_lost: { lost: 7881, rate_limit: 0, backlog_limit: 64 },
      retry_queue_overflow_count: 0,
    });
    expect(log.recent_lines.some((l) => l.includes('type=1300'))).toBe(false);
    expect(log.recent_lines).toHaveLength(7);
  });

  it('journalctl -k fixture: syslog date as timestamp', () => {
    const log = parseKernelLog(fixture('journalctl-k.backlog-exceeded.txt'), 'journalctl');
    expect(log).toMatchObject({
      backlog_exceeded_count: 1,
      backlog_exceeded_last: 'Nov 24 16:05:00',
      last_lost: { lost: 7881, rate_limit: 0, backlog_limit: 64 },
    });
  });

  it('journalctl short-monotonic and short-iso forms (transcript 06)', () => {
    const t = transcript('06');
    const [mono, iso] = t.split('# journalctl -k --no-pager -o short-iso');
    expect(parseKernelLog(mono ?? '', 'journalctl')).toMatchObject({
      backlog_exceeded_count: 2,
      backlog_exceeded_last: '518.543702',
      last_backlog: { backlog: 65, limit: 64 },
      last_lost: { lost: 384 },
    });
    expect(parseKernelLog(iso ?? '', 'journalctl')).toMatchObject({
      backlog_exceeded_count: 1,
      backlog_exceeded_last: '2026-11-24T16:37:19+0000',
      last_lost: { lost: 384 },
    });
  });

  it('console panic: the panic line once, not the "end Kernel panic" trailer', () => {
    const log = parseKernelLog(fixture('console.panic-on-f2.txt'), 'dmesg');
    expect(log.panic_lines).toEqual(['Kernel panic - not syncing: audit: backlog limit exceeded']);
    expect(log.backlog_exceeded_count).toBe(2);
    const serial = parseKernelLog(transcript('20'), 'dmesg');
    expect(serial.panic_lines).toHaveLength(1);
    const wait = parseKernelLog(transcript('22'), 'dmesg');
    expect(wait.panic_lines).toEqual(['Kernel panic - not syncing: audit: kauditd retry queue overflow']);
  });

  it('transcript 03 (big real dmesg, default wait): retry overflow and printk_skb, no exceeded line', () => {
    const log = parseKernelLog(transcript('03'), 'dmesg');
    expect(log).toMatchObject({
      backlog_exceeded_count: 0,
      retry_queue_overflow_count: 1,
      hold_queue_overflow_count: 0,
      printk_skb_suppressed: 3851,
      last_lost: { lost: 1, rate_limit: 0, backlog_limit: 64 },
    });
    expect(log.last_backlog).toBeUndefined();
    expect(log.panic_lines).toEqual([]);
  });

  it('transcript 27 (system-wide rule, ~1000 lines): 11 retry overflows, last lost 285', () => {
    const log = parseKernelLog(transcript('27'), 'dmesg');
    expect(log).toMatchObject({
      backlog_exceeded_count: 0,
      retry_queue_overflow_count: 11,
      printk_skb_suppressed: 17097,
      last_lost: { lost: 285 },
    });
    expect(log.recent_lines.length).toBeLessThanOrEqual(20);
  });

  it('transcript 28: hold queue overflow, then the classic three lines with audit_log_start suppression', () => {
    const log = parseKernelLog(transcript('28'), 'dmesg');
    expect(log).toMatchObject({
      retry_queue_overflow_count: 2,
      hold_queue_overflow_count: 42,
      backlog_exceeded_count: 3,
      log_start_suppressed: 91,
      last_lost: { lost: 4720 },
      last_backlog: { backlog: 65, limit: 64 },
    });
  });

  it('transcript 12: augenrules syslog lines (not kernel) are not audit backlog messages', () => {
    const log = parseKernelLog(transcript('12'), 'messages');
    expect(log.backlog_exceeded_count).toBe(3);
    expect(log.log_start_suppressed).toBe(1826);
    expect(log.last_lost?.lost).toBe(2373);
    expect(log.recent_lines.some((l) => l.includes('augenrules'))).toBe(false);
  });

  it('/var/log/messages with the kernel timestamp kept inside the message', () => {
    const text =
      'Nov  4 09:01:02 db7 kernel: [  55.386957] audit: backlog limit exceeded\n' +
      'Nov  4 09:01:02 db7 kernel: audit: audit_lost=12 audit_rate_limit=0 audit_backlog_limit=320\n' +
      'Nov  4 09:01:03 db7 auditd[811]: Audit daemon rotating log files\n';
    expect(parseKernelLog(text, 'messages')).toMatchObject({
      backlog_exceeded_count: 1,
      backlog_exceeded_last: 'Nov  4 09:01:02',
      last_lost: { lost: 12, backlog_limit: 320 },
    });
  });

  it('an audit record mentioning the words is not a backlog message', () => {
    const text = '[  1.0] audit: type=1300 audit(1.2:3): comm="backlog limit exceeded" exe="/x"\n';
    expect(parseKernelLog(text, 'dmesg').backlog_exceeded_count).toBe(0);
  });

  it('chooses the first non-empty source: journal > dmesg > messages', () => {
    const dm = fixture('dmesg.backlog-exceeded.txt');
    const jr = fixture('journalctl-k.backlog-exceeded.txt');
    expect(chooseKernelLog({ journalctl: jr, dmesg: dm, messages: dm }).source).toBe('journalctl');
    expect(chooseKernelLog({ journalctl: '  \n', dmesg: dm, messages: jr }).source).toBe('dmesg');
    expect(chooseKernelLog({ journalctl: '', dmesg: '', messages: jr }).source).toBe('messages');
    expect(chooseKernelLog({}).source).toBe('none');
  });
});
