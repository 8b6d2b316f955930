/**
 * Host ranges are bounded (issue 16 §4): a range, or the product of several in one entry, is
 * counted before it is expanded and refused past MAX_HOSTS_PER_PATTERN; a file past
 * MAX_HOSTS_PER_INVENTORY distinct hosts is refused at the entry that crossed it. Both with
 * file:line, both at once (the clock bound below is what "counted first" buys).
 */
import { describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { expandHostRange, parseInventory } from '../../src/inventory/index.js';
import { MAX_HOSTS_PER_INVENTORY, MAX_HOSTS_PER_PATTERN } from '../../src/inventory/ranges.js';

function refused(fn: () => unknown): { e: FleetmendError; ms: number } {
  const t0 = performance.now();
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FleetmendError);
    return { e: err as FleetmendError, ms: performance.now() - t0 };
  }
  throw new Error('expected a refusal');
}

describe('inventory: bounded host ranges', () => {
  it('the documented limits', () => {
    expect(MAX_HOSTS_PER_PATTERN).toBe(100_000);
    expect(MAX_HOSTS_PER_INVENTORY).toBe(100_000);
  });

  it('a range at the limit expands; one past it is refused before any name is made', () => {
    expect(expandHostRange('h[1:10]', 10)).toHaveLength(10);
    expect(() => expandHostRange('h[1:11]', 10)).toThrow(/declares 11 hosts; the limit is 10 per entry/);
    expect(expandHostRange('h[0:20:2]', 11)).toHaveLength(11);
    expect(() => expandHostRange('h[0:22:2]', 11)).toThrow(/declares 12 hosts/);
  });

  it('several ranges multiply: the product is what is bounded', () => {
    expect(expandHostRange('r[1:4]c[1:5]', 20)).toHaveLength(20);
    expect(() => expandHostRange('r[1:4]c[1:6]', 20)).toThrow(/declares 24 hosts/);
    expect(() => expandHostRange('a[0:999]b[0:999]c[0:999]')).toThrow(/declares 1,000,000,000 hosts; the limit is 100,000/);
  });

  it.each([
    ['YAML', 'inv.yml', 'all:\n  children:\n    web:\n      hosts:\n        ok1:\n        web[0:99999999]:\n', 6],
    ['INI', 'inv.ini', '[web]\nok1\n\n[db]\nweb[0:99999999] ansible_user=x\n', 5],
    ['YAML, a product', 'p.yml', 'all:\n  hosts:\n    "r[0:999]n[0:999]:2222":\n', 3],
    ['INI, a product', 'p.ini', '[all]\nr[a:z]n[0:9999]\n', 2],
  ])('%s: web[0:99999999] is refused with file:line at once', (_kind, file, text, line) => {
    const { e, ms } = refused(() => parseInventory(file, text));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.position).toMatchObject({ file, line });
    expect(e.message).toMatch(/declares [\d,]+ hosts; the limit is 100,000 per entry/);
    expect(ms).toBeLessThan(500);
  });

  it('a bound too large for exact arithmetic is refused, not rounded', () => {
    expect(() => expandHostRange('h[0:99999999999999999999]')).toThrow(/above 15 digits/);
  });

  it('the whole file is bounded too: the entry that crosses the limit is named', () => {
    const half = MAX_HOSTS_PER_INVENTORY / 2;
    const yaml = `all:\n  children:\n    a:\n      hosts:\n        a[1:${half}]:\n    b:\n      hosts:\n        b[1:${half}]:\n        c[1:2]:\n`;
    const { e } = refused(() => parseInventory('big.yml', yaml));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.message).toMatch(/more than 100,000 hosts \(the limit per inventory file\)/);
    expect(e.position).toMatchObject({ file: 'big.yml', line: 9 });
    // the same hosts listed in two groups are counted once
    const twice = `[a]\nh[1:${half}]\n[b]\nh[1:${half}]\n`;
    expect(parseInventory('twice.ini', twice).hosts.size).toBe(half);
  });
});
