import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseYaml, schemaError } from '../../src/util/yaml.js';
import { FleetmendError } from '../../src/errors.js';

describe('yaml positions', () => {
  const src = parseYaml('f.yml', 'a: 1\nb:\n  c: x\n  bogus: 2\n');
  it('points an unknown key at its line and column', () => {
    const r = z.object({ a: z.number(), b: z.strictObject({ c: z.string() }) }).safeParse(src.value);
    expect(r.success).toBe(false);
    if (!r.success) expect(schemaError(src, r.error).oneLine()).toBe("f.yml:4:3: unknown key 'bogus' at b [E_SCHEMA]");
  });
  it('points a wrong type at its value', () => {
    const r = z.object({ a: z.number(), b: z.object({ c: z.number() }) }).safeParse(src.value);
    expect(r.success).toBe(false);
    if (!r.success) expect(schemaError(src, r.error).oneLine()).toMatch(/^f\.yml:3:6: .* at b\.c \[E_SCHEMA\]$/);
  });
  it('reports a syntax error with file:line:column', () => {
    try {
      parseYaml('g.yml', 'a: [1,\nb: 2\n');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FleetmendError);
      expect((e as FleetmendError).code).toBe('E_YAML');
      expect((e as FleetmendError).oneLine()).toMatch(/^g\.yml:\d+:\d+: invalid YAML/);
    }
  });

  it('an alias bomb is E_YAML at the alias that crossed the limit, not a ReferenceError', () => {
    const bomb =
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n' +
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n';
    const t0 = performance.now();
    let e: unknown;
    try {
      parseYaml('bomb.yml', bomb);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(FleetmendError);
    expect((e as FleetmendError).oneLine()).toBe('bomb.yml:4:8: invalid YAML: aliases expand to more than 100 nodes (an alias bomb?) [E_YAML]');
    expect(performance.now() - t0).toBeLessThan(1000);
  });
  it('an alias before its anchor is E_YAML at the alias; ordinary aliases still work', () => {
    let e: unknown;
    try {
      parseYaml('u.yml', 'a: 1\nb: *x\nc: &x 1\n');
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(FleetmendError);
    expect((e as FleetmendError).oneLine()).toMatch(/^u\.yml:2:4: invalid YAML: Unresolved alias .*: x \[E_YAML\]$/);
    expect(parseYaml('ok.yml', 'base: &b {port: 22}\nweb: *b\n').value).toEqual({ base: { port: 22 }, web: { port: 22 } });
  });
});
