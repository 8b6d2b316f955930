/**
 * Issue 24.1: a real sweep explains itself. STATE is the diagnosis (not "ok", which meant
 * "read"), NOTE says what STATE does not and names the failing controls, the reasons and the
 * safe action follow the table once per identical finding across hosts, and colour is for a
 * terminal only.
 */
import { describe, expect, it } from 'vitest';
import { summarize } from '../../src/results/index.js';
import { summaryTable } from '../../src/cli/progress.js';
import { adviceLines } from '../../src/cli/advice.js';
import { painterFor } from '../../src/util/terminal.js';
import { buildHost } from '../fixtures/results/build.js';

const node = (i: number) => `node-${String(i).padStart(3, '0')}`;
const fleet = () => [
  ...Array.from({ length: 10 }, (_, k) => buildHost('healthy', { index: k + 1, name: node(k + 1) })),
  buildHost('records-lost', { index: 11, name: node(11) }),
  buildHost('records-lost', { index: 12, name: node(12) }),
  buildHost('unreachable', { index: 13, name: node(13) }),
];

describe('the sweep summary (issue 24.1)', () => {
  it('STATE is the diagnosis, or why the host could not be read; no "ok" beside records-lost', () => {
    const hosts = fleet();
    const lines = summaryTable(hosts, summarize(hosts)).split('\n');
    expect(lines[0]).toMatch(/^HOST +STATE +BACKLOG\/LIMIT +LOST +NOTE$/);
    expect(lines.find((l) => l.startsWith('node-011'))).toMatch(/^node-011 +records-lost +65\/64 +\d+ +/);
    expect(lines.find((l) => l.startsWith('node-013'))).toMatch(/^node-013 +unreachable +- +- +E_CONNECT_TIMEOUT$/);
    expect(lines.find((l) => l.startsWith('node-011'))).not.toMatch(/ ok /);
    expect(lines).toContain('node-[001-010]  healthy  10 hosts');
  });

  it('NOTE does not repeat STATE and names the failing controls', () => {
    const hosts = fleet();
    hosts[10]!.compliance = {
      compliant: false,
      controls: [],
      failed_controls: [
        { id: 'lost-not-increasing', title: 'No audit records are being lost', impact: 1, passed: false, message: 'lost grew by 1' },
        { id: 'backlog-limit', title: 'Backlog limit at least 8192', impact: 0.7, passed: false },
      ],
    };
    const row = summaryTable(hosts, summarize(hosts)).split('\n').find((l) => l.startsWith('node-011'))!;
    const note = row.replace(/^node-011 +records-lost +\S+ +\S+ +/, '');
    expect(note).toBe('backlog-limit-default; non-compliant: lost-not-increasing, backlog-limit');
  });

  it('says what needs attention and the safe action once per identical finding, after the table; -q leaves it out', () => {
    const hosts = fleet();
    const text = summaryTable(hosts, summarize(hosts));
    const block = text.slice(text.indexOf('What needs attention:'));
    expect(text.indexOf('What needs attention:')).toBeGreaterThan(text.indexOf('node-[001-010]'));
    expect(block.split('\n').slice(0, 6)).toEqual([
      'What needs attention:',
      '  node-013: unreachable (E_CONNECT_TIMEOUT): connect to 10.0.0.14:22 timed out after 10000 ms',
      expect.stringMatching(/^ {2}node-\[011-012\] \(2 hosts\): \[critical\] records-lost: audit records are being dropped: lost \+\d+ in 5 s \(node-011\)$/),
      '      → find why auditd does not drain before raising -b; never set -f 2 while lost grows',
      '  node-[011-012] (2 hosts): [medium] backlog-limit-default: backlog limit is the kernel default 64 (no -b rule loaded)',
      '      → persist -b 8192 in /etc/audit/rules.d and run augenrules --load',
    ]);
    expect(text.trimEnd().split('\n').at(-1)).toMatch(/^hosts=13 ok=12 /);
    expect(summaryTable(hosts, summarize(hosts), { advice: false })).not.toContain('What needs attention');
  });

  it('a healthy fleet has no advice block', () => {
    const hosts = fleet().slice(0, 10);
    expect(adviceLines(hosts)).toEqual([]);
  });

  it('colour on a TTY only, never with NO_COLOR or --no-color; the table stays aligned', () => {
    expect(painterFor({ isTTY: true }, {})('x', 'red')).toBe('\x1b[31mx\x1b[0m');
    expect(painterFor({ isTTY: false }, {})('x', 'red')).toBe('x');
    expect(painterFor({ isTTY: true }, { NO_COLOR: '1' })('x', 'red')).toBe('x');
    expect(painterFor({ isTTY: true }, {}, false)('x', 'red')).toBe('x');
    const hosts = fleet();
    const plain = summaryTable(hosts, summarize(hosts));
    const coloured = summaryTable(hosts, summarize(hosts), { paint: painterFor({ isTTY: true }, {}) });
    expect(coloured).toContain('\x1b[33mrecords-lost\x1b[0m');
    expect(coloured).toContain('\x1b[32mhealthy\x1b[0m');
    expect(coloured.replace(/\x1b\[\d+m/g, '')).toBe(plain);
  });
});

describe('advice entries', () => {
  it('a host with two findings of the same code counts once per entry, and both messages are shown', () => {
    const h = buildHost('healthy', { name: 'app-03' });
    const outlier = (what: string) => ({ code: 'fleet-outlier', severity: 'medium' as const, message: what, evidence: {}, action: 'compare with peers' });
    h.diagnosis = { state: 'healthy', findings: [outlier('lost rate'), outlier('backlog')] };
    expect(adviceLines([h])).toEqual([
      'What needs attention:',
      '  app-03: [medium] fleet-outlier: lost rate',
      '      → compare with peers',
      '  app-03: [medium] fleet-outlier: backlog',
      '      → compare with peers',
    ]);
  });
});
