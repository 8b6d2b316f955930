import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diagnose } from '../../src/diagnosis/index.js';
import { FleetmendError } from '../../src/errors.js';
import type { HostFacts } from '../../src/facts/index.js';
import { evaluatePolicy, loadPolicy, policyScope, type Compliance, type Policy } from '../../src/policy/index.js';
import { HEALTHY, STUCK, sample, status, type HostShape } from '../fixtures/facts/samples.js';

const BASELINE = join(import.meta.dirname, '../../policies/audit-baseline.yml');
const dir = mkdtempSync(join(tmpdir(), 'fleetmend-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function loadError(text: string): Promise<FleetmendError> {
  const file = write(`p${Math.random().toString(36).slice(2)}.yml`, text);
  try {
    await loadPolicy(file);
  } catch (err) {
    expect(err).toBeInstanceOf(FleetmendError);
    const e = err as FleetmendError;
    expect(e.position?.file).toBe(file);
    return e;
  }
  throw new Error('expected a load error');
}

const facts = (...samples: [HostShape, number][]): HostFacts => ({ samples: samples.map(([s, at]) => sample(s, at)) });
const run = (policy: Policy, f: HostFacts): Compliance => evaluatePolicy(policy, policyScope(f, diagnose(f)));
const result = (c: Compliance, id: string) => {
  const r = c.controls.find((x) => x.id === id);
  if (!r) throw new Error(`no control ${id}`);
  return r;
};

const GOOD = `name: t
controls:
  - id: limit
    title: Backlog limit
    impact: 0.5
    condition: audit.backlog_limit >= 8192
`;

describe('loadPolicy', () => {
  it('loads the shipped baseline and compiles every condition', async () => {
    const p = await loadPolicy(BASELINE);
    expect(p.name).toBe('audit-baseline');
    expect(p.file).toBe(BASELINE);
    expect(p.controls.map((c) => c.id)).toEqual([
      'audit-enabled',
      'auditd-running',
      'lost-not-increasing',
      'backlog-below-half',
      'backlog-limit',
      'failure-printk',
      'limit-persisted',
      'limit-memory',
      'disk-actions',
    ]);
    expect(p.controls.every((c) => c.impact >= 0 && c.impact <= 1)).toBe(true);
    expect(p.controls.filter((c) => c.impact === 0).map((c) => c.id)).toEqual(['disk-actions']);
  });

  it('a bad expression is E_EXPR at file:line:column inside the condition', async () => {
    const e = await loadError(GOOD.replace('audit.backlog_limit >= 8192', 'audit.backlog_limit => 8192'));
    expect(e.code).toBe('E_EXPR');
    // line 6, the condition value starts at column 16, '>' of '=>' ... '=' at offset 20
    expect(e.position).toMatchObject({ line: 6, column: 16 + 20 });
  });

  it('a quoted condition: the column accounts for the quote', async () => {
    const e = await loadError(GOOD.replace('audit.backlog_limit >= 8192', '"eval(1)"'));
    expect(e.code).toBe('E_EXPR');
    expect(e.position).toMatchObject({ line: 6, column: 17 });
    expect(e.message).toMatch(/unknown function 'eval'/);
  });

  it('schema errors are E_SCHEMA at the offending node', async () => {
    const unknownKey = await loadError(GOOD.replace('    impact: 0.5', '    impact: 0.5\n    severity: high'));
    expect(unknownKey.code).toBe('E_SCHEMA');
    expect(unknownKey.position?.line).toBe(6);
    expect(unknownKey.message).toMatch(/severity/);
    const badImpact = await loadError(GOOD.replace('impact: 0.5', 'impact: 7'));
    expect(badImpact).toMatchObject({ code: 'E_SCHEMA', position: { line: 5 } });
    const noControls = await loadError('name: t\ncontrols: []\n');
    expect(noControls.code).toBe('E_SCHEMA');
  });

  it('duplicate ids are E_POLICY at the second id', async () => {
    const e = await loadError(GOOD + GOOD.split('controls:\n')[1]);
    expect(e).toMatchObject({ code: 'E_POLICY', position: { line: 7 } });
  });

  it('invalid YAML is E_YAML with a line', async () => {
    const e = await loadError('name: t\ncontrols:\n  - id: [unclosed\n');
    expect(e.code).toBe('E_YAML');
    expect(e.position?.line).toBeGreaterThan(0);
  });

  it('parameters: read by conditions as params.NAME; a bad name or value is E_SCHEMA', async () => {
    const p = await loadPolicy(write('params.yml', 'name: t\nparameters:\n  min_limit: 8192\ncontrols:\n  - id: limit\n    title: L\n    impact: 1\n    condition: audit.backlog_limit >= params.min_limit\n'));
    expect(p.parameters).toEqual({ min_limit: 8192 });
    expect(result(run(p, facts([{}, 0])), 'limit').passed).toBe(true);
    expect((await loadError('name: t\nparameters:\n  Bad-Name: 1\ncontrols:\n  - id: a\n    title: A\n    impact: 1\n    condition: "true"\n')).code).toBe('E_SCHEMA');
    expect((await loadError('name: t\nparameters:\n  x: {a: 1}\ncontrols:\n  - id: a\n    title: A\n    impact: 1\n    condition: "true"\n')).code).toBe('E_SCHEMA');
  });

  it('a missing file is E_USAGE', async () => {
    await expect(loadPolicy(join(dir, 'nope.yml'))).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('evaluatePolicy with the baseline', () => {
  it('healthy Debian host, two samples: compliant; Debian\'s SUSPEND disk actions fail an informational control', async () => {
    const p = await loadPolicy(BASELINE);
    const c = run(p, facts([{}, 0], [{}, 5000]));
    expect(c.failed_controls.map((x) => x.id)).toEqual(['disk-actions']);
    expect(result(c, 'disk-actions').impact).toBe(0);
    expect(c.compliant).toBe(true);
    expect(result(c, 'disk-actions').message).toMatch(/persistent.disk_full_action = "SUSPEND"/);
    expect(c.score).toBe(1);
  });

  it('a CIS/STIG host (disk_full_action = halt, admin_space_left_action = single) passes disk-actions', async () => {
    const p = await loadPolicy(BASELINE);
    const conf = 'log_file = /var/log/audit/audit.log\ndisk_full_action = halt\nadmin_space_left_action = single\n';
    const c = run(p, facts([{ conf }, 0], [{ conf }, 5000]));
    expect(result(c, 'disk-actions').passed).toBe(true);
    expect(c.failed_controls).toEqual([]);
  });

  it("the site's choice is a parameter: accepting SUSPEND makes a stock Debian host pass", async () => {
    const p = await loadPolicy(BASELINE);
    const suspendOk: Policy = { ...p, parameters: { ...p.parameters, disk_full_actions: ['SUSPEND'], admin_space_left_actions: ['SUSPEND'] } };
    expect(result(run(suspendOk, facts([{}, 0], [{}, 5000])), 'disk-actions').passed).toBe(true);
    const cisOnly: Policy = { ...p, parameters: { ...p.parameters, disk_full_actions: ['HALT'] } };
    const conf = 'disk_full_action = ROTATE\nadmin_space_left_action = SINGLE\n';
    expect(result(run(cisOnly, facts([{ conf }, 0], [{ conf }, 5000])), 'disk-actions').message).toMatch(/params\.disk_full_actions = \["HALT"\]/);
  });

  it('stuck host fails the draining controls with their values', async () => {
    const p = await loadPolicy(BASELINE);
    const stuck = facts([{ auditctl: STUCK, ps: '  226 T<sl' }, 0], [{ auditctl: status(STUCK, { lost: 10990 }), ps: '  226 T<sl' }, 10_000]);
    const c = run(p, stuck);
    const failed = c.failed_controls.map((x) => x.id);
    expect(failed).toEqual(
      expect.arrayContaining(['auditd-running', 'lost-not-increasing', 'backlog-below-half', 'backlog-limit', 'limit-persisted']),
    );
    expect(failed).not.toContain('audit-enabled');
    expect(result(c, 'backlog-below-half').message).toMatch(/audit.backlog = 65, audit.backlog_limit = 64/);
  });

  it('auditctl missing: controls over the status fail as "cannot be evaluated" and say why', async () => {
    const p = await loadPolicy(BASELINE);
    const c = run(p, facts([{ auditctl: 'bash: auditctl: command not found', auditctlRc: 127 }, 0]));
    expect(result(c, 'audit-enabled')).toMatchObject({
      passed: false,
      message: 'cannot be evaluated: audit.enabled: audit status unavailable (auditctl: missing)',
    });
    expect(result(c, 'auditd-running').message).toMatch(/cannot be evaluated/);
    expect(c.compliant).toBe(false);
  });

  it('one sample: lost-not-increasing passes only for lost 0, else says it needs two samples', async () => {
    const p = await loadPolicy(BASELINE);
    expect(result(run(p, facts([{}, 0])), 'lost-not-increasing').passed).toBe(true);
    const r = result(run(p, facts([{ auditctl: status(HEALTHY, { lost: 5 }) }, 0])), 'lost-not-increasing');
    expect(r.passed).toBe(false);
    expect(r.message).toMatch(/rates.lost_delta: needs two samples/);
  });

  it('enabled 2 (locked) is accepted by audit-enabled; failure 2 fails failure-printk', async () => {
    const p = await loadPolicy(BASELINE);
    const c = run(p, facts([{ auditctl: status(HEALTHY, { enabled: 2, failure: 2 }) }, 0]));
    expect(result(c, 'audit-enabled').passed).toBe(true);
    expect(result(c, 'failure-printk').passed).toBe(false);
  });

  it('memory control fails for a limit that pins too much', async () => {
    const p = await loadPolicy(BASELINE);
    const shape = { auditctl: status(HEALTHY, { backlog_limit: 65536 }), rulesGrep: '/etc/audit/audit.rules:-b 65536' };
    const c = run(p, facts([shape, 0]));
    expect(result(c, 'limit-memory').passed).toBe(false);
    expect(result(c, 'limit-persisted').passed).toBe(true);
  });
});

describe('evaluatePolicy details', () => {
  const policy = (condition: string, impact = 1): Policy => ({
    name: 'x',
    file: 'x.yml',
    controls: [{ id: 'c', title: 'C', impact, condition }],
  });
  const scope = policyScope(facts([{}, 0]), diagnose(facts([{}, 0])));

  it('works on a Policy not produced by loadPolicy (compiles on demand)', () => {
    expect(evaluatePolicy(policy('audit.enabled == 1'), scope).compliant).toBe(true);
  });

  it('a condition that does not compile, or errors at evaluation, fails the control with the reason', () => {
    expect(evaluatePolicy(policy('audit.enabled ='), scope).controls[0]?.message).toMatch(/condition error: .*'=='/);
    expect(evaluatePolicy(policy('system.os_id - 1 > 0'), scope).controls[0]?.message).toMatch(/condition error: .*needs numbers/);
  });

  it('impact 0 failures are informational: still compliant', () => {
    const c = evaluatePolicy(policy('audit.enabled == 0', 0), scope);
    expect(c.failed_controls).toHaveLength(1);
    expect(c.compliant).toBe(true);
  });

  it('scope exposes diagnosis, findings and documented names', () => {
    expect(scope).toMatchObject({
      audit: { available: true, enabled: 1, backlog_limit: 8192, backlog_ratio: 0 },
      rates: { samples: 1 },
      auditd: { running: true, init: 'systemd', refuse_manual_stop: false },
      persistent: { effective_backlog_limit: 8192, reboot_backlog_limit: 8192, disk_full_action: 'SUSPEND' },
      memory: { mem_available_kb: 780944, backlog_limit_bytes: 8192 * 8970 },
      diagnosis: { state: 'healthy', severity: 'low' },
      findings: ['auditd-disk-action'],
      system: { os_id: 'debian', kernel_release: '6.1.0-50-amd64' },
    });
    expect(evaluatePolicy(policy('"auditd-disk-action" in findings and diagnosis.state == "healthy"'), scope).compliant).toBe(true);
  });
});
