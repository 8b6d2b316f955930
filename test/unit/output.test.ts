import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { jsonDocument, writeJsonDocument } from '../../src/cli/output.js';
import type { HostResult, RunInfo } from '../../src/results/index.js';
import { summarize } from '../../src/results/index.js';

const run: RunInfo = { id: 'r1', mode: 'sweep', started_at: '2026-11-25T00:00:00Z', finished_at: '2026-11-25T00:00:01Z', forks: 5 };
const host = (i: number): HostResult => ({
  host: `h${i}`,
  address: '127.0.0.1',
  port: 2200 + i,
  status: i % 2 ? 'ok' : 'unreachable',
  started_at: '',
  finished_at: '',
  ...(i % 2 ? { audit: { enabled: 1, failure: 1, pid: 3, rate_limit: 0, backlog_limit: 8192, lost: 0, backlog: i, format: 'multiline' as const, unknown_lines: [] } } : { error: { code: 'E_CONNECT' as const, message: 'refused "x"\n' } }),
});

function streamed(results: HostResult[], extra?: Record<string, unknown>): string {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  writeJsonDocument(out, run, summarize(results), results, extra);
  return text;
}

describe('--json document', () => {
  it('streams exactly the document jsonDocument builds', () => {
    for (const n of [0, 1, 3]) {
      const results = Array.from({ length: n }, (_, i) => host(i));
      expect(JSON.parse(streamed(results))).toEqual(jsonDocument(run, summarize(results), results));
      expect(streamed(results)).toBe(JSON.stringify(jsonDocument(run, summarize(results), results), null, 2) + '\n');
    }
  });
  it('appends extra keys (the playbook recap)', () => {
    const doc = JSON.parse(streamed([host(1)], { recap: [{ host: 'h1', ok: 1 }], stopped: null }));
    expect(doc.recap).toEqual([{ host: 'h1', ok: 1 }]);
    expect(doc.stopped).toBeNull();
    expect(doc.hosts[0].audit.backlog).toBe(1);
  });
  it('\\u-escapes the C1 and bidi controls JSON.stringify leaves raw (stdout is often a terminal); the values parse back', () => {
    const evil = { ...host(0), host: 'web\u202e1', error: { code: 'E_CONNECT' as const, message: 'x\u009b31m\u2066\u061c\u007f' } };
    const text = streamed([evil]);
    expect(text).not.toMatch(/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    expect(text).toContain('"host": "web\\u202e1"');
    expect(text).toContain('x\\u009b31m\\u2066\\u061c\\u007f');
    expect(JSON.parse(text)).toEqual(jsonDocument(run, summarize([evil]), [evil]));
  });
});
