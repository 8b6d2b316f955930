/**
 * The Prometheus exposition formats, written by hand: text format 0.0.4 (what node_exporter's
 * textfile collector and every scraper read) and OpenMetrics 1.0.0 (what Prometheus asks for
 * first in its Accept header). Pure: families in, text out.
 *
 * Why not prom-client: it is a registry of live, process-global metric objects with collect()
 * callbacks and default process metrics; a sweep's result is a snapshot of values computed once,
 * written to a file or served unchanged until the next sweep. The format itself is a page of
 * code; the rules that matter (escaping, `_total`, units, `# EOF`) are tested here.
 */

export type MetricType = 'gauge' | 'counter';

export interface Sample {
  /** Label name -> value; names are checked, values escaped when rendered. */
  labels: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricFamily {
  /** The sample name as queried: counters end in `_total` (OpenMetrics drops it on TYPE lines). */
  name: string;
  help: string;
  type: MetricType;
  /** Base unit, also the name's suffix (before `_total`): OpenMetrics' UNIT line. */
  unit?: 'seconds';
  samples: Sample[];
}

export type ExpositionFormat = 'text' | 'openmetrics';

export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * A family, checked against the naming rules so a typo in a name fails the unit tests instead
 * of every scrape: valid characters, `_total` exactly on counters, the unit as the suffix.
 */
export function family(f: MetricFamily): MetricFamily {
  if (!METRIC_NAME.test(f.name)) throw new Error(`invalid metric name '${f.name}'`);
  const base = f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name;
  if (f.type === 'counter' && base === f.name) throw new Error(`counter '${f.name}' must end in _total`);
  if (f.type !== 'counter' && f.name.endsWith('_total')) throw new Error(`only counters end in _total: '${f.name}'`);
  if (f.unit && !base.endsWith(`_${f.unit}`)) throw new Error(`'${f.name}': the unit '${f.unit}' must be the name's suffix`);
  for (const s of f.samples) {
    for (const k of Object.keys(s.labels)) {
      if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new Error(`'${f.name}': invalid label name '${k}'`);
    }
    if (f.type === 'counter' && !(s.value >= 0)) throw new Error(`'${f.name}': a counter is never negative or NaN (${s.value})`);
  }
  return f;
}

/** Label values: backslash, double quote and line feed are escaped (both formats). */
export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text: 0.0.4 escapes backslash and line feed; OpenMetrics also the double quote. */
export function escapeHelp(v: string, format: ExpositionFormat): string {
  const special = format === 'openmetrics' ? /[\\"\n]/g : /[\\\n]/g;
  return v.replace(special, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** Go's ParseFloat reads JavaScript's shortest round-trip form; only the specials differ. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/**
 * Render families. No timestamps: the textfile collector rejects them, and a scrape's time is
 * the right one for a served snapshot. In OpenMetrics a counter family is named without
 * `_total` (its sample keeps it), units get a UNIT line, and the exposition ends with `# EOF`.
 */
export function render(families: readonly MetricFamily[], format: ExpositionFormat): string {
  const out: string[] = [];
  for (const f of families) {
    const meta = format === 'openmetrics' && f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name;
    out.push(`# HELP ${meta} ${escapeHelp(f.help, format)}`);
    out.push(`# TYPE ${meta} ${f.type}`);
    if (format === 'openmetrics' && f.unit) out.push(`# UNIT ${meta} ${f.unit}`);
    for (const s of f.samples) out.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
  if (format === 'openmetrics') out.push('# EOF');
  return out.length ? `${out.join('\n')}\n` : '';
}

/**
 * Content negotiation on the Accept header: OpenMetrics when the client ranks
 * `application/openmetrics-text` (version 1.0.0 or Prometheus' older 0.0.1 alias) at least as
 * high as text/plain, otherwise text 0.0.4, which every scraper reads.
 */
export function negotiate(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'text';
  let om = 0;
  let text = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim());
    const p = new Map(params.map((x) => { const i = x.indexOf('='); return [x.slice(0, i).trim().toLowerCase(), x.slice(i + 1).trim().replace(/^"|"$/g, '')] as const; }));
    const qRaw = p.get('q');
    const q = qRaw === undefined ? 1 : Number(qRaw);
    if (!Number.isFinite(q)) continue;
    const t = type.toLowerCase();
    if (t === 'application/openmetrics-text') {
      const v = p.get('version');
      if (v === undefined || v === '1.0.0' || v === '0.0.1') om = Math.max(om, q);
    } else if (t === 'text/plain' || t === 'text/*' || t === '*/*') {
      text = Math.max(text, q);
    }
  }
  return om > 0 && om >= text ? 'openmetrics' : 'text';
}
