import { describe, expect, it } from 'vitest';
import { loadInventory, selectHosts } from '../../src/inventory/index.js';
import { fixture, thrown } from './inventory-helpers.js';

describe('inventory: host patterns', async () => {
  const inv = await loadInventory(fixture('patterns/hosts.yml'));
  const sel = (p: string | string[]): string[] => selectHosts(inv, p);
  const ALL = [...inv.hosts.keys()];

  it('starts from a known inventory order', () => {
    expect(ALL).toEqual([
      'web1.example.com',
      'web2.example.com',
      'web3.example.com',
      'db1.example.com',
      'db2.example.com',
      'stage-misc',
      'lb.example.com',
      'bastion.example.com',
    ]);
  });

  it("selects every host with 'all' and '*'", () => {
    expect(sel('all')).toEqual(ALL);
    expect(sel('*')).toEqual(ALL);
  });

  it('selects one host by name', () => {
    expect(sel('db2.example.com')).toEqual(['db2.example.com']);
  });

  it('selects a group with the hosts of its children', () => {
    expect(sel('prod')).toEqual(['web1.example.com', 'web2.example.com', 'web3.example.com', 'db1.example.com', 'db2.example.com']);
    expect(sel('ungrouped')).toEqual(['bastion.example.com']);
  });

  it('matches globs against groups and host names (fnmatch, anchored)', () => {
    // 'web*' matches group web AND group webfarm (lb) AND host names starting with web
    expect(sel('web*')).toEqual(['web1.example.com', 'web2.example.com', 'web3.example.com', 'lb.example.com']);
    expect(sel('db?.example.com')).toEqual(['db1.example.com', 'db2.example.com']);
    expect(sel('web[13].example.com')).toEqual(['web1.example.com', 'web3.example.com']);
    expect(sel('web[!13].example.com')).toEqual(['web2.example.com']);
  });

  it("treats '.' in a glob literally", () => {
    expect(() => sel('web1Xexample.com')).toThrow(/matches no host or group/);
  });

  it('matches ~regex from the start of the name (Python re.match)', () => {
    expect(sel('~(web|db)[13]')).toEqual(['web1.example.com', 'web3.example.com', 'db1.example.com']);
    expect(() => sel('~example')).toThrow(/matches no host or group/);
  });

  it("unions with ':' and ','", () => {
    expect(sel('db:webfarm')).toEqual(['db1.example.com', 'db2.example.com', 'lb.example.com']);
    expect(sel('webfarm,db')).toEqual(['db1.example.com', 'db2.example.com', 'lb.example.com']);
    expect(sel(['webfarm', 'db'])).toEqual(['db1.example.com', 'db2.example.com', 'lb.example.com']);
  });

  it("excludes with '!'", () => {
    expect(sel('all:!prod')).toEqual(['stage-misc', 'lb.example.com', 'bastion.example.com']);
  });

  it("intersects with '&'", () => {
    expect(sel('prod:&staging')).toEqual(['web3.example.com', 'db2.example.com']);
  });

  it('applies unions, then intersections, then exclusions whatever the written order', () => {
    // written: exclude db, intersect staging, union web+db → (web ∪ db) ∩ staging \ db
    expect(sel('!db:&staging:web:db')).toEqual(['web3.example.com']);
  });

  it("starts from 'all' when only exclusions/intersections are given", () => {
    expect(sel('!prod:!webfarm')).toEqual(['stage-misc', 'bastion.example.com']);
  });

  it('keeps a regex with ":" intact when terms are comma-separated', () => {
    expect(sel('~db[12]\\.example\\.com$,webfarm')).toEqual(['db1.example.com', 'db2.example.com', 'lb.example.com']);
  });

  it('selects by subscript within a group', () => {
    expect(sel('web[0]')).toEqual(['web1.example.com']);
    expect(sel('web[-1]')).toEqual(['web3.example.com']);
    expect(sel('prod[1:3]')).toEqual(['web2.example.com', 'web3.example.com', 'db1.example.com']);
    expect(sel('prod[3:]')).toEqual(['db1.example.com', 'db2.example.com']);
  });

  it('rejects a term that matches nothing with E_PATTERN, naming the term', () => {
    const e = thrown(() => sel('web:dbx'));
    expect(e.code).toBe('E_PATTERN');
    expect(e.message).toBe("pattern 'dbx' matches no host or group");
  });

  it('rejects an exclusion term that matches nothing (a likely typo)', () => {
    expect(thrown(() => sel('all:!prd')).message).toBe("pattern 'prd' matches no host or group");
  });

  it('rejects an overall empty selection', () => {
    const e = thrown(() => sel('webfarm:&prod'));
    expect(e.code).toBe('E_PATTERN');
    expect(e.message).toMatch(/selects no hosts/);
  });

  it('rejects an empty pattern, an out-of-range subscript and a broken regex', () => {
    expect(thrown(() => sel(' ')).code).toBe('E_PATTERN');
    expect(thrown(() => sel('web[7]')).message).toMatch(/out of range/);
    expect(thrown(() => sel('~web(')).message).toMatch(/invalid regular expression/);
  });
});
