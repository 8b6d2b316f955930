/**
 * Fuzzing the pure parsers (issue 7 §3) with fast-check: generated text, biased towards the
 * tokens each parser looks for, must never throw. The inventory parser may refuse its input
 * only with a FleetmendError (a positioned E_* error); anything else is a bug. Bounded runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { diagnose } from '../../src/diagnosis/index.js';
import { SECTION_NAMES, buildFactsScript, parseAuditctlStatus, parseKernelLog, parseMeminfo, parseSample, splitSections } from '../../src/facts/index.js';
import { parseInventory, selectHosts } from '../../src/inventory/index.js';

const RUNS = { numRuns: 300, seed: 7_2026, endOnFailure: true } as const;

/** Lines made of the parsers' own vocabulary, numbers that overflow, and noise. */
const token = fc.oneof(
  fc.constantFrom(
    'enabled', 'failure', 'pid', 'rate_limit', 'backlog_limit', 'lost', 'backlog', 'backlog_wait_time',
    'backlog_wait_time_actual', 'loginuid_immutable', 'AUDIT_STATUS:', 'mask=0x', 'audit:', 'kauditd hold queue overflow',
    'audit_lost=', 'audit_backlog=', 'audit_backlog_limit=', 'MemTotal:', 'MemAvailable:', 'kB', '[', ']', '=', ':',
    '-1', '0', '18446744073709551616', '9'.repeat(40), 'NaN', 'Infinity', '__proto__', 'constructor', '\u0000', '\ufffd', '\t',
  ),
  fc.string({ maxLength: 12 }),
  fc.integer().map(String),
);
const line = fc.tuple(fc.array(token, { maxLength: 10 }), fc.constantFrom(' ', '', '\t', '=')).map(([t, sep]) => t.join(sep));
const text = fc.oneof(fc.string({ maxLength: 400 }), fc.array(line, { maxLength: 30 }).map((l) => l.join('\n')));
const rc = fc.oneof(fc.constant(null), fc.integer({ min: -1, max: 255 }));

describe('fuzz: pure fact parsers never throw', () => {
  it('auditctl -s', () => {
    fc.assert(fc.property(text, rc, (t, code) => {
      const r = parseAuditctlStatus(t, code);
      expect(typeof r.kind).toBe('string');
    }), RUNS);
  });

  it('kernel log (journal, dmesg, syslog)', () => {
    fc.assert(fc.property(text, fc.constantFrom('journal', 'dmesg', 'messages') as fc.Arbitrary<Parameters<typeof parseKernelLog>[1]>, (t, src) => {
      parseKernelLog(t, src);
    }), RUNS);
  });

  it('meminfo', () => {
    fc.assert(fc.property(text, (t) => {
      const r = parseMeminfo(t);
      expect(r).toBeDefined();
    }), RUNS);
  });

  it('parseSample over random section text (and the section splitter over random stdout)', () => {
    const names = [...SECTION_NAMES];
    const sections = fc.dictionary(fc.constantFrom(...names), fc.record({ text, rc }), { maxKeys: names.length });
    fc.assert(fc.property(sections, fc.integer({ min: 0, max: 2 ** 45 }), (s, at) => {
      const sample = parseSample(s, at);
      expect(Array.isArray(sample.parse_errors)).toBe(true);
      diagnose({ samples: [sample] }); // the parsed values feed the diagnosis: it must take them too
    }), RUNS);
    const nonce = 'f00dcafe1234';
    const marker = fc.constantFrom(...names).chain((n) => fc.constantFrom(`@@fleetmend:${nonce}:begin:${n}`, `@@fleetmend:${nonce}:end:${n}:0`, `@@fleetmend:${nonce}:end:${n}:x`));
    const stdout = fc.array(fc.oneof(marker, line), { maxLength: 40 }).map((l) => l.join('\n'));
    fc.assert(fc.property(stdout, (out) => {
      parseSample(splitSections(out, nonce), 0);
    }), RUNS);
    expect(buildFactsScript(nonce)).toContain(nonce);
  });
});

describe('fuzz: the INI inventory parser throws only FleetmendError', () => {
  const iniLine = fc.oneof(
    fc.constantFrom('[web]', '[web:vars]', '[web:children]', '[all:vars]', '[db]', '[bad group]', '[x:nope]', '[', '#c', ';c', ''),
    fc.tuple(
      fc.constantFrom('web1', 'db[01:03]', 'h[a:c]', 'h[1:0]', 'h[01:99999999]', '[::1]', 'host:22', 'a.b.c', '"q', "'", '\\'),
      fc.array(fc.tuple(fc.constantFrom('ansible_port', 'ansible_host', 'ansible_user', 'x', 'ansible_become', '__proto__', 'constructor'), fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('22', '70000', '-1', 'yes', "'a b'", '"', '[1,2]', '{a: 1}'))), { maxLength: 3 }),
    ).map(([h, vars]) => [h, ...vars.map(([k, v]) => `${k}=${v}`)].join(' ')),
    fc.string({ maxLength: 30 }),
  );
  const ini = fc.array(iniLine, { maxLength: 25 }).map((l) => l.join('\n'));

  it('parseInventory (and pattern selection on what it accepts)', () => {
    fc.assert(fc.property(ini, fc.constantFrom('all', 'web', 'db*', 'all:!web', 'web:&db', '~^w'), (t, pattern) => {
      try {
        const inv = parseInventory('fuzz.ini', t, 'ini');
        expect(inv.hosts).toBeInstanceOf(Map);
        try {
          selectHosts(inv, pattern);
        } catch (err) {
          if (!(err instanceof FleetmendError)) throw err;
        }
      } catch (err) {
        if (!(err instanceof FleetmendError)) throw err;
        expect(err.code).toMatch(/^E_[A-Z_]+$/);
      }
    }), { ...RUNS, numRuns: 500 });
  });
});
