/**
 * util/terminal (issue 16 §5): what reaches the terminal shows control characters instead of
 * sending them, and a message quoting a 4 KB expression is cut.
 */
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { Progress, summaryTable } from '../../src/cli/progress.js';
import { FleetmendError } from '../../src/errors.js';
import type { HostResult, TaskResult } from '../../src/results/index.js';
import { MAX_MESSAGE, MAX_QUOTED, clipMessage, escapeControls, terminalLine, terminalText } from '../../src/util/terminal.js';

describe('util/terminal', () => {
  it('shows an OSC title sequence, CSI, CR, BEL and NUL as \\x.. escapes', () => {
    const s = 'web1\x1b]0;owned\x07 \x1b[2K\rok\0';
    expect(escapeControls(s)).toBe('web1\\x1b]0;owned\\x07 \\x1b[2K\\rok\\x00');
  });

  it('escapes DEL, C1 controls (U+009B is a one-byte CSI) and bidi overrides; keeps tab and printable Unicode', () => {
    expect(escapeControls('a\x7fb\u009b31mc\u202eevil\u2066d\te — ü 日本')).toBe('a\\x7fb\\x9b31mc\\u202eevil\\u2066d\te — ü 日本');
  });

  it('escapes every C1 control and every bidi mark, embedding, override and isolate (U+061C, 200E/F, 202A-E, 2066-9)', () => {
    const c1 = Array.from({ length: 0x20 }, (_, k) => String.fromCharCode(0x80 + k));
    const bidi = [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069].map((n) => String.fromCharCode(n));
    for (const c of [...c1, ...bidi]) {
      const n = c.charCodeAt(0);
      const shown = n <= 0xff ? `\\x${n.toString(16)}` : `\\u${n.toString(16).padStart(4, '0')}`;
      expect(escapeControls(`a${c}b`), shown).toBe(`a${shown}b`);
      expect(terminalText(`a${c}b\n`), shown).toBe(`a${shown}b\n`);
    }
    // their neighbours are text: NBSP, the zero-width joiner, LRM's neighbours, Arabic letters
    expect(escapeControls('\u00a0\u200d\u2010\u2065\u206a\u061b\u061d')).toBe('\u00a0\u200d\u2010\u2065\u206a\u061b\u061d');
  });

  it('a line may not forge another line; a text block keeps its newlines', () => {
    expect(terminalLine('host a: failed\nfleetmend: all ok')).toBe('host a: failed\\nfleetmend: all ok');
    expect(terminalText('HOST  STATUS\nweb\x1b[31m  ok\n')).toBe('HOST  STATUS\nweb\\x1b[31m  ok\n');
  });

  it('cuts a quoted 4 KB expression to MAX_QUOTED characters with an ellipsis, and keeps the rest of the message', () => {
    const expr = `echo ${'x'.repeat(4096)}`;
    const e = new FleetmendError('E_TEMPLATE', `bad template ${JSON.stringify(expr)}: Parse error on line 1`, { position: { file: 'pb.yml', line: 5, column: 7 } });
    const line = terminalLine(e.oneLine());
    expect(line.length).toBeLessThan(MAX_QUOTED + 150);
    expect(line).toMatch(/^pb\.yml:5:7: bad template "echo x+…" \(3,901 more characters\): Parse error on line 1 \[E_TEMPLATE\]$/);
    // single quotes, as inventory messages quote names
    const named = clipMessage(`host range '${'w'.repeat(5000)}[0:9]' declares 10 hosts`);
    expect(named).toMatch(/^host range 'w{200}…' \(4,805 more characters\) declares 10 hosts$/);
  });

  it('short quotes are left alone; an unquoted giant message is cut as a whole', () => {
    expect(clipMessage(`undefined variable 'ticket' in "echo {{ ticket }}"`)).toBe(`undefined variable 'ticket' in "echo {{ ticket }}"`);
    const long = 'y '.repeat(5000);
    const cut = clipMessage(long);
    expect(cut.length).toBeLessThan(MAX_MESSAGE + 40);
    expect(cut.endsWith('… (8,000 more characters)')).toBe(true);
  });

  it('escapes after cutting, so control characters in a clipped quote are still shown', () => {
    const line = terminalLine(`bad value '${'\x1b'.repeat(300)}'`);
    expect(line).not.toContain('\x1b');
    expect(line).toContain('\\x1b'.repeat(200));
  });

  describe('the terminal output of a run (progress lines, failed tasks, diffs, the summary table)', () => {
    const EVIL = 'evil\x1b]0;owned\x07\x1b[2K\r';
    const host: HostResult = {
      host: EVIL, address: '10.0.0.1', port: 22, status: 'unreachable', started_at: '', finished_at: '',
      error: { code: 'E_AUTH', message: `permission denied (banner: ${EVIL})` },
    };
    const task: TaskResult = {
      play: 'p', task: 'fix', module: 'shell', status: 'failed', changed: true, duration_ms: 1,
      msg: `non-zero exit: ${EVIL}\nsecond line`, warnings: [`odd ${EVIL}`],
      diff: [{ before: 'a\n', after: `a\n${EVIL}\n`, path: '/etc/x' }],
    };
    const capture = (tty: boolean) => {
      const out = Object.assign(new PassThrough(), { isTTY: tty });
      let text = '';
      out.on('data', (d: Buffer) => (text += d.toString()));
      return { out, text: () => text };
    };
    const raw = /[\x00-\x08\x0b-\x1f\x7f]/;

    it.each([false, true])('isTTY=%s: host data is escaped; only the progress line\'s own erase sequence is sent', (tty) => {
      const c = capture(tty);
      const p = new Progress(c.out, false, true);
      p.listener({ type: 'task', host: EVIL, result: task });
      p.listener({ type: 'host-done', result: host });
      const text = c.text();
      const own = text.replaceAll('\r\x1b[2K', '');
      expect(own).not.toMatch(raw);
      expect(text).toContain('evil\\x1b]0;owned\\x07\\x1b[2K\\r');
      expect(text).toContain('second line'); // the message is kept, on one line
      if (!tty) expect(text).toContain('permission denied (banner: evil\\x1b]0;owned');
    });

    it('the summary table escapes host names', () => {
      const t = summaryTable([host], { hosts: 1, ok: 0, changed: 0, failed: 0, unreachable: 1, skipped: 0, interrupted: 0 });
      expect(t).not.toMatch(raw);
      expect(t).toContain('evil\\x1b]0;owned\\x07');
    });
  });
});
