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
});
