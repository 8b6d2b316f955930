/**
 * Fold host names into a compact set like clush/ClusterShell's nodeset: `web001, web002, web003,
 * web005, db1` → `db1,web[001-003,005]`. The last run of digits in a name is the index; names
 * that share prefix, suffix and digit width fold together. Zero padding is kept.
 */
interface Parsed {
  prefix: string;
  num: number;
  width: number;
  /** Has a leading zero, so its width is fixed. */
  padded: boolean;
  suffix: string;
}

function parse(name: string): Parsed | undefined {
  const m = /^(.*?)(\d+)(\D*)$/.exec(name);
  if (!m || m[2]!.length > 15) return undefined;
  return { prefix: m[1]!, num: Number(m[2]), width: m[2]!.length, padded: m[2]!.length > 1 && m[2]!.startsWith('0'), suffix: m[3]! };
}

function ranges(nums: number[], width: number): string[] {
  const pad = (n: number): string => String(n).padStart(width, '0');
  const out: string[] = [];
  let start = nums[0]!;
  let prev = start;
  for (const n of [...nums.slice(1), Number.NaN]) {
    if (n === prev + 1) {
      prev = n;
      continue;
    }
    out.push(start === prev ? pad(start) : `${pad(start)}-${pad(prev)}`);
    start = prev = n;
  }
  return out;
}

export function foldHosts(names: readonly string[]): string {
  const plain = new Set<string>();
  const families = new Map<string, { prefix: string; suffix: string; items: Parsed[] }>();
  for (const name of names) {
    const p = parse(name);
    if (!p) {
      plain.add(name);
      continue;
    }
    const key = JSON.stringify([p.prefix, p.suffix]);
    const f = families.get(key) ?? { prefix: p.prefix, suffix: p.suffix, items: [] };
    f.items.push(p);
    families.set(key, f);
  }
  const parts: string[] = [...plain];
  for (const f of families.values()) {
    for (const [width, nums] of byWidth(f.items)) {
      const sorted = [...new Set(nums)].sort((x, y) => x - y);
      const r = ranges(sorted, width);
      parts.push(sorted.length === 1 ? `${f.prefix}${r[0]}${f.suffix}` : `${f.prefix}[${r.join(',')}]${f.suffix}`);
    }
  }
  return parts.sort(naturalCompare).join(',');
}

/**
 * Split one prefix/suffix family into sets that can share a padding width: web001…web500 is one
 * set of width 3 (web100 needs no zero to be 3 wide); node9, node10 one set without padding.
 */
function byWidth(items: Parsed[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  const add = (w: number, n: number): void => {
    const list = out.get(w);
    if (list) list.push(n);
    else out.set(w, [n]);
  };
  const padWidths = new Set(items.filter((i) => i.padded).map((i) => i.width));
  const w = padWidths.size === 1 ? [...padWidths][0]! : 0;
  for (const i of items) {
    if (i.padded) add(i.width, i.num);
    else if (w > 0 && i.width >= w) add(w, i.num);
    else add(0, i.num);
  }
  return out;
}

/** Natural order: `web2` before `web10`. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b);
}
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });
