/**
 * splitSections cuts the sections out of the script's stdout in one pass over the line starts
 * (no array of every line, so megabytes of short lines cost the runner nothing per line). It
 * must answer exactly what the line-by-line definition answers, for any output: fuzzed here
 * against that definition (the previous implementation, kept as the reference).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitSections, type SplitSections } from '../../src/facts/script.js';
import { eachLine } from '../../src/facts/text.js';

const NONCE = 'n0nce42';
const MARK = '@@fleetmend';

/** The line-by-line definition. */
function reference(stdout: string, nonce: string): SplitSections {
  const out: Record<string, { text: string; rc: number | null }> = {};
  const begin = `${MARK}:${nonce}:begin:`;
  const end = `${MARK}:${nonce}:end:`;
  let current: string | null = null;
  let buf: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith(begin)) {
      if (current) out[current] = { text: buf.join('\n'), rc: null };
      current = line.slice(begin.length).trim();
      buf = [];
    } else if (line.startsWith(end) && current) {
      const rest = line.slice(end.length);
      const rc = Number(rest.slice(rest.lastIndexOf(':') + 1));
      out[current] = { text: buf.join('\n'), rc: Number.isInteger(rc) ? rc : null };
      current = null;
      buf = [];
    } else if (current) buf.push(line);
  }
  if (current) out[current] = { text: buf.join('\n'), rc: null };
  return out as SplitSections;
}

const piece = fc.oneof(
  fc.constantFrom(`${MARK}:${NONCE}:begin:auditctl_s`, `${MARK}:${NONCE}:begin:meminfo`, `${MARK}:${NONCE}:end:auditctl_s:0`, `${MARK}:${NONCE}:end:meminfo:1`,
    `${MARK}:${NONCE}:end:meminfo:x`, `${MARK}:other:begin:meminfo`, ' @@fleetmend', '', '\r', 'enabled 1', 'backlog 5'),
  fc.string({ maxLength: 12 }),
);

describe('splitSections', () => {
  it('answers what the line-by-line definition answers, for any output (fuzzed)', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.constantFrom('\n', '', '\r\n'), (parts, tail) => {
        const stdout = parts.join('\n') + tail;
        expect(splitSections(stdout, NONCE)).toEqual(reference(stdout, NONCE));
      }),
      { numRuns: 2000 },
    );
  });

  it('8 MiB of 16-byte lines in a section: the same text, cut out whole', () => {
    const spew = '0123456789abcde\n'.repeat(512 * 1024);
    const stdout = `${MARK}:${NONCE}:begin:auditctl_s\n${spew}${MARK}:${NONCE}:end:auditctl_s:0\n`;
    const got = splitSections(stdout, NONCE).auditctl_s!;
    expect(got.rc).toBe(0);
    expect(got.text).toBe(spew.slice(0, -1));
  });
});

describe('eachLine', () => {
  it('yields the lines of split("\\n") without \\r, up to max', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', '', '\r', 'b\r', 'cd'), { maxLength: 12 }), fc.nat(15), (parts, max) => {
        const text = parts.join('\n');
        const want = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).slice(0, max);
        expect([...eachLine(text, max)]).toEqual(want);
      }),
    );
  });
});
