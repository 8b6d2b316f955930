/**
 * The terminal at fleet scale: the closing summary and the recap fold identical hosts into one
 * line each (hosts needing attention first, one per line), and progress prints a line only for
 * hosts that are not ok: one live line on a TTY, a final count line elsewhere.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { HostResult, RunEvent, RunInfo } from '../../src/results/index.js';
import { summarize } from '../../src/results/index.js';
import { Progress, summaryTable } from '../../src/cli/progress.js';
import { formatRecap, recapOf } from '../../src/playbook/recap.js';
import { buildHost } from '../fixtures/results/build.js';

class Term extends Writable {
  text = '';
  constructor(readonly isTTY: boolean, readonly columns = 100) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

const node = (i: number) => `node-${String(i).padStart(3, '0')}`;
const healthy = (n: number) => Array.from({ length: n }, (_, k) => buildHost('healthy', { index: k + 1, name: node(k + 1) }));
/** What 30 hosts give without --known-hosts: the same error, each naming its own address. */
const unknownKeys = (n: number): HostResult[] =>
  Array.from({ length: n }, (_, k) => ({
    ...buildHost('unreachable', { index: k + 1, name: node(k + 1) }),
    error: { code: 'E_HOSTKEY_UNKNOWN' as const, message: `host key for 127.0.0.1:${2201 + k} is not in /home/op/.ssh/known_hosts; server offered ssh-ed25519 SHA256:x. Verify it and add it, or run with --host-key-checking accept-new` },
  }));
const RUN: RunInfo = { id: 'r1', mode: 'sweep', started_at: '2025-11-25T10:00:00.000Z', forks: 50 };

describe('summaryTable', () => {
  it('folds 200 healthy hosts into one line', () => {
    const hosts = healthy(200);
    expect(summaryTable(hosts, summarize(hosts))).toBe(
      'node-[001-200]  healthy  200 hosts\n\nhosts=200 ok=200 changed=0 failed=0 unreachable=0 non_compliant=0  (-v: one line per host)\n',
    );
  });

  it('lists hosts that need attention first, one per line, then the folded rest', () => {
    const hosts = healthy(200);
    hosts[41] = buildHost('records-lost', { index: 42, name: node(42) });
    hosts[99] = buildHost('unreachable', { index: 100, name: node(100) });
    hosts[150] = buildHost('auditd-not-running', { index: 151, name: node(151) });
    const lines = summaryTable(hosts, summarize(hosts)).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^HOST +STATE +BACKLOG\/LIMIT +LOST +NOTE$/);
    expect(lines.slice(1, 4).map((l) => l.split(/ +/).slice(0, 2))).toEqual([
      ['node-042', 'records-lost'],
      ['node-100', 'unreachable'],
      ['node-151', 'auditd-not-running'],
    ]);
    expect(lines[4]).toBe('');
    expect(lines[5]).toBe('node-[001-041,043-099,101-150,152-200]  healthy  197 hosts');
    // then what needs attention: the error, three findings (with their action), three failed controls; then the totals
    expect(lines[7]).toBe('What needs attention:');
    expect(lines.slice(8, 18).filter((l) => l.startsWith('      → '))).toHaveLength(3);
    expect(lines.slice(8, 18).filter((l) => /^ {2}node-\d+: non-compliant: audit-/.test(l))).toHaveLength(3);
    expect(lines.slice(18)).toEqual(['', expect.stringMatching(/^hosts=200 /)]);
  });

  it('-v prints every host', () => {
    const hosts = healthy(200);
    const lines = summaryTable(hosts, summarize(hosts), { verbose: true }).trimEnd().split('\n');
    expect(lines).toHaveLength(1 + 200 + 2);
    expect(lines[1]).toMatch(/^node-001 +healthy +\d/);
    expect(lines.at(-1)).not.toContain('-v');
  });

  it('keeps hosts with different low findings on separate lines, saying which', () => {
    const hosts = healthy(4);
    const low = { code: 'records-lost', severity: 'low' as const, message: 'lost=3 since boot', evidence: {}, action: 'resample' };
    for (const h of hosts.slice(2)) h.diagnosis = { state: 'healthy', findings: [low] };
    expect(summaryTable(hosts, summarize(hosts)).split('\n').slice(0, 2)).toEqual([
      'node-[001-002]  healthy  2 hosts',
      'node-[003-004]  healthy  2 hosts, records-lost (low)',
    ]);
  });
});

describe('summaryTable: identical errors', () => {
  it('fold into one row (30 unknown host keys), while different errors keep their rows', () => {
    const hosts = [...unknownKeys(30), buildHost('unreachable', { index: 31, name: node(31) })];
    const lines = summaryTable(hosts, summarize(hosts), { advice: false }).trimEnd().split('\n');
    expect(lines.filter((l) => l.includes('E_HOSTKEY_UNKNOWN'))).toEqual([expect.stringMatching(/^node-\[001-030\] +unreachable +- +- +E_HOSTKEY_UNKNOWN \(30 hosts\)$/)]);
    expect(lines.filter((l) => /^node-031 +unreachable .*E_CONNECT_TIMEOUT$/.test(l))).toHaveLength(1);
    expect(lines).toHaveLength(1 + 2 + 2); // header, two rows, blank, totals
    // the advice block says the error once too: one entry for the 30 hosts, the first one's message
    const advice = summaryTable(hosts, summarize(hosts)).split('\n').filter((l) => l.includes('E_HOSTKEY_UNKNOWN'));
    expect(advice.slice(1)).toEqual([expect.stringMatching(/^ {2}node-\[001-030\] \(30 hosts\): unreachable \(E_HOSTKEY_UNKNOWN\): host key for 127\.0\.0\.1:2201 .* \(node-001\)$/)]);
  });
});

describe('formatRecap', () => {
  const results = (): HostResult[] => {
    const hosts = healthy(200).map((h) => ({ ...h, tasks: [task('ok'), task('changed')] }));
    hosts[7] = { ...hosts[7]!, status: 'failed', tasks: [task('ok'), task('failed')] };
    return hosts;
  };
  function task(status: 'ok' | 'changed' | 'failed') {
    return { play: 'p', task: 't', module: 'command', status, changed: status === 'changed', duration_ms: 1 };
  }

  it('folds identical recaps; failed and unreachable hosts first, one line each', () => {
    expect(formatRecap(recapOf(results()), { fold: true }).split('\n')).toEqual([
      'node-008               : ok=1 changed=0 unreachable=0 failed=1 skipped=0 ignored=0',
      'node-[001-007,009-200] : ok=2 changed=1 unreachable=0 failed=0 skipped=0 ignored=0',
    ]);
  });

  it('without fold (-v) prints every host', () => {
    expect(formatRecap(recapOf(results())).split('\n')).toHaveLength(200);
  });
});

describe('Progress', () => {
  function drive(term: Term, hosts: HostResult[], clock: { t: number }, run: RunInfo = RUN): void {
    const p = new Progress(term, false, false, () => clock.t);
    const emit = (e: RunEvent) => p.listener(e);
    emit({ type: 'run-start', run, hosts: hosts.map((h) => h.host) });
    for (const h of hosts) {
      emit({ type: 'host-start', host: h.host, at: RUN.started_at });
      clock.t += 50;
      emit({ type: 'host-done', result: h });
    }
    emit({ type: 'run-end', run: RUN, summary: summarize(hosts) });
  }

  it('off a TTY: a line per host that is not ok, and a final count line', () => {
    const hosts = healthy(200);
    hosts[9] = buildHost('unreachable', { index: 10, name: node(10) });
    hosts[20] = buildHost('records-lost', { index: 21, name: node(21) });
    const term = new Term(false);
    drive(term, hosts, { t: 1000 });
    expect(term.text.split('\n')).toEqual([
      'fleetmend sweep r1: 200 host(s), forks 50',
      expect.stringMatching(/^unreachable +node-010 \(E_\w+\): /),
      'records-lost node-021 (backlog-limit-default; non-compliant: audit-1.2, audit-2.1)',
      'done: 200/200 host(s) in 10s: ok 199, unreachable 1',
      '',
    ]);
    expect(term.text).not.toContain('\x1b');
  });

  it('30 hosts with the same error: one line, then the hosts folded and the fix once, naming the known_hosts `sim` wrote', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-progress-'));
    try {
      const inventory = join(dir, 'inventory.yml');
      writeFileSync(join(dir, 'known_hosts'), '');
      const hosts = unknownKeys(30);
      const term = new Term(false);
      drive(term, hosts, { t: 1000 }, { ...RUN, inventory });
      expect(term.text.split('\n')).toEqual([
        'fleetmend sweep r1: 30 host(s), forks 50',
        expect.stringMatching(/^unreachable +node-001 \(E_HOSTKEY_UNKNOWN\): host key for 127\.0\.0\.1:2201 is not in \/home\/op\/\.ssh\/known_hosts/),
        "E_HOSTKEY_UNKNOWN on 30 hosts: node-[001-030] (the first one's line above)",
        `  fix (E_HOSTKEY_UNKNOWN): add --known-hosts ${join(dir, 'known_hosts')} (the known_hosts beside the inventory, as \`fleetmend sim\` writes it)`,
        'done: 30/30 host(s) in 1.5s: unreachable 30',
        '',
      ]);
      // no known_hosts beside the inventory: the generic fix, still once
      const elsewhere = new Term(false);
      drive(elsewhere, hosts, { t: 1000 }, { ...RUN, inventory: join(dir, 'sub', 'hosts.ini') });
      expect(elsewhere.text.match(/fix \(E_HOSTKEY_UNKNOWN\): add the hosts' keys to the known_hosts file the error names, or give yours with --known-hosts FILE/g)).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a playbook run prints a line per changed host, none per ok host', () => {
    const hosts = healthy(6);
    for (const h of hosts.slice(0, 2)) h.status = 'changed';
    const term = new Term(false);
    drive(term, hosts, { t: 0 });
    expect(term.text.split('\n').filter((l) => /^\w+ +node-/.test(l))).toEqual([
      expect.stringMatching(/^changed +node-001 healthy$/),
      expect.stringMatching(/^changed +node-002 healthy$/),
    ]);
  });

  it('on a TTY: one live line with counts, hosts in flight and the elapsed time', () => {
    const clock = { t: 0 };
    const term = new Term(true);
    const p = new Progress(term, false, false, () => clock.t);
    p.listener({ type: 'run-start', run: RUN, hosts: ['a1', 'a2', 'a3'] });
    for (const h of ['a1', 'a2', 'a3']) p.listener({ type: 'host-start', host: h, at: RUN.started_at });
    clock.t = 7000;
    p.listener({ type: 'host-done', result: { ...buildHost('healthy', { name: 'a2' }) } });
    const live = term.text.split('\r\x1b[2K').at(-1);
    expect(live).toBe('[1/3] ok 1 | 2 in flight (longest a1 7.0s) | 7.0s');
    p.listener({ type: 'host-done', result: buildHost('unreachable', { name: 'a3' }) });
    p.listener({ type: 'host-done', result: buildHost('healthy', { name: 'a1' }) });
    p.listener({ type: 'run-end', run: RUN, summary: summarize([]) });
    // the header, one line for the unreachable host, the final count: nothing per healthy host
    const lines = term.text.split('\n').map((l) => l.split('\r\x1b[2K').at(-1));
    expect(lines).toEqual([
      'fleetmend sweep r1: 3 host(s), forks 50',
      expect.stringMatching(/^unreachable +a3 /),
      'done: 3/3 host(s) in 7.0s: ok 2, unreachable 1',
      '',
    ]);
  });

  it('counts a host once when several plays finish it, and shows a failed host once (per play, not again when final)', () => {
    const term = new Term(false);
    const p = new Progress(term, false, false, () => 0);
    p.listener({ type: 'run-start', run: { ...RUN, mode: 'run' }, hosts: ['a1', 'a2', 'a3'] });
    const final = new Map<string, HostResult>();
    for (const [play, status] of [['one', 'ok'], ['two', 'changed']] as const) {
      for (const h of ['a1', 'a2']) {
        p.listener({ type: 'host-start', host: h, at: RUN.started_at });
        const result = { ...buildHost('healthy', { name: h }), status };
        final.set(h, result);
        p.listener({ type: 'play-host-done', play, result });
      }
    }
    // a3 fails in play one and takes no part in play two
    const failed = buildHost('unreachable', { name: 'a3' });
    p.listener({ type: 'play-host-done', play: 'one', result: failed });
    final.set('a3', failed);
    for (const result of final.values()) p.listener({ type: 'host-done', result });
    p.listener({ type: 'run-end', run: RUN, summary: summarize([]) });
    const lines = term.text.trimEnd().split('\n');
    expect(lines.filter((l) => /a3/.test(l))).toHaveLength(1);
    expect(lines.at(-1)).toBe('done: 3/3 host(s) in 0.0s: changed 2, unreachable 1');
  });

  it('a host first seen in its final host-done (not started: interrupted) is shown then', () => {
    const term = new Term(false);
    const p = new Progress(term, false, false, () => 0);
    p.listener({ type: 'run-start', run: { ...RUN, mode: 'run' }, hosts: ['a1'] });
    p.listener({ type: 'host-done', result: buildHost('unreachable', { name: 'a1' }) });
    expect(term.text.split('\n').filter((l) => /a1/.test(l))).toHaveLength(1);
  });

  it('keeps the live line within the terminal width', () => {
    const term = new Term(true, 30);
    const p = new Progress(term, false, false, () => 0);
    p.listener({ type: 'run-start', run: RUN, hosts: ['a-very-long-host-name-indeed'] });
    p.listener({ type: 'host-start', host: 'a-very-long-host-name-indeed', at: RUN.started_at });
    const live = term.text.split('\r\x1b[2K').at(-1)!;
    expect(live.length).toBeLessThanOrEqual(29);
    p.listener({ type: 'run-end', run: RUN, summary: summarize([]) });
  });
});
