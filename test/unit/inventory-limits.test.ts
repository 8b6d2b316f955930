/**
 * Host ranges are bounded (issue 16 §4): a range, or the product of several in one entry, is
 * counted before it is expanded and refused past MAX_HOSTS_PER_PATTERN; a file past
 * MAX_HOSTS_PER_INVENTORY distinct hosts is refused at the entry that crossed it. Both with
 * file:line, both at once (the clock bound below is what "counted first" buys).
 */
import { describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { expandHostRange, inventoryToList, parseInventory } from '../../src/inventory/index.js';
import { MAX_GROUP_DEPTH, MAX_GROUP_MEMBERSHIPS, MAX_HOSTS_PER_INVENTORY, MAX_HOSTS_PER_PATTERN } from '../../src/inventory/ranges.js';

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
    expect(MAX_GROUP_MEMBERSHIPS).toBe(1_000_000);
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

  // A 41 KB file of 2,000 groups each listing web[0:99999] (the same 100,000 hosts) passed both
  // limits above and put 200 million hosts in groups: 1.2 GB after 40 groups, no answer in 60 s.
  it('the same range repeated in many groups is bounded: memberships past the limit are refused at the entry that crossed it', () => {
    const groups = MAX_GROUP_MEMBERSHIPS / MAX_HOSTS_PER_PATTERN + 1;
    const ini = Array.from({ length: groups }, (_, i) => `[g${i}]\nweb[1:${MAX_HOSTS_PER_PATTERN}]\n`).join('');
    const { e, ms } = refused(() => parseInventory('groups.ini', ini));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.message).toMatch(/puts hosts in groups more than 1,000,000 times \(the limit per inventory file\)/);
    expect(e.position).toMatchObject({ file: 'groups.ini', line: 2 * groups });
    expect(ms).toBeLessThan(10_000);
    const yaml = `all:\n  children:\n${Array.from({ length: groups }, (_, i) => `    g${i}:\n      hosts:\n        web[1:${MAX_HOSTS_PER_PATTERN}]:\n`).join('')}`;
    expect(refused(() => parseInventory('groups.yml', yaml)).e.position).toMatchObject({ file: 'groups.yml', line: 2 + 3 * groups });
  }, 30_000);

  it('group nesting is bounded too: a host counts once for each group it is in through children', () => {
    // 20,000 hosts in one group, that group 60 levels deep: 1.2 million memberships once resolved
    const chain = ['[g0]', 'h[1:20000]', ...Array.from({ length: 60 }, (_, i) => `[g${i + 1}:children]\ng${i}`)].join('\n');
    const { e, ms } = refused(() => parseInventory('chain.ini', chain));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.message).toMatch(/more than 1,000,000 .*counting the groups their groups are children of/);
    expect(e.position).toMatchObject({ file: 'chain.ini' });
    expect(ms).toBeLessThan(10_000);
    // 40 levels: 800,000, under the limit
    const ok = ['[g0]', 'h[1:20000]', ...Array.from({ length: 40 }, (_, i) => `[g${i + 1}:children]\ng${i}`)].join('\n');
    expect(parseInventory('ok.ini', ok).hosts.get('h1')?.groups).toHaveLength(42);
  }, 30_000);

  it('`inventory --list` visits each group once: a diamond of children 24 levels deep lists at once', () => {
    // each level's two groups are both children of both groups of the level above: 2^24 paths
    // (a 1.6 KB file took 16 s with 25 levels, each group visited once per path)
    const lines = ['[a0]', 'h1', '[b0]', 'h2'];
    for (let i = 1; i <= 24; i++) lines.push(`[a${i}:children]`, `a${i - 1}`, `b${i - 1}`, `[b${i}:children]`, `a${i - 1}`, `b${i - 1}`);
    const t0 = performance.now();
    const inv = parseInventory('diamond.ini', lines.join('\n'));
    const list = inventoryToList(inv);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(inv.hosts.get('h1')?.groups).toHaveLength(1 + 2 * 24 + 1);
    expect(list['a24']).toEqual({ children: ['a23', 'b23'] });
    expect(Object.keys(list)).toHaveLength(1 + 1 + 2 * 25);
  }, 60_000);

  it('groups nest at most MAX_GROUP_DEPTH levels: a chain of 20,000 groups is refused at once, no stack overflow; a loop at its end is found first, at the edge that closed it', () => {
    // 478 KB: the recursive depth walk overflowed the stack past ~5,000 levels (an internal
    // error with a stack trace), the loop check per edge was quadratic (no answer in 60 s), and
    // --graph would have printed 600 MB (its indent grows with the depth)
    expect(MAX_GROUP_DEPTH).toBe(100);
    const chain = (n: number) => {
      const lines = ['[g0]', 'h1'];
      for (let i = 1; i < n; i++) lines.push(`[g${i}:children]`, `g${i - 1}`);
      return lines;
    };
    // g0 is the deepest: n levels under 'all'
    expect(parseInventory('ok.ini', chain(MAX_GROUP_DEPTH).join('\n')).hosts.get('h1')?.groups).toHaveLength(MAX_GROUP_DEPTH + 1);
    expect(refused(() => parseInventory('deep.ini', chain(MAX_GROUP_DEPTH + 1).join('\n'))).e.oneLine()).toBe(
      `deep.ini: group 'g0' is nested ${MAX_GROUP_DEPTH + 1} levels deep under 'all'; the limit is ${MAX_GROUP_DEPTH} [E_INVENTORY]`,
    );
    const n = 20_000;
    const { e, ms } = refused(() => parseInventory('chain.ini', chain(n).join('\n')));
    expect(e.message).toMatch(/nested 20,?000 levels deep/);
    expect(ms).toBeLessThan(5000);
    const looped = [...chain(n), '[g0:children]', `g${n - 1}`];
    expect(refused(() => parseInventory('loop.ini', looped.join('\n'))).e.oneLine()).toBe(
      `loop.ini:${looped.length}: adding group 'g${n - 1}' as a child of 'g0' creates a loop [E_INVENTORY]`,
    );
  }, 30_000);
});
